"""Historical bars, head timestamps and historical ticks, read off the market's one price path.

Pure model code (no wire formats): the handler turns these into TWS messages. Recent days are
aggregated exactly from the minute and second paths the live feed quotes from, so the last
historical bar, the real-time bars and the live ticks agree; days older than
:data:`EXACT_DAYS` come straight from the daily path (same closes, modelled ranges) so that
decades of daily bars stay cheap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from .errors import SimError
from .instruments import Instrument
from .market import EPOCH, HORIZON_DAYS, MINUTES, Market, round_to_tick
from .microstructure import Bar
from .microstructure import bar as seconds_bar

EXACT_DAYS = 7
_EPOCH_DAYS = EPOCH.toordinal() - 719163

#: IB's bar size settings -> seconds (days, weeks and months are calendar units)
BAR_SIZES: dict[str, int] = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900,
    "20 mins": 1200, "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800,
    "4 hours": 14400, "8 hours": 28800, "1 day": 86400, "1 week": 7 * 86400, "1 month": 30 * 86400,
}
#: the longest duration TWS serves per bar size (seconds; beyond it, error 162)
MAX_SPAN: dict[int, float] = {1: 2000, 5: 10000, 10: 20000, 15: 30000, 30: 86400, 60: 10 * 86400,
                              120: 20 * 86400, 180: 30 * 86400, 300: 60 * 86400, 600: 120 * 86400,
                              900: 180 * 86400, 1200: 200 * 86400, 1800: 365 * 86400, 3600: 2 * 365 * 86400}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY",
                "OPTION_IMPLIED_VOLATILITY")
_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")
_UNIT_SECONDS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}


class HistoryError(SimError):
    """A historical request TWS would refuse (error 162 or 321 with TWS's wording)."""


def parse_bar_size(text: str) -> int:
    """Seconds per bar for an IB bar size setting such as ``"5 mins"``."""
    norm = " ".join(text.strip().lower().split())
    norm = re.sub(r"^(\d+) (sec|secs|second|seconds)$", r"\1 secs", norm)
    norm = re.sub(r"^1 (mins|minute)$", "1 min", norm)
    norm = re.sub(r"^(\d+) (min|minutes)$", lambda m: f"{m[1]} {'min' if m[1] == '1' else 'mins'}", norm)
    norm = re.sub(r"^(\d+) (hours|hour|hrs|hr)$", lambda m: f"{m[1]} {'hour' if m[1] == '1' else 'hours'}", norm)
    norm = re.sub(r"^1 (days|d)$", "1 day", norm)
    norm = re.sub(r"^1 (weeks|w)$", "1 week", norm)
    norm = re.sub(r"^1 (months)$", "1 month", norm)
    if norm not in BAR_SIZES:
        raise HistoryError(321, f"Invalid bar size {text!r}; "
                                f"use one of: {', '.join(BAR_SIZES)}")
    return BAR_SIZES[norm]


def parse_duration(text: str) -> tuple[int, str]:
    """(count, unit) of an IB duration string such as ``"30 D"``."""
    m = _DURATION.match(text.upper())
    if not m or int(m[1]) <= 0:
        raise HistoryError(321, f"Historical data query duration "
                                f"{text!r} is invalid; use an integer and a unit S, D, W, M or Y, e.g. '30 D'")
    return int(m[1]), m[2]


def parse_end(text: str, now: float) -> float:
    """Epoch seconds of an endDateTime (empty means now), in any format TWS accepts."""
    text = text.strip()
    if not text:
        return now
    tz: ZoneInfo = ZoneInfo("UTC")
    body = text
    if "-" in text[:9] and text[8:9] == "-":  # yyyymmdd-hh:mm:ss is UTC
        body = text.replace("-", " ", 1)
    else:
        parts = text.split(" ")
        if len(parts) >= 3:
            body = " ".join(parts[:2])
            try:
                tz = ZoneInfo(parts[2].strip())
            except Exception:
                raise HistoryError(321, f"unknown time zone {parts[2]!r} in "
                                        f"endDateTime {text!r}") from None
    for fmt in ("%Y%m%d %H:%M:%S", "%Y%m%d"):
        try:
            moment = datetime.strptime(body.strip(), fmt)
            return min(moment.replace(tzinfo=tz).timestamp(), now)
        except ValueError:
            continue
    raise HistoryError(321, f"endDateTime {text!r} is not "
                            "'yyyymmdd hh:mm:ss [zone]' or 'yyyymmdd-hh:mm:ss' (UTC)")


@dataclass(frozen=True)
class HistoryRequest:
    """A validated historical data request."""

    inst: Instrument
    end: float
    count: int
    unit: str
    bar_seconds: int
    what: str
    rth: bool


class History:
    """Builds bars for any bar size, duration and data type from the market's path."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.calendar = market.calendar

    # ------------------------------------------------------------ validation
    def request(self, inst: Instrument, end_text: str, duration: str, bar_size: str, what: str, rth: bool,
                now: float, keep_up_to_date: bool = False) -> HistoryRequest:
        """Validate a request as TWS does; raises :class:`HistoryError` with TWS's code."""
        what = what.strip().upper()
        if what not in WHAT_TO_SHOW:
            raise HistoryError(321, f"whatToShow {what!r} is "
                                    f"invalid; use one of {', '.join(WHAT_TO_SHOW)}")
        secs = parse_bar_size(bar_size)
        count, unit = parse_duration(duration)
        if what in ("TRADES", "ADJUSTED_LAST") and inst.secType == "CASH":
            raise HistoryError(162, f"No historical market data "
                                    f"for {inst.symbol}/CASH@IDEALPRO {what}: forex has no trades; use MIDPOINT, "
                                    "BID, ASK or BID_ASK")
        if what in ("BID", "ASK", "BID_ASK") and inst.secType == "IND":
            raise HistoryError(162, f"No data of type {what} is "
                                    f"available for the index {inst.symbol}; use TRADES")
        if what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY") and (inst.is_option or secs < 3600):
            raise HistoryError(162, f"{what} is available for "
                                    "stocks and indices with bars of 1 hour or more")
        if what == "ADJUSTED_LAST" and end_text.strip():
            raise HistoryError(162, "ADJUSTED_LAST requires an "
                                    "empty endDateTime")
        if keep_up_to_date and end_text.strip():
            raise HistoryError(321, "keepUpToDate needs an empty "
                                    "endDateTime (the request ends now)")
        if keep_up_to_date and secs < 5:
            raise HistoryError(321, "keepUpToDate needs bars of 5 "
                                    "seconds or more")
        span = count * _UNIT_SECONDS[unit]
        limit = MAX_SPAN.get(secs)
        if limit is not None and span > limit:
            raise HistoryError(162, f"Time length exceed max: "
                                    f"{duration!r} of {bar_size!r} bars; the longest for this bar size is "
                                    f"{_describe_span(limit)}")
        return HistoryRequest(inst, parse_end(end_text, now), count, unit, secs, what, rth)

    # ------------------------------------------------------------ bars
    def bars(self, req: HistoryRequest) -> list[Bar]:
        """All bars of a validated request, oldest first (the last one may be unfinished)."""
        if req.bar_seconds >= 86400:
            return self._daily_bars(req)
        start = self._start(req)
        return self._intraday_bars(req, start, req.end)

    def current_bar(self, req: HistoryRequest, now: float) -> Bar | None:
        """The bar that contains ``now`` (for keepUpToDate updates)."""
        if req.bar_seconds >= 86400:
            bars = self._daily_bars(HistoryRequest(req.inst, now, 2, "D", 86400, req.what, req.rth))
            return bars[-1] if bars else None
        start = (int(now) // req.bar_seconds) * req.bar_seconds
        bars = self._intraday_bars(req, start, now)
        return bars[-1] if bars else None

    def head_timestamp(self, inst: Instrument, what: str, rth: bool) -> float:
        """The earliest moment with data: the first session on or after the simulation's epoch or
        the contract's listing (a year before expiry for futures and options)."""
        first = EPOCH
        if inst.lastTradeDateOrContractMonth:
            exp = datetime.strptime(inst.lastTradeDateOrContractMonth[:8].ljust(8, "1"), "%Y%m%d").date()
            first = max(first, exp - timedelta(days=365 if inst.secType == "FUT" else 270))
        cal = self._cal(inst)
        day = first
        for _ in range(10):
            sessions = self.calendar.sessions(cal, day, rth)
            if sessions:
                return sessions[0][0].timestamp()
            day += timedelta(days=1)
        return datetime.combine(first, datetime.min.time(), UTC).timestamp()

    # ------------------------------------------------------------ internals
    def _cal(self, inst: Instrument) -> str:
        owner = self.market._path_owner(inst)  # noqa: SLF001 - futures follow their index's calendar
        return owner.calendar if inst.tracks else inst.calendar

    def _start(self, req: HistoryRequest) -> float:
        if req.unit == "S":
            return req.end - req.count
        if req.unit == "D":
            # D counts trading days: walk back that many sessions
            cal = self._cal(req.inst)
            day = self.calendar.trading_day(cal, datetime.fromtimestamp(req.end, UTC))
            found = 0
            start = req.end
            for _ in range(req.count * 3 + 10):
                sessions = self.calendar.sessions(cal, day, req.rth)
                if sessions and sessions[0][0].timestamp() < req.end:
                    start = sessions[0][0].timestamp()
                    found += 1
                    if found == req.count:
                        break
                day -= timedelta(days=1)
            return start
        return req.end - req.count * _UNIT_SECONDS[req.unit]

    def _intraday_bars(self, req: HistoryRequest, start: float, end: float) -> list[Bar]:
        inst, secs, cal = req.inst, req.bar_seconds, self._cal(req.inst)
        first = (int(start) // secs) * secs
        out: list[Bar] = []
        t = first
        day_cache: dict[date, list[tuple[float, float]]] = {}
        while t < end:
            bar_end = min(t + secs, int(end))
            lo_, hi_ = self._clip_to_sessions(cal, t, bar_end, req.rth, day_cache)
            if hi_ > lo_:
                b = self._bar(inst, lo_, hi_, req.what)
                out.append(Bar(t, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count))
            t += secs
        return out

    def _clip_to_sessions(self, cal: str, a: int, b: int, rth: bool,
                          cache: dict[date, list[tuple[float, float]]]) -> tuple[int, int]:
        """The part of [a, b) inside trading sessions (bars never straddle two sessions here)."""
        if self.calendar.mode == "always" and not rth:
            return a, b
        moment = datetime.fromtimestamp(a, UTC)
        day = self.calendar.trading_day(cal, moment)
        spans = []
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            if d not in cache:
                cache[d] = [(s.timestamp(), e.timestamp()) for s, e in self.calendar.sessions(cal, d, rth)]
            spans += cache[d]
        for s, e in spans:
            lo_, hi_ = max(a, int(s)), min(b, int(e))
            if hi_ > lo_:
                return lo_, hi_
        return 0, 0

    def _bar(self, inst: Instrument, a: int, b: int, what: str) -> Bar:
        """One bar over [a, b): exact from the minute path (or the second path for short bars)."""
        market = self.market
        if b - a <= 120 or inst.is_option or (a % 60 or b % 60):
            if inst.is_option:
                step = max(1, (b - a) // 8)
                prices = np.array([market.price(inst, t) for t in range(a, b + 1, step)])
                tick = 0.05 if prices[0] >= 3 else 0.01
                vol = float((inst.conId + a) % 50) if what == "TRADES" else 0.0
                return self._finish(a, prices[0], prices.max(), prices.min(), prices[-1], vol, float(prices.mean()),
                                    int(vol > 0), tick, inst, what)
            raw = seconds_bar(market, inst, a, b - a, "TRADES")
            return self._finish(a, raw.open, raw.high, raw.low, raw.close, raw.volume, raw.wap, raw.count,
                                inst.minTick or 0.01, inst, what)
        owner = market._path_owner(inst)  # noqa: SLF001
        scale = market.price(inst, a) / market.base_price(owner, a) if inst.secType == "FUT" else 1.0
        opens, highs, lows, closes, vols = [], [], [], [], []
        m = a // 60
        while m < b // 60:
            day_idx = m // MINUTES - _EPOCH_DAYS
            bars = market.minute_bars(owner, day_idx)
            i = m % MINUTES
            j = min(MINUTES, i + (b // 60 - m))
            opens.append(bars.open[i]), highs.append(bars.high[i:j].max()), lows.append(bars.low[i:j].min())
            closes.append(bars.close[j - 1]), vols.append(bars.volume[i:j])
            m += j - i
        o, c = opens[0] * scale, closes[-1] * scale
        h, lo = max(highs) * scale, min(lows) * scale
        vol_arr = np.concatenate(vols) * market.volume_scale(inst)
        volume = float(vol_arr.sum())
        wap = (o + h + lo + c) / 4
        count = int(np.count_nonzero(vol_arr) * 3)
        return self._finish(a, o, h, lo, c, volume, wap, count, inst.minTick or 0.01, inst, what)

    def _finish(self, t: int, o: float, h: float, lo: float, c: float, volume: float, wap: float, count: int,
                tick: float, inst: Instrument, what: str) -> Bar:
        """Turn a mid-price bar into the requested data type."""
        market = self.market
        if inst.secType in ("IND", "CASH"):
            volume, count = (0.0, 0) if inst.secType == "IND" else (-1.0, -1)
        if what in ("TRADES", "ADJUSTED_LAST"):
            return Bar(t, round_to_tick(o, tick), round_to_tick(h, tick), round_to_tick(lo, tick),
                       round_to_tick(c, tick), volume, round(wap, 6), count)
        half = market.spread(inst, c) / 2
        if what == "MIDPOINT":
            vals = (o, h, lo, c)
        elif what == "BID":
            vals = (o - half, h - half, lo - half, c - half)
        elif what == "ASK":
            vals = (o + half, h + half, lo + half, c + half)
        elif what == "BID_ASK":  # time-average bid, max ask, min bid, time-average ask
            vals = (wap - half, h + half, lo - half, wap + half)
        else:  # volatility series: handled by _vol_bar
            return self._vol_bar(t, inst, what)
        return Bar(t, *(round(v, 6) for v in vals), -1.0, -1.0, -1)

    def _vol_bar(self, t: int, inst: Instrument, what: str) -> Bar:
        path = self.market.daily_log_path(self.market._path_owner(inst))  # noqa: SLF001
        idx = min(max(int(t // 86400) - _EPOCH_DAYS, 31), HORIZON_DAYS)
        rets = np.diff(path[idx - 30: idx + 1])
        hv = float(rets.std() * math.sqrt(365))
        v = hv if what == "HISTORICAL_VOLATILITY" else inst.volatility * (0.85 + 0.3 * min(hv / inst.volatility, 2))
        return Bar(t, round(v, 6), round(v * 1.03, 6), round(v * 0.97, 6), round(v, 6), -1.0, -1.0, -1)

    def _daily_bars(self, req: HistoryRequest) -> list[Bar]:
        inst, cal = req.inst, self._cal(req.inst)
        end_day = self.calendar.trading_day(cal, datetime.fromtimestamp(req.end, UTC))
        span_days = {"S": max(1, req.count // 86400), "D": req.count, "W": req.count * 7,
                     "M": req.count * 31, "Y": req.count * 366}[req.unit]
        days: list[date] = []
        day = end_day
        limit_day = EPOCH + timedelta(days=1)
        while day >= limit_day:
            if req.unit == "D" and len(days) >= req.count:
                break
            if req.unit != "D" and (end_day - day).days >= span_days:
                break
            if self.calendar.sessions(cal, day, req.rth):
                days.append(day)
            day -= timedelta(days=1)
        days.reverse()
        daily = [self._day_bar(inst, d, cal, req, end_day) for d in days]
        daily = [b for b in daily if b is not None]
        if req.bar_seconds == 86400:
            return daily
        return _group(daily, weekly=req.bar_seconds == 7 * 86400)

    def _day_bar(self, inst: Instrument, day: date, cal: str, req: HistoryRequest, end_day: date) -> Bar | None:
        sessions = self.calendar.sessions(cal, day, req.rth)
        if not sessions:
            return None
        start, stop = sessions[0][0].timestamp(), min(sessions[-1][1].timestamp(), req.end)
        label = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
        if req.what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"):
            return self._vol_bar(label, inst, req.what)
        if (end_day - day).days < EXACT_DAYS or inst.is_option:
            b = self._bar(inst, int(start) // 60 * 60, int(stop) // 60 * 60 if stop - start > 120 else int(stop),
                          req.what)
            if day == end_day and req.what in ("TRADES", "ADJUSTED_LAST", "MIDPOINT"):
                # today's unfinished bar closes at the live price
                tick = inst.minTick or 0.01
                last = round_to_tick(self.market.price(inst, req.end), tick) if req.what != "MIDPOINT" else \
                    round(self.market.price(inst, req.end), 6)
                b = Bar(b.time, b.open, max(b.high, last), min(b.low, last), last, b.volume, b.wap, b.count)
            return Bar(label, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count)
        return self._modelled_day(inst, day, label, req.what)

    def _modelled_day(self, inst: Instrument, day: date, label: int, what: str) -> Bar:
        market = self.market
        owner = market._path_owner(inst)  # noqa: SLF001
        path = market.daily_log_path(owner)
        idx = min(max((day - EPOCH).days, 0), HORIZON_DAYS - 1)
        o, c = math.exp(path[idx]), math.exp(path[idx + 1])
        if inst.secType == "FUT":
            carry = market.price(inst, label + 72000) / max(market.base_price(owner, label + 72000), 1e-9)
            o, c = o * carry, c * carry
        rng = np.random.default_rng([inst.conId, 21, idx])
        sigma = inst.volatility / math.sqrt(365.0)
        h = max(o, c) * math.exp(abs(rng.standard_normal()) * sigma * 0.6)
        lo = min(o, c) * math.exp(-abs(rng.standard_normal()) * sigma * 0.6)
        volume = float(round(inst.avgVolume * rng.lognormal(0.0, 0.3) / 100) * 100) if inst.secType == "STK" \
            else float(round(inst.avgVolume * rng.lognormal(0.0, 0.3)))
        wap = (h + lo + c) / 3
        return self._finish(label, o, h, lo, c, volume, wap, int(volume / 250), inst.minTick or 0.01, inst, what)


def _group(daily: list[Bar], weekly: bool) -> list[Bar]:
    """Weekly or monthly bars from daily ones (labelled by their first trading day)."""
    groups: dict[tuple[int, int], list[Bar]] = {}
    for b in daily:
        d = datetime.fromtimestamp(b.time, UTC).date()
        key = tuple(d.isocalendar()[:2]) if weekly else (d.year, d.month)
        groups.setdefault(key, []).append(b)
    out = []
    for bars in groups.values():
        vol = sum(b.volume for b in bars) if bars[0].volume >= 0 else -1.0
        out.append(Bar(bars[0].time, bars[0].open, max(b.high for b in bars), min(b.low for b in bars),
                       bars[-1].close, vol, round(sum(b.wap for b in bars) / len(bars), 6),
                       sum(max(b.count, 0) for b in bars) if bars[0].count >= 0 else -1))
    return out


def _describe_span(seconds: float) -> str:
    if seconds < 86400:
        return f"{int(seconds)} S"
    if seconds < 365 * 86400:
        return f"{int(seconds // 86400)} D"
    return f"{int(seconds // (365 * 86400))} Y"


def attach(gateway) -> None:  # noqa: ANN001 - the Gateway (imported lazily to avoid a cycle)
    """Give a gateway its history model and its pacing rules."""
    from .pacing import HistoricalPacing

    gateway.models["history"] = History(gateway.market)
    gateway.models["pacing"] = HistoricalPacing(gateway.config.limits)
