"""Market scanners over the simulated market: rank the universe's stocks and ETFs by IB's scan
codes, honour the subscription's filters, keep subscriptions refreshing. No protocol code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SimError
from .instruments import Instrument
from .market import Market
from .market_data import extended_stats
from .universe import Universe

if TYPE_CHECKING:
    from ..clock import Clock
    from ..pulse import Pulse

#: TWS sends at most 50 rows per scanner
MAX_ROWS = 50
#: TWS allows 10 scanner subscriptions per client at once
MAX_SUBSCRIPTIONS = 10
#: seconds between refreshed scanner rows (TWS refreshes roughly every few seconds)
REFRESH_SECONDS = 3.0
#: scanner errors reach the client as TWS's code 162 ("Historical Market Data Service error message:")
SCANNER_ERROR = 162

Figures = dict[str, float]


@dataclass(frozen=True)
class ScanCode:
    """One scan code: how TWS names it and how it orders rows."""

    display_name: str
    key: Callable[[Figures], float]
    descending: bool
    needs_options: bool = False


def _trades(f: Figures) -> float:
    """Estimated trade count: cheap stocks trade in bigger clips, so fewer trades per share."""
    clip = min(max(20_000.0 / max(f["last"], 1e-9), 20.0), 500.0)
    return f["volume"] / clip


SCAN_CODES: dict[str, ScanCode] = {
    "TOP_PERC_GAIN": ScanCode("Top % Gainers", lambda f: f["change_pct"], True),
    "TOP_PERC_LOSE": ScanCode("Top % Losers", lambda f: f["change_pct"], False),
    "MOST_ACTIVE": ScanCode("Most Active", lambda f: f["volume"], True),
    "MOST_ACTIVE_USD": ScanCode("Most Active ($)", lambda f: f["volume"] * f["last"], True),
    "HOT_BY_VOLUME": ScanCode("Hot Contracts by Volume", lambda f: f["volume_ratio"], True),
    "HOT_BY_PRICE": ScanCode("Hot Contracts by Price", lambda f: abs(f["change_pct"]), True),
    "TOP_TRADE_COUNT": ScanCode("Top Trade Count", lambda f: f["trade_count"], True),
    "TOP_PRICE_RANGE": ScanCode("Top Price Range", lambda f: f["range_pct"], True),
    "HIGH_OPT_IMP_VOLAT": ScanCode("Highest Option Imp Vol", lambda f: f["iv"], True, True),
    "LOW_OPT_IMP_VOLAT": ScanCode("Lowest Option Imp Vol", lambda f: f["iv"], False, True),
    "TOP_OPEN_PERC_GAIN": ScanCode("Top % Gainers Since Open", lambda f: f["open_change_pct"], True),
    "TOP_OPEN_PERC_LOSE": ScanCode("Top % Losers Since Open", lambda f: f["open_change_pct"], False),
    "HIGH_VS_13W_HL": ScanCode("13-Week High", lambda f: f["vs_13w"], True),
    "LOW_VS_13W_HL": ScanCode("13-Week Low", lambda f: f["vs_13w"], False),
    "OPT_VOLUME_MOST_ACTIVE": ScanCode("Most Active by Opt Volume", lambda f: f["opt_volume"], True, True),
}

#: instrument code -> display name
INSTRUMENTS: dict[str, str] = {"STK": "US Stocks", "ETF.EQ.US": "US Equity ETFs"}
#: location code -> (display name, primary exchange it keeps, or "" for all)
LOCATIONS: dict[str, tuple[str, str]] = {
    "STK.US": ("US Stocks", ""), "STK.US.MAJOR": ("US Major Exchanges", ""), "STK.NASDAQ": ("NASDAQ", "NASDAQ"),
    "STK.NYSE": ("NYSE", "NYSE"), "STK.ARCA": ("NYSE Arca", "ARCA"), "STK.AMEX": ("NYSE American", "AMEX"),
}


@dataclass(frozen=True)
class Filter:
    """A numeric filter tag: the figure it limits, the direction and its filter group in the XML."""

    figure: str
    above: bool
    group: str
    label: str
    scale: float = 1.0  # what one unit of the tag is in the figure's units


#: filter tag (scannerSubscriptionFilterOptions) -> what it limits
FILTERS: dict[str, Filter] = {
    "priceAbove": Filter("last", True, "PRICE", "Price Above"),
    "priceBelow": Filter("last", False, "PRICE", "Price Below"),
    "volumeAbove": Filter("volume", True, "VOLUME", "Volume Above"),
    "volumeBelow": Filter("volume", False, "VOLUME", "Volume Below"),
    "avgVolumeAbove": Filter("avg_volume", True, "AVGVOLUME", "Average Volume Above"),
    "avgVolumeBelow": Filter("avg_volume", False, "AVGVOLUME", "Average Volume Below"),
    "changePercAbove": Filter("change_pct", True, "CHANGEPERC", "Change (%) Above"),
    "changePercBelow": Filter("change_pct", False, "CHANGEPERC", "Change (%) Below"),
    "changeOpenPercAbove": Filter("open_change_pct", True, "CHANGEOPENPERC", "Change Since Open (%) Above"),
    "changeOpenPercBelow": Filter("open_change_pct", False, "CHANGEOPENPERC", "Change Since Open (%) Below"),
    "marketCapAbove1e6": Filter("mcap_m", True, "MKTCAP", "Market Cap (USD millions) Above"),
    "marketCapBelow1e6": Filter("mcap_m", False, "MKTCAP", "Market Cap (USD millions) Below"),
    "impVolatAbove": Filter("iv_pct", True, "IMPVOLAT", "Option Implied Vol (%) Above"),
    "impVolatBelow": Filter("iv_pct", False, "IMPVOLAT", "Option Implied Vol (%) Below"),
    "optVolumeAbove": Filter("opt_volume", True, "OPTVOLUME", "Option Volume Above"),
    "optVolumeBelow": Filter("opt_volume", False, "OPTVOLUME", "Option Volume Below"),
}
#: choice filter tag -> {value: stock types it keeps (empty = all)}
STOCK_TYPES: dict[str, frozenset[str]] = {"ALL": frozenset(), "CORP": frozenset({"COMMON", ""}),
                                          "ETF": frozenset({"ETF"})}
CHOICE_FILTERS = {"stkTypes": STOCK_TYPES}


@dataclass
class ScanRequest:
    """What a scanner subscription asks for (the subscription fields that the simulation honours)."""

    scan_code: str
    instrument: str = "STK"
    location: str = "STK.US.MAJOR"
    rows: int = MAX_ROWS
    above_price: float | None = None
    below_price: float | None = None
    above_volume: float | None = None
    #: market capitalisation limits in USD millions, like the filter tags marketCapAbove1e6/Below1e6
    market_cap_above: float | None = None
    market_cap_below: float | None = None
    filters: dict[str, str] = field(default_factory=dict)


@dataclass
class _Subscription:
    owner: Hashable
    req_id: int
    req: ScanRequest
    on_rows: Callable[[list[tuple[Instrument, Figures]]], None]
    last: float
    limits: list[tuple[str, bool, float]]


class Scanner:
    """Ranks contracts for scan requests from the market's current figures and keeps
    subscriptions refreshed on the gateway's pulse."""

    def __init__(self, market: Market, universe: Universe, clock: Clock | None = None,
                 pulse: Pulse | None = None) -> None:
        self.market = market
        self.universe = universe
        self.clock = clock
        self.pulse = pulse
        self.refresh_seconds = REFRESH_SECONDS
        self._subs: dict[tuple[Hashable, int], _Subscription] = {}
        self._pulse_handle: int | None = None

    # ------------------------------------------------------------ validation
    def validate(self, req: ScanRequest) -> list[tuple[str, bool, float]]:
        """Refuse what TWS refuses (unknown scan codes, instruments, locations, filters, non-numeric
        filter values); returns the request's numeric limits as (figure, above?, limit)."""
        if req.scan_code not in SCAN_CODES:
            raise SimError(SCANNER_ERROR, f"Scanner type with code {req.scan_code!r} is not defined; use one of "
                                          f"{', '.join(SCAN_CODES)} (reqScannerParameters lists them)")
        if req.instrument not in INSTRUMENTS:
            raise SimError(SCANNER_ERROR, f"Scanner instrument {req.instrument!r} is not supported; use one of "
                                          f"{', '.join(INSTRUMENTS)}")
        if req.location not in LOCATIONS:
            raise SimError(SCANNER_ERROR, f"Scanner location {req.location!r} is not supported; use one of "
                                          f"{', '.join(LOCATIONS)}")
        limits: list[tuple[str, bool, float]] = []
        for limit, figure, above in ((req.above_price, "last", True), (req.below_price, "last", False),
                                     (req.above_volume, "volume", True), (req.market_cap_above, "mcap_m", True),
                                     (req.market_cap_below, "mcap_m", False)):
            if limit is not None:
                limits.append((figure, above, float(limit)))
        for tag, raw in req.filters.items():
            if tag in CHOICE_FILTERS:
                if str(raw).upper() not in CHOICE_FILTERS[tag]:
                    raise SimError(SCANNER_ERROR, f"Scanner filter {tag}={raw!r} is not supported; use one of "
                                                  f"{', '.join(CHOICE_FILTERS[tag])}")
                continue
            spec = FILTERS.get(tag)
            if spec is None:
                raise SimError(SCANNER_ERROR, f"Scanner filter {tag!r} is not supported; use one of "
                                              f"{', '.join([*FILTERS, *CHOICE_FILTERS])}")
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise SimError(SCANNER_ERROR, f"Scanner filter {tag}={raw!r} is not a number; "
                                              f"give it a number such as {tag}=10") from None
            limits.append((spec.figure, spec.above, value * spec.scale))
        return limits

    # ------------------------------------------------------------ ranking
    def figures(self, inst: Instrument, now: float) -> Figures:
        """The numbers every scan code ranks by and every filter limits, at one moment."""
        q = self.market.quote(inst, now)
        ext = extended_stats(self.market, inst, now)
        last = q.last or q.mid
        rng_13w = ext["high_13w"] - ext["low_13w"]
        change_pct = (last - q.close) / q.close * 100 if q.close else 0.0
        # implied vol rises with realised vol and with the size of today's move
        iv = ext["implied_vol"] * 0.6 + ext["hist_vol"] * 0.4 + abs(change_pct) / 100
        fig: Figures = {
            "last": last, "volume": q.volume, "avg_volume": float(inst.avgVolume),
            "volume_ratio": q.volume / max(inst.avgVolume, 1.0), "high": q.high, "low": q.low,
            "change_pct": change_pct,
            "open_change_pct": (last - q.open) / q.open * 100 if q.open else 0.0,
            "range_pct": (q.high - q.low) / last * 100 if last else 0.0,
            "iv": iv if inst.optionable else 0.0, "iv_pct": iv * 100 if inst.optionable else 0.0,
            "vs_13w": (last - ext["low_13w"]) / rng_13w if rng_13w > 0 else 0.5,
            "opt_volume": (inst.avgVolume * 0.02 * (1 + abs(change_pct) / 5)) if inst.optionable else 0.0,
            "mcap_m": inst.marketCap / 1e6,
        }
        fig["trade_count"] = _trades(fig)
        return fig

    def candidates(self, req: ScanRequest) -> list[Instrument]:
        """The instruments a request's instrument type and location cover."""
        keep_exchange = LOCATIONS[req.location][1]
        stock_types = STOCK_TYPES.get(str(req.filters.get("stkTypes", "ALL")).upper(), frozenset())
        out = []
        for inst in self.universe.underlyings():
            if inst.secType != "STK":
                continue
            if req.instrument == "ETF.EQ.US" and inst.stockType != "ETF":
                continue
            if keep_exchange and inst.primaryExchange != keep_exchange:
                continue
            if stock_types and inst.stockType not in stock_types:
                continue
            if SCAN_CODES[req.scan_code].needs_options and not inst.optionable:
                continue
            out.append(inst)
        return out

    def scan(self, req: ScanRequest, now: float, limits: list[tuple[str, bool, float]] | None = None,
             cache: dict[int, Figures] | None = None) -> list[tuple[Instrument, Figures]]:
        """Ranked (instrument, figures) rows, best first, at most ``req.rows`` (1..50) of them.
        ``cache`` shares figures between scans of the same moment."""
        if limits is None:
            limits = self.validate(req)
        code = SCAN_CODES[req.scan_code]
        rows = []
        for inst in self.candidates(req):
            fig = cache.get(inst.conId) if cache is not None else None
            if fig is None:
                fig = self.figures(inst, now)
                if cache is not None:
                    cache[inst.conId] = fig
            if all(fig[f] > v if above else fig[f] < v for f, above, v in limits):
                rows.append((inst, fig))
        # ties (e.g. equal volume) fall back to the symbol so the order is stable between refreshes
        rows.sort(key=lambda r: r[0].symbol)
        rows.sort(key=lambda r: code.key(r[1]), reverse=code.descending)
        return rows[: clamp_rows(req.rows)]

    # ------------------------------------------------------------ subscriptions
    def subscribe(self, owner: Hashable, req_id: int, req: ScanRequest,
                  on_rows: Callable[[list[tuple[Instrument, Figures]]], None]) -> Callable[[], object]:
        """Start a subscription: ``on_rows`` gets the ranked rows now and again every
        :attr:`refresh_seconds` until the returned function is called. ``owner`` is the client
        (at most :data:`MAX_SUBSCRIPTIONS` each)."""
        limits = self.validate(req)
        mine = [k for k in self._subs if k[0] == owner and k[1] != req_id]
        if len(mine) >= MAX_SUBSCRIPTIONS:
            raise SimError(SCANNER_ERROR, f"Maximum number of scanner subscriptions ({MAX_SUBSCRIPTIONS}) "
                                          "reached; cancel one with cancelScannerSubscription first")
        now = self._now()
        sub = _Subscription(owner, req_id, req, on_rows, now, limits)
        self._subs[(owner, req_id)] = sub
        on_rows(self.scan(req, now, limits))
        self._ensure_pulse()
        # stopping only ever ends this subscription, not a later one that reused its reqId
        return lambda: self.unsubscribe(owner, req_id, sub)

    def unsubscribe(self, owner: Hashable, req_id: int, only: object = None) -> bool:
        """Stop one subscription (when ``only`` is given, just if it is still that one); False when
        there was none."""
        key = (owner, req_id)
        if key not in self._subs or (only is not None and self._subs[key] is not only):
            return False
        del self._subs[key]
        if not self._subs and self._pulse_handle is not None and self.pulse is not None:
            self.pulse.remove(self._pulse_handle)
            self._pulse_handle = None
        return True

    def subscription_count(self, owner: Hashable) -> int:
        """How many scanner subscriptions a client holds."""
        return sum(1 for k in self._subs if k[0] == owner)

    def session_closed(self, session: Hashable) -> None:
        """Drop a departed client's subscriptions."""
        for key in [k for k in self._subs if k[0] is session]:
            self.unsubscribe(*key)

    def refresh(self, now: float) -> None:
        """Send fresh rows to every subscription whose refresh is due (called by the pulse)."""
        cache: dict[int, Figures] = {}  # every subscription due now ranks the same figures
        for sub in list(self._subs.values()):
            if now - sub.last >= self.refresh_seconds:
                sub.last = now
                sub.on_rows(self.scan(sub.req, now, sub.limits, cache))

    def _now(self) -> float:
        return self.clock.time() if self.clock is not None else self.market.clock.time()

    def _ensure_pulse(self) -> None:
        if self._pulse_handle is None and self.pulse is not None:
            self._pulse_handle = self.pulse.add(self.refresh)

    # ------------------------------------------------------------ parameters
    def parameters_xml(self) -> str:
        """An XML document shaped like TWS's reqScannerParameters answer (ScanParameterResponse with
        InstrumentList, LocationTree, ScanTypeList and FilterList), covering what this scanner supports."""
        root = ET.Element("ScanParameterResponse")
        groups = list(dict.fromkeys(f.group for f in FILTERS.values()))
        inst_list = ET.SubElement(root, "InstrumentList", varName="instrumentList")
        for code, name in INSTRUMENTS.items():
            el = ET.SubElement(inst_list, "Instrument")
            _text(el, "name", name)
            _text(el, "type", code)
            _text(el, "filters", ",".join(groups))
            _text(el, "group", "STK.GLOBAL")
            _text(el, "shortName", name)
        tree = ET.SubElement(root, "LocationTree", varName="locationTree")
        top = ET.SubElement(tree, "Location")
        _text(top, "displayName", "US Stocks")
        _text(top, "access", "unrestricted")
        _text(top, "locationCode", "STK.US")
        _text(top, "instruments", ",".join(INSTRUMENTS))
        _text(top, "routeExchange", "SMART")
        _text(top, "delayedOnly", "false")
        sub_tree = ET.SubElement(top, "LocationTree", varName="locationTree")
        for code, (name, _exchange) in LOCATIONS.items():
            if code == "STK.US":
                continue
            loc = ET.SubElement(sub_tree, "Location")
            _text(loc, "displayName", name)
            _text(loc, "access", "unrestricted")
            _text(loc, "locationCode", code)
            _text(loc, "instruments", ",".join(INSTRUMENTS))
            _text(loc, "routeExchange", "SMART")
            _text(loc, "delayedOnly", "false")
        scan_list = ET.SubElement(root, "ScanTypeList", varName="scanTypeList")
        for code, spec in SCAN_CODES.items():
            st = ET.SubElement(scan_list, "ScanType")
            _text(st, "displayName", spec.display_name)
            _text(st, "scanCode", code)
            _text(st, "instruments", ",".join(INSTRUMENTS))
            _text(st, "absoluteColumns", "false")
            _text(st, "supportsSorting", "true")
            _text(st, "respSizeLimit", str(MAX_ROWS))
            _text(st, "snapshotSizeLimit", str(MAX_ROWS))
            _text(st, "searchDefault", "false")
            _text(st, "access", "unrestricted")
        filter_list = ET.SubElement(root, "FilterList", varName="filterList")
        for group in groups:
            rf = ET.SubElement(filter_list, "RangeFilter")
            _text(rf, "id", group)
            _text(rf, "category", "Price & Volume" if group in ("PRICE", "VOLUME", "AVGVOLUME") else "Fundamentals")
            _text(rf, "histogram", "false")
            _text(rf, "access", "unrestricted")
            for tag, flt in FILTERS.items():
                if flt.group != group:
                    continue
                af = ET.SubElement(rf, "AbstractField", type="DoubleField")
                _text(af, "code", tag)
                _text(af, "displayName", flt.label)
                _text(af, "abbrev", flt.label)
                _text(af, "acceptNegative", "true" if flt.figure.endswith("change_pct") else "false")
        # a SimpleFilter as TWS sends for choices; the choices carry <value> rather than TWS's <code> so
        # that every <code> in the document names a filter tag
        sf = ET.SubElement(filter_list, "SimpleFilter")
        _text(sf, "id", "STKTYPE")
        _text(sf, "category", "Fundamentals")
        _text(sf, "access", "unrestricted")
        af = ET.SubElement(sf, "AbstractField", type="ComboField")
        _text(af, "code", "stkTypes")
        _text(af, "displayName", "Stock Type")
        combo = ET.SubElement(af, "ComboValues")
        for code, name in (("ALL", "All"), ("CORP", "Common"), ("ETF", "ETF")):
            cv = ET.SubElement(combo, "ComboValue")
            _text(cv, "value", code)
            _text(cv, "displayName", name)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def clamp_rows(rows: int) -> int:
    """The row count TWS honours: 1..50, with anything unset or out of range meaning 50."""
    return rows if 0 < rows <= MAX_ROWS else MAX_ROWS


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el
