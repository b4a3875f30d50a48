"""The gateway's universe of contracts: a data file of real reference data, plus futures
and listed options generated relative to today.

Nothing here knows the wire format: handlers ask questions (by conId, by a partial
contract, by a search pattern) and get :class:`Instrument` rows back.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from importlib import resources

from .calendar import TradingCalendar, is_holiday
from .instruments import Instrument

STOCK_ORDER_TYPES = (
    "ACTIVETIM", "AD", "ADJUST", "ALERT", "ALGO", "ALLOC", "AVGCOST", "BASKET", "COND",
    "CONDORDER", "DAY", "DEACT", "DEACTDIS", "DEACTEOD", "GAT", "GTC", "GTD", "GTT", "HID",
    "IOC", "LIT", "LMT", "LOC", "MIT", "MKT", "MOC", "MTL", "NONALGO", "OCA", "OPG", "OPGREROUT",
    "POSTONLY", "PREOPGRTH", "REL", "RTH", "SCALE", "SNAPMID", "STP", "STPLMT", "TRAIL",
    "TRAILLIT", "TRAILLMT", "TRAILMIT", "WHATIF",
)
STOCK_EXCHANGES = ("SMART", "AMEX", "NYSE", "CBOE", "ARCA", "ISLAND", "BATS", "IEX", "NASDAQ", "EDGX", "BYX", "PSX")
OPTION_EXCHANGES = ("SMART", "AMEX", "CBOE", "PHLX", "PSE", "ISE", "BOX", "BATS", "NASDAQOM", "CBOE2", "MIAX",
                    "EMERALD", "EDGX", "GEMINI", "MERCURY", "PEARL")
MONTH_CODES = "FGHJKMNQUVXZ"

Spot = Callable[[Instrument], float]


@dataclass(frozen=True)
class ContractQuery:
    """The fields of a contract a client sent; blank fields match anything."""

    conId: int = 0
    symbol: str = ""
    secType: str = ""
    lastTradeDateOrContractMonth: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primaryExchange: str = ""
    currency: str = ""
    localSymbol: str = ""
    tradingClass: str = ""
    includeExpired: bool = False


@dataclass(frozen=True)
class OptionParams:
    """One answer row of reqSecDefOptParams."""

    exchange: str
    underlyingConId: int
    tradingClass: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def stable_conid(*parts: object) -> int:
    """A deterministic conId for a generated contract, clear of the real ids in the data file."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return 600_000_000 + int.from_bytes(digest, "big") % 1_400_000_000


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def occ_symbol(root: str, expiry: str, right: str, strike: float) -> str:
    """The OCC option symbol (21 chars): root padded to 6, yymmdd, C/P, strike x1000 in 8 digits."""
    return f"{root:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"


#: names TWS accepts for a primary exchange besides the one it reports (API release notes 10.27)
PRIMARY_ALIASES = {"ISLAND": "NASDAQ"}


def primary_exchange(name: str) -> str:
    """The primary exchange a request names, as contract details report it (ISLAND is NASDAQ)."""
    upper = name.strip().upper()
    return PRIMARY_ALIASES.get(upper, upper)


def _factor_fields(row: dict) -> dict:
    """The factor model's fields of a universe row (beta, sector, loading, model)."""
    return {"beta": float(row.get("beta", 0.0)), "sector": row.get("sector", ""),
            "sectorLoading": float(row.get("sectorLoading", 1.0)), "model": row.get("model", "")}


def strike_step(spot: float) -> float:
    """A listing increment typical for an underlying at this price."""
    for limit, step in ((5, 0.5), (25, 1.0), (200, 2.5), (500, 5.0), (2000, 10.0), (10000, 25.0)):
        if spot < limit:
            return step
    return 50.0


class Universe:
    """All contracts the gateway knows, indexed for the questions TWS answers."""

    def __init__(self, today: date, calendar: TradingCalendar | None = None, data: dict | None = None) -> None:
        self.today = today
        self.calendar = calendar or TradingCalendar("always")
        raw = data if data is not None else json.loads(
            resources.files("ibxl.sim").joinpath("data/universe.json").read_text()
        )
        self.anchor_date = date.fromisoformat(raw.get("anchor_date", "2026-01-02"))
        self.market_rules: dict[int, list[tuple[float, float]]] = {
            int(k): [(float(a), float(b)) for a, b in v] for k, v in raw.get("marketRules", {}).items()
        }
        self._by_conid: dict[int, Instrument] = {}
        self._by_symbol: dict[str, list[Instrument]] = {}
        self._option_classes: dict[int, list[dict]] = {}  # underlying conId -> trading classes
        self._options_built: set[int] = set()
        #: factor model settings: the market index and sector volatilities (see ``factors.py``)
        self.factors: dict = raw.get("factors", {})
        #: price used to centre option strikes; the market sets it to its reference spot
        self.spot: Spot = lambda inst: inst.refPrice
        self._load(raw)

    # ------------------------------------------------------------------ loading
    def _add(self, inst: Instrument) -> Instrument:
        if inst.conId in self._by_conid:
            raise ValueError(f"duplicate conId {inst.conId} for {inst.describe()}")
        self._by_conid[inst.conId] = inst
        self._by_symbol.setdefault(inst.symbol, []).append(inst)
        return inst

    def _load(self, raw: dict) -> None:
        pending: dict[int, tuple[str, float]] = {}  # ETFs that follow an index: conId -> (index, ratio)
        for row in raw.get("stocks", []):
            inst = self._add(Instrument(
                conId=int(row["conId"]), symbol=row["symbol"], secType="STK", exchange="SMART",
                currency=row.get("currency", "USD"), primaryExchange=row["primaryExchange"],
                localSymbol=row["symbol"],
                tradingClass=row.get("tradingClass",
                                     row["primaryExchange"] if row.get("stockType") != "ETF" else row["symbol"]),
                minTick=row.get("minTick", 0.01), longName=row["longName"],
                industry=row.get("industry", ""), category=row.get("category", ""),
                subcategory=row.get("subcategory", ""), stockType=row.get("stockType", "COMMON"),
                marketName=row.get("marketName", row["symbol"] if row.get("stockType") == "ETF" else "NMS"),
                marketRuleId=row.get("marketRuleId", 26), validExchanges=STOCK_EXCHANGES,
                orderTypes=STOCK_ORDER_TYPES, calendar="us_equity", timeZoneId="US/Eastern",
                refPrice=row["refPrice"], volatility=row.get("volatility", 0.3),
                avgVolume=row.get("avgVolume", 1e6), marketCap=row.get("marketCap", 0.0),
                optionable=row.get("optionable", False), **_factor_fields(row),
            ))
            if row.get("tracks"):
                pending[inst.conId] = (row["tracks"], float(row.get("ratio", 1.0)))
            if inst.optionable:
                self._option_classes[inst.conId] = [
                    {"tradingClass": inst.symbol, "multiplier": "100", "weeklies": row.get("weeklies", True),
                     "monthlies": True}
                ]
        for row in raw.get("indices", []):
            inst = self._add(Instrument(
                conId=int(row["conId"]), symbol=row["symbol"], secType="IND", exchange=row["exchange"],
                currency=row.get("currency", "USD"), localSymbol=row["symbol"], tradingClass=row["symbol"],
                minTick=row.get("minTick", 0.01), longName=row["longName"], marketName=row["symbol"],
                industry="Indices", category="Broad Range Equity Index", marketRuleId=row.get("marketRuleId", 62),
                validExchanges=(row["exchange"],), orderTypes=(), calendar="us_index",
                refPrice=row["refPrice"], volatility=row.get("volatility", 0.2), avgVolume=row.get("avgVolume", 1e6),
                optionable=row.get("optionable", False), **_factor_fields(row),
            ))
            if inst.optionable:
                classes = row.get("tradingClasses", [inst.symbol])
                self._option_classes[inst.conId] = [
                    {"tradingClass": tc, "multiplier": row.get("multiplier", "100"),
                     "weeklies": tc.endswith("W") or len(classes) == 1, "monthlies": not tc.endswith("W")}
                    for tc in classes
                ]
        for con_id, (symbol, ratio) in pending.items():
            index = next(i for i in self._by_symbol.get(symbol, []) if i.secType == "IND")
            etf = replace(self._by_conid[con_id], tracks=index.conId, trackRatio=ratio,
                          volatility=index.volatility)
            self._by_conid[con_id] = etf
            self._by_symbol[etf.symbol] = [etf if i.conId == con_id else i for i in self._by_symbol[etf.symbol]]
        for row in raw.get("forex", []):
            pair = f"{row['symbol']}.{row['currency']}"
            self._add(Instrument(
                conId=int(row["conId"]), symbol=row["symbol"], secType="CASH", exchange="IDEALPRO",
                currency=row["currency"], localSymbol=pair, tradingClass=pair, marketName=pair,
                minTick=row.get("minTick", 0.00005 if row["currency"] != "JPY" else 0.005),
                longName=f"{row['symbol']}/{row['currency']} forex", industry="Currencies",
                marketRuleId=239 if row["currency"] != "JPY" else 240,
                validExchanges=("IDEALPRO",),
                orderTypes=("LMT", "MKT", "STP", "STPLMT", "TRAIL", "IOC", "GTC", "DAY", "WHATIF"),
                calendar="fx", refPrice=row["refPrice"], volatility=row.get("volatility", 0.08), avgVolume=0,
            ))
        for row in raw.get("crypto", []):
            self._add(Instrument(
                conId=int(row["conId"]), symbol=row["symbol"], secType="CRYPTO", exchange=row["exchange"],
                currency=row.get("currency", "USD"), localSymbol=f"{row['symbol']}.USD",
                tradingClass=row["symbol"], marketName=row["symbol"], minTick=row.get("minTick", 0.01),
                longName=row["longName"], industry="Cryptocurrency",
                marketRuleId=300 if row["symbol"] == "BTC" else 301,
                validExchanges=(row["exchange"],), orderTypes=("LMT", "MKT", "IOC", "GTC", "DAY", "WHATIF"),
                calendar="crypto", refPrice=row["refPrice"], volatility=row.get("volatility", 0.6),
                avgVolume=row.get("avgVolume", 5000.0),
            ))
        for row in raw.get("futures", []):
            for inst in self._futures_for(row):
                self._add(inst)

    def _futures_for(self, row: dict) -> Iterable[Instrument]:
        tracks = 0
        ref, vol = row.get("refPrice", 100.0), row.get("volatility", 0.2)
        if row.get("tracks"):
            idx = next(i for i in self._by_symbol.get(row["tracks"], []) if i.secType == "IND")
            tracks, ref, vol = idx.conId, idx.refPrice, idx.volatility
        count = row.get("count", 4 if len(row["months"]) <= 6 else 6)
        made = 0
        year, month = self.today.year, self.today.month
        while made < count:
            code = MONTH_CODES[month - 1]
            if code in row["months"]:
                expiry = self._future_expiry(row["expiryRule"], year, month)
                if expiry >= self.today:
                    made += 1
                    yield Instrument(
                        conId=stable_conid("FUT", row["symbol"], row["exchange"], f"{year}{month:02d}"),
                        symbol=row["symbol"], secType="FUT", exchange=row["exchange"],
                        currency=row.get("currency", "USD"), localSymbol=f"{row['symbol']}{code}{year % 10}",
                        tradingClass=row["symbol"], multiplier=row["multiplier"],
                        lastTradeDateOrContractMonth=expiry.strftime("%Y%m%d"),
                        contractMonth=f"{year}{month:02d}", minTick=row["minTick"],
                        longName=row["longName"], marketName=row["symbol"], industry="Futures",
                        marketRuleId=row.get("marketRuleId", 67), validExchanges=(row["exchange"], "QBALGO"),
                        orderTypes=("LMT", "MKT", "STP", "STPLMT", "TRAIL", "MIT", "LIT", "IOC", "GTC", "DAY", "GTD",
                                    "OCA", "WHATIF"),
                        calendar="cme", timeZoneId="US/Central", underConId=tracks,
                        underSymbol=row["symbol"], underSecType="IND" if tracks else "",
                        refPrice=ref, volatility=vol, avgVolume=row.get("avgVolume", 1_500_000),
                        tracks=tracks,
                    )
            month += 1
            if month > 12:
                month, year = 1, year + 1

    def _future_expiry(self, rule: str, year: int, month: int) -> date:
        if rule == "third_friday":
            return self.calendar.next_business_day_on_or_before(third_friday(year, month))
        if rule == "energy":
            # three business days before the 25th of the month before the contract month
            prev = date(year, month, 1) - timedelta(days=1)
            d = date(prev.year, prev.month, 25)
            n = 0
            while n < 3:
                d -= timedelta(days=1)
                if d.weekday() < 5 and not is_holiday(d):
                    n += 1
            return d
        # "metal": the third-last business day of the contract month
        d = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
        n = 0
        while True:
            if d.weekday() < 5 and not is_holiday(d):
                n += 1
                if n == 3:
                    return d
            d -= timedelta(days=1)

    # ------------------------------------------------------------------ options
    def option_expiries(self, underlying: Instrument, cls: dict) -> list[date]:
        """Listed expiries for one trading class: weekly Fridays and/or monthly third Fridays."""
        out: set[date] = set()
        if cls.get("weeklies"):
            d = self.today + timedelta(days=(4 - self.today.weekday()) % 7)
            for _ in range(6):
                out.add(self.calendar.next_business_day_on_or_before(d))
                d += timedelta(days=7)
        if cls.get("monthlies"):
            y, m = self.today.year, self.today.month
            for _ in range(9):
                out.add(self.calendar.next_business_day_on_or_before(third_friday(y, m)))
                m += 1
                if m > 12:
                    m, y = 1, y + 1
        return sorted(d for d in out if d >= self.today)

    def option_strikes(self, underlying: Instrument) -> list[float]:
        """Strikes listed around the underlying's spot: +/-30% at a price-appropriate step."""
        spot = float(self.spot(underlying))
        step = strike_step(spot)
        lo = math.floor(spot * 0.7 / step) * step
        hi = math.ceil(spot * 1.3 / step) * step
        n = int(round((hi - lo) / step))
        return [round(lo + i * step, 4) for i in range(n + 1) if lo + i * step > 0]

    def _build_options(self, und: Instrument) -> None:
        if und.conId in self._options_built or und.conId not in self._option_classes:
            return
        self._options_built.add(und.conId)
        strikes = self.option_strikes(und)
        for cls in self._option_classes[und.conId]:
            tc = cls["tradingClass"]
            for exp in self.option_expiries(und, cls):
                expiry = exp.strftime("%Y%m%d")
                for strike in strikes:
                    for right in ("C", "P"):
                        self._add(Instrument(
                            conId=stable_conid("OPT", und.symbol, tc, expiry, strike, right),
                            symbol=und.symbol, secType="OPT", exchange="SMART", currency=und.currency,
                            localSymbol=occ_symbol(tc, expiry, right, strike), tradingClass=tc,
                            multiplier=cls["multiplier"], lastTradeDateOrContractMonth=expiry,
                            strike=strike, right=right, minTick=0.01, longName=und.longName,
                            marketName=tc, industry=und.industry, category=und.category,
                            subcategory=und.subcategory, marketRuleId=111 if und.secType == "IND" else 110,
                            validExchanges=OPTION_EXCHANGES if und.secType == "STK" else ("SMART", und.exchange),
                            orderTypes=("LMT", "MKT", "STP", "STPLMT", "TRAIL", "REL", "IOC", "GTC", "DAY", "GTD",
                                        "OCA", "COND", "WHATIF"),
                            calendar="us_option" if und.secType == "STK" else "us_index",
                            underConId=und.conId, underSymbol=und.symbol, underSecType=und.secType,
                            contractMonth=expiry[:6], refPrice=0.0, volatility=und.volatility,
                        ))

    def option_params(self, underlying: Instrument) -> list[OptionParams]:
        """What reqSecDefOptParams answers: one row per exchange and trading class."""
        if underlying.conId not in self._option_classes:
            return []
        strikes = tuple(self.option_strikes(underlying))
        rows = []
        # TWS lists SMART beside the exchanges (SPX: SMART/SPX, CBOE/SPXW, SMART/SPXW, CBOE/SPX)
        exchanges = OPTION_EXCHANGES if underlying.secType == "STK" else ("SMART", underlying.exchange)
        for cls in self._option_classes[underlying.conId]:
            exps = tuple(d.strftime("%Y%m%d") for d in self.option_expiries(underlying, cls))
            for exch in exchanges:
                rows.append(OptionParams(exch, underlying.conId, cls["tradingClass"], cls["multiplier"], exps, strikes))
        return rows

    # ------------------------------------------------------------------ lookups
    def get(self, conid: int) -> Instrument | None:
        """The instrument with this conId, generating option chains on demand."""
        inst = self._by_conid.get(conid)
        if inst is None and conid >= 600_000_000:
            for und_id in list(self._option_classes):
                self._build_options(self._by_conid[und_id])
                if conid in self._by_conid:
                    return self._by_conid[conid]
        return inst

    def underlyings(self) -> list[Instrument]:
        """Stocks, ETFs, indices, forex pairs and crypto (everything that is not a derivative)."""
        return [i for i in self._by_conid.values() if i.secType in ("STK", "IND", "CASH", "CRYPTO")]

    def all_listed(self) -> list[Instrument]:
        """Every instrument generated so far (options only for underlyings already asked about)."""
        return list(self._by_conid.values())

    def options_of(self, underlying: Instrument) -> list[Instrument]:
        """All listed options on an underlying."""
        self._build_options(underlying)
        return [i for i in self._by_symbol.get(underlying.symbol, [])
                if i.is_option and i.underConId == underlying.conId]

    def match(self, q: ContractQuery) -> list[Instrument]:
        """Every instrument a (partial) contract describes, as reqContractDetails answers."""
        if q.conId:
            inst = self.get(q.conId)
            if inst is None:
                return []
            if q.exchange and q.exchange != inst.exchange and q.exchange in inst.validExchanges:
                inst = replace(inst, exchange=q.exchange)
            return [inst]
        symbol = q.symbol.upper()
        sec = q.secType.upper()
        local = q.localSymbol.strip()
        if not symbol and local:
            symbol = self._symbol_from_local(local, sec)
        if not symbol:
            return []
        cands = self._by_symbol.get(symbol, [])
        if sec in ("OPT", "FOP", "") and any(i.conId in self._option_classes for i in cands):
            for und in [i for i in cands if i.conId in self._option_classes]:
                self._build_options(und)
            cands = self._by_symbol.get(symbol, [])
        out: list[Instrument] = []
        for inst in cands:
            if sec and inst.secType != sec:
                continue
            if not sec and inst.is_option:
                continue  # a bare symbol means the underlying, not its thousands of options
            if q.currency and inst.currency != q.currency.upper():
                continue
            if local and inst.localSymbol.replace(" ", "") != local.replace(" ", "") and inst.localSymbol != local:
                continue
            if q.tradingClass and inst.tradingClass != q.tradingClass:
                continue
            if q.multiplier and inst.multiplier and float(q.multiplier) != inst.multiplier_value:
                continue
            if q.lastTradeDateOrContractMonth:
                want = q.lastTradeDateOrContractMonth.replace("-", "")[:8]
                have = inst.lastTradeDateOrContractMonth
                if not (have == want or (len(want) == 6 and (have.startswith(want) or inst.contractMonth == want))):
                    continue
            if q.strike and abs(inst.strike - q.strike) > 1e-6:
                continue
            if q.right and inst.right != q.right.upper()[:1]:
                continue
            if (q.primaryExchange and inst.secType == "STK"
                    and inst.primaryExchange != primary_exchange(q.primaryExchange)):
                continue
            exch = q.exchange.upper()
            if exch:
                if exch == inst.exchange:
                    out.append(inst)
                elif exch in inst.validExchanges:
                    out.append(replace(inst, exchange=exch))
                continue
            out.append(inst)
            if inst.secType == "STK" and inst.primaryExchange in inst.validExchanges:
                out.append(replace(inst, exchange=inst.primaryExchange))
        return out

    def _symbol_from_local(self, local: str, sec: str) -> str:
        if sec == "CASH" or "." in local:
            return local.split(".")[0].upper()
        if sec in ("OPT", "") and len(local) >= 15:
            return local[:6].strip().upper()
        if sec == "FUT":
            return local[:-2].upper()
        return local.upper()

    def search(self, pattern: str, limit: int = 16) -> list[Instrument]:
        """Underlyings whose symbol or name matches ``pattern`` (reqMatchingSymbols), best first."""
        p = pattern.strip().upper()
        if not p:
            return []
        scored = []
        for inst in self.underlyings():
            if inst.symbol == p:
                score = 0
            elif inst.symbol.startswith(p):
                score = 1
            elif p in inst.longName.upper():
                score = 2
            else:
                continue
            scored.append((score, len(inst.symbol), inst.symbol, inst))
        scored.sort(key=lambda t: t[:3])
        return [t[3] for t in scored[:limit]]

    def derivative_types(self, inst: Instrument) -> list[str]:
        """The derivative security types listed on an underlying (for symbol samples)."""
        out = []
        if inst.conId in self._option_classes:
            out.append("OPT")
        if any(f.tracks == inst.conId for f in self._by_conid.values() if f.secType == "FUT"):
            out.append("FUT")
        return out
