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

from ..errors import HistoryError
from .instruments import Instrument
from .market import EPOCH, HORIZON_DAYS, MINUTES, Market, round_to_tick, trade_lot
from .microstructure import Bar
from .pacing import SMALL_BAR_SECONDS

EXACT_DAYS = 7
#: TWS serves bars of SMALL_BAR_SECONDS or less for the last six months only (error 162 beyond)
SMALL_BAR_MAX_AGE = 182 * 86400
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
_PERIOD = re.compile(r"^(\d+)\s*(day|week|month)s?$")
_UNIT_SECONDS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}


def parse_bar_size(text: str) -> int:
    """Seconds per bar for an IB bar size setting such as ``"5 mins"`` (also TWS's "1W" and "1M")."""
    norm = " ".join(text.strip().lower().split())
    norm = re.sub(r"^(\d+) (sec|secs|second|seconds)$", r"\1 secs", norm)
    norm = re.sub(r"^1 (mins|minute)$", "1 min", norm)
    norm = re.sub(r"^(\d+) (min|minutes)$", lambda m: f"{m[1]} {'min' if m[1] == '1' else 'mins'}", norm)
    norm = re.sub(r"^(\d+) (hours|hour|hrs|hr)$", lambda m: f"{m[1]} {'hour' if m[1] == '1' else 'hours'}", norm)
    norm = re.sub(r"^1 ?(days|d)$", "1 day", norm)
    norm = re.sub(r"^1 ?(weeks|w)$", "1 week", norm)
    norm = re.sub(r"^1 ?(months|m)$", "1 month", norm)
    if norm not in BAR_SIZES:
        raise HistoryError(321, f"-'bK' : cause - Historical data bar size setting is invalid ({text!r}). "
                                f"Legal ones are: {', '.join(BAR_SIZES)}")
    return BAR_SIZES[norm]


def parse_duration(text: str) -> tuple[int, str]:
    """(count, unit) of an IB duration string such as ``"30 D"``."""
    m = _DURATION.match(text.upper())
    if not m or int(m[1]) <= 0:
        raise HistoryError(321, f"-'bK' : cause - Historical data duration format is invalid ({text!r}): "
                                "use '<integer> <unit>' with unit S, D, W, M or Y, e.g. '30 D' or '3600 S'")
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
                raise HistoryError(321, f" unknown time zone {parts[2]!r} in endDateTime {text!r}; use "
                                        "an IANA name such as US/Eastern, Europe/London or UTC") from None
    for fmt in ("%Y%m%d %H:%M:%S", "%Y%m%d"):
        try:
            moment = datetime.strptime(body.strip(), fmt)
            return min(moment.replace(tzinfo=tz).timestamp(), now)
        except ValueError:
            continue
    raise HistoryError(321, f" date/time {text!r} is invalid; use 'yyyymmdd hh:mm:ss zone' "
                            "(e.g. '20250601 16:00:00 US/Eastern'), 'yyyymmdd-hh:mm:ss' (UTC) or '' for now")


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
        if what not in WHAT_TO_SHOW and what != "AGGTRADES":
            raise HistoryError(321, f" whatToShow {what!r} is invalid; use one of {', '.join(WHAT_TO_SHOW)} "
                                    "(AGGTRADES for crypto)")
        secs = parse_bar_size(bar_size)
        count, unit = parse_duration(duration)
        if what == "AGGTRADES":
            if inst.secType != "CRYPTO":
                raise _no_data(inst, what, secs, "AGGTRADES is for crypto; use TRADES")
            what = "TRADES"  # crypto prints aggregated across venues: the same path
        if what in ("TRADES", "ADJUSTED_LAST") and inst.secType == "CASH":
            raise _no_data(inst, what, secs, "forex does not trade; use MIDPOINT, BID, ASK or BID_ASK")
        if what in ("BID", "ASK", "BID_ASK", "MIDPOINT") and inst.secType == "IND":
            raise _no_data(inst, what, secs, "an index has no quotes; use TRADES")
        if what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY") and (inst.is_option or secs < 3600
                                                                                  or inst.secType == "CASH"):
            raise _no_data(inst, what, secs, f"{what} is available for stocks, ETFs and indices, with bars "
                                             "of 1 hour or more")
        if what == "ADJUSTED_LAST" and end_text.strip():
            raise HistoryError(162, "ADJUSTED_LAST requires an empty endDateTime (dividend-adjusted bars "
                                    "always end now)")
        if keep_up_to_date and end_text.strip():
            raise HistoryError(321, " keepUpToDate needs an empty endDateTime (the request ends now)")
        if keep_up_to_date and secs < 5:
            raise HistoryError(321, " keepUpToDate needs bars of 5 secs or more")
        span = count * _UNIT_SECONDS[unit]
        limit = MAX_SPAN.get(secs)
        if limit is not None and span > limit:
            raise HistoryError(162, f"Time length exceed max. ({duration!r} of {bar_size!r} bars; the longest "
                                    f"duration for this bar size is {_describe_span(limit)}: shorten the "
                                    "duration or use larger bars)")
        end = parse_end(end_text, now)
        if secs <= SMALL_BAR_SECONDS and end - span < now - SMALL_BAR_MAX_AGE:
            raise HistoryError(162, f"HMDS query returned no data: bars of {SMALL_BAR_SECONDS} secs or less are "
                                    f"available for the last six months only ({duration!r} of {bar_size!r} bars "
                                    "ending " + datetime.fromtimestamp(end, UTC).strftime("%Y%m%d-%H:%M:%S") +
                                    "); use 1 min bars or larger for older data")
        return HistoryRequest(inst, end, count, unit, secs, what, rth)

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
        cal = inst.calendar
        day = first
        for _ in range(10):
            sessions = self.calendar.sessions(cal, day, rth)
            if sessions:
                return sessions[0][0].timestamp()
            day += timedelta(days=1)
        return datetime.combine(first, datetime.min.time(), UTC).timestamp()

    def histogram(self, inst: Instrument, period: str, rth: bool, now: float) -> list[tuple[float, int]]:
        """Volume traded at each price level over a period such as "3 days", "2 weeks" or "1 month"
        (5-minute bars' volume put at their closing price, levels ten ticks apart)."""
        m = _PERIOD.match(period.strip().lower())
        if not m or int(m[1]) <= 0:
            raise HistoryError(321, f" timePeriod {period!r} is invalid; use '<n> days', '<n> weeks' or "
                                    "'<n> months', e.g. '3 days'")
        days = int(m[1]) * {"day": 1, "week": 5, "month": 21}[m[2]]
        if days > 60:
            raise HistoryError(162, f"Time length exceed max. (timePeriod {period!r}; histograms cover at "
                                    "most 60 trading days)")
        req = self.request(inst, "", f"{days} D", "5 mins", "MIDPOINT" if inst.secType == "CASH" else "TRADES",
                           rth, now)
        tick = max(inst.minTick, 0.01) * 10
        counts: dict[float, int] = {}
        for b in self.bars(req):
            level = round(round(b.close / tick) * tick, 6)
            counts[level] = counts.get(level, 0) + int(max(b.volume, 1))
        return sorted(counts.items())

    # ------------------------------------------------------------ internals
    def _start(self, req: HistoryRequest) -> float:
        if req.unit == "S":
            return req.end - req.count
        if req.unit == "D" and self.calendar.continuous(req.inst.calendar):
            # around the clock a trading day is 24 hours, so "1 D" just after midnight is not a few minutes
            return req.end - req.count * 86400
        if req.unit == "D":
            # D counts trading sessions, as TWS does: walk back that many sessions
            cal = req.inst.calendar
            day = self.calendar.trading_day(cal, datetime.fromtimestamp(req.end, UTC))
            found = 0
            start = req.end
            for _ in range(req.count * 3 + 10):
                spans = self.calendar.session_spans(cal, day, req.rth)
                if spans and spans[0][0] < req.end:
                    start = spans[0][0]
                    found += 1
                    if found == req.count:
                        break
                day -= timedelta(days=1)
            return start
        return req.end - req.count * _UNIT_SECONDS[req.unit]

    def session_spans(self, inst: Instrument, start: float, end: float, rth: bool) -> list[tuple[int, int]]:
        """The trading sessions between two moments as merged, ordered (start, end) epoch seconds."""
        cal = inst.calendar
        first = self.calendar.trading_day(cal, datetime.fromtimestamp(start, UTC)) - timedelta(days=1)
        last = self.calendar.trading_day(cal, datetime.fromtimestamp(end, UTC)) + timedelta(days=1)
        spans: list[tuple[float, float]] = []
        day = first
        while day <= last:
            spans += self.calendar.session_spans(cal, day, rth)
            day += timedelta(days=1)
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            s, e = max(int(s), int(start)), min(int(e), int(end))
            if e <= s:
                continue
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return [(s, e) for s, e in merged]

    def _intraday_bars(self, req: HistoryRequest, start: float, end: float) -> list[Bar]:
        secs = req.bar_seconds
        windows: list[tuple[int, int]] = []
        for s, e in self.session_spans(req.inst, start, end, req.rth):
            # bars sit on the clock grid; the first of a session starts at its open (09:30, as TWS
            # labels it), the last ends at its close
            t = (s // secs) * secs
            while t < e:
                windows.append((max(t, s), min(t + secs, e)))
                t += secs
        reader = _PathReader(self.market, req.inst)
        return [self._window_bar(reader, lo_, hi_, req.what) for lo_, hi_ in windows]

    def _window_bar(self, reader: _PathReader, a: int, b: int, what: str) -> Bar:
        """One bar over [a, b): exact from the minute path, and from the second path for the parts
        of the window that are not whole minutes (so 5-second bars equal the real-time bars)."""
        inst = reader.inst
        if inst.is_option:
            # options are priced off their underlying's path: sample the model across the bar
            market = self.market
            step = max(1, (b - a) // 8)
            prices = np.array([market.price(inst, t) for t in range(a, b + 1, step)])
            tick = 0.05 if prices[0] >= 3 else 0.01
            vol = float((inst.conId + a) % 50) if what == "TRADES" else 0.0
            return self._finish(a, prices[0], prices.max(), prices.min(), prices[-1], vol, float(prices.mean()),
                                int(vol > 0), tick, inst, what)
        m0, m1 = -(-a // 60), b // 60
        if m0 >= m1:
            seg = reader.seconds(a, b)
        else:
            parts = []
            if a < m0 * 60:
                parts.append(reader.seconds(a, m0 * 60))
            parts.append(reader.minutes(m0, m1))
            if b > m1 * 60:
                parts.append(reader.seconds(m1 * 60, b))
            seg = _Segment.join(parts)
        return self._finish(a, seg.open, seg.high, seg.low, seg.close, seg.volume, seg.wap, seg.count,
                            inst.minTick or 0.01, inst, what)

    def _finish(self, t: int, o: float, h: float, lo: float, c: float, volume: float, wap: float, count: int,
                tick: float, inst: Instrument, what: str) -> Bar:
        """Turn a mid-price bar into the requested data type."""
        market = self.market
        if inst.secType in ("IND", "CASH"):
            volume, count = (0.0, 0) if inst.secType == "IND" else (-1.0, -1)
        if what in ("TRADES", "ADJUSTED_LAST"):
            return Bar(t, round_to_tick(o, tick), round_to_tick(h, tick), round_to_tick(lo, tick),
                       round_to_tick(c, tick), volume, round(wap, 6), count)
        if what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"):
            return self._vol_bar(t, inst, what)
        spread = market.spread(inst, c)

        def bid(mid: float) -> float:  # as the live quote makes it: mid less half the spread, on the tick
            return round_to_tick(max(mid - spread / 2, 0.0), tick)

        if what == "MIDPOINT":
            vals = tuple((bid(v) + bid(v) + spread) / 2 for v in (o, h, lo, c))
        elif what == "BID":
            vals = (bid(o), bid(h), bid(lo), bid(c))
        elif what == "ASK":
            vals = (bid(o) + spread, bid(h) + spread, bid(lo) + spread, bid(c) + spread)
        else:  # BID_ASK: time-average bid, highest ask, lowest bid, time-average ask
            vals = (wap - spread / 2, bid(h) + spread, bid(lo), wap + spread / 2)
        bar_open, bar_high, bar_low, bar_close = (round(v, 8) for v in vals)
        return Bar(t, bar_open, bar_high, bar_low, bar_close, -1.0, -1.0, -1)

    def _vol_bar(self, t: int, inst: Instrument, what: str) -> Bar:
        path = self.market.daily_log_path(self.market._path_owner(inst))  # noqa: SLF001
        idx = min(max(int(t // 86400) - _EPOCH_DAYS, 31), HORIZON_DAYS)
        rets = np.diff(path[idx - 30: idx + 1])
        hv = float(rets.std() * math.sqrt(365))
        v = hv if what == "HISTORICAL_VOLATILITY" else inst.volatility * (0.85 + 0.3 * min(hv / inst.volatility, 2))
        return Bar(t, round(v, 6), round(v * 1.03, 6), round(v * 0.97, 6), round(v, 6), -1.0, -1.0, -1)

    def _daily_bars(self, req: HistoryRequest) -> list[Bar]:
        inst, cal = req.inst, req.inst.calendar
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
        found = [self._day_bar(inst, d, cal, req, end_day) for d in days]
        daily = [b for b in found if b is not None]
        if req.bar_seconds == 86400:
            return daily
        return _group(daily, weekly=req.bar_seconds == 7 * 86400)

    def _day_bar(self, inst: Instrument, day: date, cal: str, req: HistoryRequest, end_day: date) -> Bar | None:
        sessions = self.calendar.sessions(cal, day, req.rth)
        if not sessions:
            return None
        start, stop = sessions[0][0].timestamp(), min(sessions[-1][1].timestamp(), req.end)
        if stop <= start:  # the session has not opened yet at the request's end
            return None
        label = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
        if req.what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"):
            return self._vol_bar(label, inst, req.what)
        if (end_day - day).days < EXACT_DAYS or inst.is_option:
            b = self._window_bar(_PathReader(self.market, inst), int(start), int(stop), req.what)
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
        if inst.tracks:
            carry = market.track_scale(inst, label + 72000)
            o, c = o * carry, c * carry
        rng = np.random.default_rng([inst.conId, 21, idx])
        sigma = inst.volatility / math.sqrt(365.0)
        h = max(o, c) * math.exp(abs(rng.standard_normal()) * sigma * 0.6)
        lo = min(o, c) * math.exp(-abs(rng.standard_normal()) * sigma * 0.6)
        volume = float(round(inst.avgVolume * rng.lognormal(0.0, 0.3) / 100) * 100) if inst.secType == "STK" \
            else float(round(inst.avgVolume * rng.lognormal(0.0, 0.3)))
        wap = (h + lo + c) / 3
        return self._finish(label, o, h, lo, c, volume, wap, int(volume / 250), inst.minTick or 0.01, inst, what)


@dataclass(frozen=True)
class _Segment:
    """OHLC, volume, price x volume and trade count of a stretch of the path (prices unrounded)."""

    open: float
    high: float
    low: float
    close: float
    volume: float
    pv: float
    count: int
    mean: float
    span: int

    @property
    def wap(self) -> float:
        """Volume-weighted average price (the time average when nothing traded)."""
        return self.pv / self.volume if self.volume > 0 else self.mean

    @staticmethod
    def join(parts: list[_Segment]) -> _Segment:
        """The segment made of consecutive segments."""
        span = sum(p.span for p in parts)
        return _Segment(parts[0].open, max(p.high for p in parts), min(p.low for p in parts), parts[-1].close,
                        sum(p.volume for p in parts), sum(p.pv for p in parts), sum(p.count for p in parts),
                        sum(p.mean * p.span for p in parts) / span, span)


class _PathReader:
    """Reads one instrument's stretch of the market's path a minute (or a second) at a time, with
    numpy slices instead of one price call per second: a day of minute bars costs milliseconds."""

    def __init__(self, market: Market, inst: Instrument) -> None:
        self.market = market
        self.inst = inst
        self.owner = market._path_owner(inst)  # noqa: SLF001 - futures follow their index's path
        self.vscale = market.volume_scale(inst)
        self.lot = trade_lot(inst)
        self.no_volume = inst.secType in ("IND", "CASH")
        self._carry = bool(inst.tracks)  # a future's carry, an ETF's ratio to its index
        self._second_vols: dict[int, np.ndarray] = {}

    def scale(self, t: float) -> float:
        """Factor from the path owner's level to this instrument's price (a future's carry)."""
        if not self._carry:
            return 1.0
        return self.market.track_scale(self.inst, t)

    def minutes(self, m0: int, m1: int) -> _Segment:
        """Whole minutes [m0, m1) (epoch minutes), straight from the minute bars."""
        market, owner = self.market, self.owner
        opens, highs, lows, closes, vols, pvs, means = [], [], [], [], [], [], []
        count = 0
        m = m0
        while m < m1:
            bars = market.minute_bars(owner, m // MINUTES - _EPOCH_DAYS)
            i = m % MINUTES
            j = min(MINUTES, i + (m1 - m))
            hi, lo, cl = bars.high[i:j], bars.low[i:j], bars.close[i:j]
            typical = (hi + lo + cl) / 3
            opens.append(bars.open[i])
            highs.append(hi.max())
            lows.append(lo.min())
            closes.append(cl[-1])
            if self.no_volume:
                vol = np.zeros(j - i)
            else:
                vol = bars.volume[i:j] * self.vscale
                if self.vscale != 1.0:  # a future trades whole contracts
                    vol = np.floor(vol / self.lot) * self.lot
                # prints in a minute: about one per traded lot, at most one a second (as the tape has)
                count += int(np.minimum(vol / self.lot, 60).sum())
            vols.append(vol.sum())
            pvs.append((vol * typical).sum())
            means.append(typical.mean() * (j - i))
            m += j - i
        k = self.scale(m0 * 60)
        return _Segment(opens[0] * k, max(highs) * k, min(lows) * k, closes[-1] * k, float(sum(vols)),
                        float(sum(pvs)) * k, count, float(sum(means)) / (m1 - m0) * k, (m1 - m0) * 60)

    def second_volumes(self, minute: int) -> np.ndarray:
        """The 60 per-second volumes of one epoch minute, as :func:`microstructure.second_volume` gives
        them one at a time (same draws, vectorised)."""
        vols = self._second_vols.get(minute)
        if vols is None:
            bars = self.market.minute_bars(self.owner, minute // MINUTES - _EPOCH_DAYS)
            vol = float(bars.volume[minute % MINUTES]) * self.vscale
            weights = np.random.default_rng([self.inst.conId, 7, minute]).dirichlet(np.ones(60))
            vols = np.floor(vol * weights / self.lot) * self.lot
            self._second_vols[minute] = vols
        return vols

    def seconds(self, s0: int, s1: int) -> _Segment:
        """Seconds [s0, s1) inside one minute: prices at s0..s1, volume of seconds s0+1..s1, as the
        real-time bars count them."""
        minute = s0 // 60
        path = self.market.second_path(self.owner, minute)
        prices = path[s0 - minute * 60: s1 - minute * 60 + 1] * self.scale(s0)
        if self.no_volume:
            vols = np.zeros(s1 - s0)
        else:
            own = self.second_volumes(minute)[s0 - minute * 60 + 1:]
            vols = own[: s1 - s0] if len(own) >= s1 - s0 else np.concatenate([own, self.second_volumes(minute + 1)[:1]])
        volume = float(vols.sum())
        return _Segment(float(prices[0]), float(prices.max()), float(prices.min()), float(prices[-1]), volume,
                        float((vols * prices[1:]).sum()), int((vols > 0).sum()), float(prices.mean()), s1 - s0)


def _group(daily: list[Bar], weekly: bool) -> list[Bar]:
    """Weekly or monthly bars from daily ones (labelled by their first trading day)."""
    groups: dict[tuple[int, int], list[Bar]] = {}
    for b in daily:
        d = datetime.fromtimestamp(b.time, UTC).date()
        iso = d.isocalendar()
        key = (iso.year, iso.week) if weekly else (d.year, d.month)
        groups.setdefault(key, []).append(b)
    out = []
    for bars in groups.values():
        vol = sum(b.volume for b in bars) if bars[0].volume >= 0 else -1.0
        out.append(Bar(bars[0].time, bars[0].open, max(b.high for b in bars), min(b.low for b in bars),
                       bars[-1].close, vol, round(sum(b.wap for b in bars) / len(bars), 6),
                       sum(max(b.count, 0) for b in bars) if bars[0].count >= 0 else -1))
    return out


_WHAT_WORDS = {"TRADES": "Last", "ADJUSTED_LAST": "AdjustedLast", "MIDPOINT": "Midpoint", "BID": "Bid",
               "ASK": "Ask", "BID_ASK": "BidAsk", "AGGTRADES": "AggTrades",
               "HISTORICAL_VOLATILITY": "HV", "OPTION_IMPLIED_VOLATILITY": "IV"}


def _no_data(inst: Instrument, what: str, secs: int, hint: str) -> HistoryError:
    """TWS's 162 for a data type the contract does not have, e.g. "No historical market data for
    EUR/CASH@FXSUBPIP Last 1d", followed by the fix."""
    venue = "FXSUBPIP" if inst.secType == "CASH" else (inst.primaryExchange or inst.exchange)
    step = {86400: "1d", 7 * 86400: "1w", 30 * 86400: "1m"}.get(secs, str(secs))
    return HistoryError(162, f"No historical market data for {inst.symbol}/{inst.secType}@{venue} "
                             f"{_WHAT_WORDS.get(what, what)} {step} ({hint})")


def _describe_span(seconds: float) -> str:
    if seconds < 86400:
        return f"{int(seconds)} S"
    if seconds < 365 * 86400:
        return f"{int(seconds // 86400)} D"
    return f"{int(seconds // (365 * 86400))} Y"
