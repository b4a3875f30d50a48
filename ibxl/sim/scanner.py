"""Market scanners over the simulated market: rank the universe's stocks and ETFs by IB's scan
codes, honouring the subscription's filters. No protocol code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .errors import SimError
from .instruments import Instrument
from .market import Market
from .universe import Universe

MAX_ROWS = 50

#: scan code -> (display name, sort key over a row of figures, descending?)
SCAN_CODES: dict[str, tuple[str, Callable[[dict], float], bool]] = {
    "TOP_PERC_GAIN": ("Top % Gainers", lambda r: r["change_pct"], True),
    "TOP_PERC_LOSE": ("Top % Losers", lambda r: r["change_pct"], False),
    "MOST_ACTIVE": ("Most Active", lambda r: r["volume"], True),
    "HOT_BY_VOLUME": ("Hot Contracts by Volume", lambda r: r["volume"] / max(r["avg_volume"], 1), True),
    "HOT_BY_PRICE": ("Hot Contracts by Price", lambda r: abs(r["change_pct"]), True),
    "TOP_TRADE_COUNT": ("Top Trade Count", lambda r: r["volume"] / 250.0, True),
    "HIGH_OPT_IMP_VOLAT": ("Highest Option Implied Vol", lambda r: r["iv"], True),
    "LOW_OPT_IMP_VOLAT": ("Lowest Option Implied Vol", lambda r: r["iv"], False),
    "TOP_OPEN_PERC_GAIN": ("Top % Gainers Since Open", lambda r: r["open_change_pct"], True),
    "HIGH_VS_13W_HL": ("13-Week High", lambda r: r["vs_13w"], True),
    "LOW_VS_13W_HL": ("13-Week Low", lambda r: r["vs_13w"], False),
    "OPT_VOLUME_MOST_ACTIVE": ("Most Active by Opt Volume", lambda r: r["opt_volume"], True),
    "TOP_PRICE_RANGE": ("Top Price Range", lambda r: (r["high"] - r["low"]) / max(r["last"], 1e-9), True),
    "MOST_ACTIVE_USD": ("Most Active ($)", lambda r: r["volume"] * r["last"], True),
}
INSTRUMENTS = (("STK", "US Stocks"), ("ETF.EQ.US", "US Equity ETFs"))
LOCATIONS = (("STK.US.MAJOR", "US Major"), ("STK.US", "US Stocks"), ("STK.NASDAQ", "NASDAQ"), ("STK.NYSE", "NYSE"),
             ("STK.ARCA", "NYSE Arca"))
#: filter tag -> (row field, comparison)
FILTERS: dict[str, tuple[str, str]] = {
    "priceAbove": ("last", ">"), "priceBelow": ("last", "<"), "volumeAbove": ("volume", ">"),
    "volumeBelow": ("volume", "<"), "changePercAbove": ("change_pct", ">"), "changePercBelow": ("change_pct", "<"),
    "marketCapAbove1e6": ("mcap_m", ">"), "marketCapBelow1e6": ("mcap_m", "<"), "avgVolumeAbove": ("avg_volume", ">"),
    "impVolatAbove": ("iv_pct", ">"), "impVolatBelow": ("iv_pct", "<"), "optVolumeAbove": ("opt_volume", ">"),
}


@dataclass
class ScanRequest:
    """What a scanner subscription asks for."""

    scan_code: str
    instrument: str = "STK"
    location: str = "STK.US.MAJOR"
    rows: int = MAX_ROWS
    above_price: float | None = None
    below_price: float | None = None
    above_volume: float | None = None
    market_cap_above: float | None = None
    market_cap_below: float | None = None
    filters: dict[str, str] | None = None


class Scanner:
    """Ranks contracts for a scan request from the market's current figures."""

    def __init__(self, market: Market, universe: Universe) -> None:
        self.market = market
        self.universe = universe

    def validate(self, req: ScanRequest) -> None:
        """Refuse what TWS refuses: unknown scan codes, instruments, locations or filters."""
        if req.scan_code not in SCAN_CODES:
            raise SimError(162, f"Scanner: unknown scan code "
                                f"{req.scan_code!r}; see reqScannerParameters for the list")
        if req.instrument not in dict(INSTRUMENTS):
            raise SimError(162, f"Scanner: unknown instrument "
                                f"{req.instrument!r}; use one of {', '.join(dict(INSTRUMENTS))}")
        if req.location not in dict(LOCATIONS):
            raise SimError(162, f"Scanner: unknown location "
                                f"{req.location!r}; use one of {', '.join(dict(LOCATIONS))}")
        for tag in (req.filters or {}):
            if tag not in FILTERS:
                raise SimError(162, f"Scanner: unknown filter "
                                    f"{tag!r}; use one of {', '.join(FILTERS)}")

    def figures(self, inst: Instrument, now: float) -> dict:
        """The numbers every scan code ranks by."""
        q = self.market.quote(inst, now)
        from .feed import extended_stats

        ext = extended_stats(self.market, inst, now)
        last = q.last or q.mid
        rng = ext["high_13w"] - ext["low_13w"]
        return {"last": last, "volume": q.volume, "avg_volume": inst.avgVolume, "high": q.high, "low": q.low,
                "change_pct": (last - q.close) / q.close * 100 if q.close else 0.0,
                "open_change_pct": (last - q.open) / q.open * 100 if q.open else 0.0,
                "iv": ext["implied_vol"] * (1 + ext["hist_vol"]) / 2, "iv_pct": ext["implied_vol"] * 100,
                "vs_13w": (last - ext["low_13w"]) / rng if rng > 0 else 0.5,
                "opt_volume": inst.avgVolume * 0.02 * (1 + abs(last - q.close) / max(q.close, 1e-9) * 20)
                if inst.optionable else 0.0,
                "mcap_m": inst.marketCap / 1e6}

    def scan(self, req: ScanRequest, now: float) -> list[tuple[Instrument, dict]]:
        """Ranked (instrument, figures) rows, best first."""
        self.validate(req)
        name, key, descending = SCAN_CODES[req.scan_code]
        rows = []
        for inst in self.universe.underlyings():
            if inst.secType != "STK":
                continue
            if req.instrument == "ETF.EQ.US" and inst.stockType != "ETF":
                continue
            loc = req.location.split(".", 1)[1] if "." in req.location else ""
            if loc in ("NASDAQ", "NYSE", "ARCA") and inst.primaryExchange != loc:
                continue
            if req.scan_code == "OPT_VOLUME_MOST_ACTIVE" and not inst.optionable:
                continue
            fig = self.figures(inst, now)
            if not _passes(fig, req):
                continue
            rows.append((inst, fig))
        rows.sort(key=lambda r: key(r[1]), reverse=descending)
        return rows[: max(1, min(req.rows or MAX_ROWS, MAX_ROWS))]

    def parameters_xml(self) -> str:
        """An XML document shaped like TWS's scanner parameters."""
        parts = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<ScanParameterResponse>", "<InstrumentList>"]
        for code, name in INSTRUMENTS:
            parts.append(f"<Instrument><name>{escape(name)}</name><type>{code}</type>"
                         f"<filters>{','.join(FILTERS)}</filters></Instrument>")
        parts += ["</InstrumentList>", "<LocationTree>", "<Location><displayName>US Stocks</displayName>"
                  "<locationCode>STK.US</locationCode><instruments>STK</instruments><LocationTree>"]
        for code, name in LOCATIONS:
            parts.append(f"<Location><displayName>{escape(name)}</displayName><locationCode>{code}</locationCode>"
                         f"<instruments>STK</instruments></Location>")
        parts += ["</LocationTree></Location>", "</LocationTree>", "<ScanTypeList>"]
        for code, (name, _, _) in SCAN_CODES.items():
            parts.append(f"<ScanType><displayName>{escape(name)}</displayName><scanCode>{code}</scanCode>"
                         f"<instruments>STK,ETF.EQ.US</instruments><absoluteColumns>false</absoluteColumns>"
                         f"</ScanType>")
        parts += ["</ScanTypeList>", "<FilterList>"]
        for tag, (field, _op) in FILTERS.items():
            parts.append(f"<RangeFilter><id>{tag}</id><category>Price &amp; Volume</category>"
                         f"<AbstractField><code>{tag}</code><displayName>{escape(tag)}</displayName>"
                         f"<type>{'double' if field != 'volume' else 'int'}</type></AbstractField></RangeFilter>")
        parts += ["</FilterList>", "</ScanParameterResponse>"]
        return "".join(parts)


def _passes(fig: dict, req: ScanRequest) -> bool:
    checks = [(req.above_price, "last", ">"), (req.below_price, "last", "<"), (req.above_volume, "volume", ">"),
              (req.market_cap_above, "mcap_m", ">"), (req.market_cap_below, "mcap_m", "<")]
    for tag, raw in (req.filters or {}).items():
        field, op = FILTERS[tag]
        try:
            checks.append((float(raw), field, op))
        except ValueError:
            raise SimError(162, f"Scanner: filter {tag}={raw!r} "
                                "is not a number") from None
    for limit, field, op in checks:
        if limit is None:
            continue
        value = fig[field]
        if (op == ">" and not value > limit) or (op == "<" and not value < limit):
            return False
    return True


def attach(gateway) -> None:  # noqa: ANN001 - the Gateway
    """Give a gateway its scanner."""
    gateway.models["scanner"] = Scanner(gateway.market, gateway.universe)
