"""Deterministic synthetic markets: one price path per instrument, from which quotes,
ticks, real-time bars and historical bars are all read, so they tell one story.

The path is built in three layers, each a seeded random walk pinned to the layer above:
a daily log-price walk (anchored at the instrument's reference price on the universe's
anchor date), a per-minute Brownian bridge between consecutive UTC midnights, and a
per-second bridge inside each minute that touches exactly that minute's high and low.
The same seed always gives the same history.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..clock import Clock
from .calendar import TradingCalendar
from .factors import FactorModel
from .instruments import Instrument
from .pricing import RATE, Greeks, black_scholes, smile_vol
from .universe import Universe

EPOCH = date(2010, 1, 1)
#: displayed quote sizes come in multiples of these (1 to 39 of them): round lots for stocks,
#: 100,000 units on IDEALPRO (books show hundreds of thousands to millions), 5 contracts for
#: futures, a tenth of a coin for crypto
DISPLAY_LOT: dict[str, float] = {"STK": 100.0, "CASH": 100_000.0, "FUT": 5.0, "CRYPTO": 0.1}


def trade_lot(inst: Instrument) -> float:
    """The unit traded volume comes in: round lots of 100 for stocks, single units otherwise."""
    return 100.0 if inst.secType == "STK" else 1.0


HORIZON_DAYS = 365 * 30
MINUTES = 1440
_DAY = 86400


@dataclass(frozen=True)
class MinuteBars:
    """One UTC day of minute bars: arrays of length 1440 (prices unrounded)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # shares (contracts) traded in each minute
    high_at: np.ndarray  # second (0-59) at which each minute's high is reached
    low_at: np.ndarray


class Quote(NamedTuple):
    """Top of book and the day's statistics at one moment (a named tuple: the feed builds one per
    subscription per beat, and a tuple is several times cheaper to make than a frozen dataclass)."""

    time: float
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float  # today's cumulative volume
    open: float
    high: float
    low: float
    close: float  # previous day's close
    mid: float
    is_open: bool


#: quoted spread as a fraction of the price, by security type
_SPREAD_BPS: dict[str, float] = {"STK": 2e-4, "CASH": 2e-5, "CRYPTO": 5e-4, "FUT": 1e-4, "IND": 0.0}


@lru_cache(maxsize=4096)
def _expiry_ts(expiry: str) -> float:
    """Epoch seconds of 16:00 New York (21:00 UTC) on a yyyymmdd last trade date."""
    exp = datetime.strptime(expiry, "%Y%m%d")
    return datetime(exp.year, exp.month, exp.day, 21, 0, tzinfo=UTC).timestamp()


def round_to_tick(price: float, tick: float) -> float:
    """Round a price to the nearest multiple of the minimum tick."""
    if tick <= 0:
        return price
    return round(round(price / tick) * tick, 10)


class Market:
    """Prices for every instrument of a universe, as a pure function of (seed, instrument, time)."""

    def __init__(self, universe: Universe, calendar: TradingCalendar, seed: int, clock: Clock | None = None) -> None:
        self.universe = universe
        self.calendar = calendar
        self.seed = int(seed)
        self.clock = clock or Clock()
        self._daily: dict[int, np.ndarray] = {}
        self._minutes: OrderedDict[tuple[int, int], MinuteBars] = OrderedDict()
        self._seconds: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._stats: dict[tuple[int, int], dict[str, float]] = {}
        self._terms: dict[int, tuple] = {}
        self._anchor_index = (universe.anchor_date - EPOCH).days
        settings = universe.factors
        market = next((i for i in universe.underlyings() if i.symbol == settings.get("market", "SPX")
                       and i.secType == "IND"), None)
        self.factors = FactorModel(self._rng, HORIZON_DAYS, market, settings)

    # ------------------------------------------------------------ path layers
    def _rng(self, *parts: int) -> np.random.Generator:
        return np.random.default_rng([self.seed & 0xFFFFFFFF, *[p & 0xFFFFFFFF for p in parts]])

    def _path_owner(self, inst: Instrument) -> Instrument:
        """Derivatives without a path of their own follow their underlying's."""
        if inst.tracks:
            return self.universe.get(inst.tracks) or inst
        return inst

    def daily_log_path(self, inst: Instrument) -> np.ndarray:
        """Log price at each UTC midnight from :data:`EPOCH` on (cached per instrument). An instrument
        that tracks another (an index ETF, a future before carry) is that path times its ratio."""
        path = self._daily.get(inst.conId)
        if path is None:
            if inst.tracks and self.universe.get(inst.tracks) is not None:
                path = self.daily_log_path(self._path_owner(inst)) + math.log(inst.trackRatio)
            else:
                walk = np.concatenate([[0.0], np.cumsum(self.factors.steps(inst))])
                path = walk - walk[self._anchor_index] + math.log(max(inst.refPrice, 1e-6))
            self._daily[inst.conId] = path
        return path

    def minute_bars(self, inst: Instrument, day_index: int) -> MinuteBars:
        """Minute bars of one UTC day (``day_index`` days after :data:`EPOCH`)."""
        inst = self._path_owner(inst)
        key = (inst.conId, day_index)
        bars = self._minutes.get(key)
        if bars is not None:
            self._minutes.move_to_end(key)
            return bars
        daily = self.daily_log_path(inst)
        i = min(max(day_index, 0), HORIZON_DAYS - 1)
        a, b = daily[i], daily[i + 1]
        rng = self._rng(inst.conId, 1, day_index)
        s_min = inst.volatility / math.sqrt(365.0 * MINUTES)
        w = np.concatenate([[0.0], np.cumsum(rng.standard_normal(MINUTES) * s_min)])
        t = np.linspace(0.0, 1.0, MINUTES + 1)
        x = a + (b - a) * t + (w - t * w[-1])
        o, c = x[:-1], x[1:]
        up = np.abs(rng.standard_normal(MINUTES)) * s_min * 0.6
        dn = np.abs(rng.standard_normal(MINUTES)) * s_min * 0.6
        h = np.maximum(o, c) + up
        lo = np.minimum(o, c) - dn
        vol = self._minute_volume(inst, day_index, rng)
        bars = MinuteBars(np.exp(o), np.exp(h), np.exp(lo), np.exp(c), vol,
                          rng.integers(1, 59, MINUTES), rng.integers(1, 59, MINUTES))
        self._minutes[key] = bars
        if len(self._minutes) > 2048:
            self._minutes.popitem(last=False)
        return bars

    def _minute_volume(self, inst: Instrument, day_index: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.lognormal(0.0, 0.5, MINUTES)
        base = max(inst.avgVolume, 0.0)
        if base == 0:
            return np.zeros(MINUTES)
        day = EPOCH + timedelta(days=day_index)
        if inst.calendar == "crypto":
            weights = np.ones(MINUTES) / MINUTES
        else:
            weights = np.zeros(MINUTES)
            midnight = datetime.combine(day, datetime.min.time(), UTC)
            for trade_day in (day - timedelta(days=1), day, day + timedelta(days=1)):
                for rth in (False, True):
                    for start, end in self.calendar.sessions(inst.calendar, trade_day, rth):
                        s = int((start - midnight).total_seconds() // 60)
                        e = int((end - midnight).total_seconds() // 60)
                        s0, e0 = max(s, 0), min(e, MINUTES)
                        if e0 <= s0:
                            continue
                        if rth:
                            n = e - s
                            pos = (np.arange(s0, e0) - s) / max(n, 1)
                            weights[s0:e0] += (1.0 + 2.5 * (2 * pos - 1) ** 2) / (n * 1.8)
                        else:
                            weights[s0:e0] = np.maximum(weights[s0:e0], 0.05 / max(e - s, 1))
        lot = trade_lot(inst)
        vol = np.floor(base * weights * noise / lot) * lot
        return vol

    def second_path(self, inst: Instrument, ts_minute: int) -> np.ndarray:
        """The 61 prices (seconds 0..60) inside the minute starting at epoch second ``ts_minute*60``."""
        inst = self._path_owner(inst)
        key = (inst.conId, ts_minute, 0)
        path = self._seconds.get(key)
        if path is not None:
            return path
        day_index = ts_minute // MINUTES - (EPOCH - date(1970, 1, 1)).days
        m = ts_minute % MINUTES
        bars = self.minute_bars(inst, day_index)
        o, h, lo, c = bars.open[m], bars.high[m], bars.low[m], bars.close[m]
        hi_at, lo_at = int(bars.high_at[m]), int(bars.low_at[m])
        if hi_at == lo_at:
            lo_at = hi_at + 1 if hi_at < 59 else hi_at - 1
        knots = sorted({0: o, 60: c, hi_at: h, lo_at: lo}.items())
        xs = np.array([k for k, _ in knots], dtype=float)
        ys = np.array([v for _, v in knots])
        base = np.interp(np.arange(61), xs, ys)
        rng = self._rng(inst.conId, 2, ts_minute)
        noise = rng.standard_normal(61) * (h - lo) * 0.15
        noise[[int(k) for k in xs]] = 0.0
        path = np.clip(base + noise, lo, h)
        self._seconds[key] = path
        if len(self._seconds) > 8192:
            self._seconds.popitem(last=False)
        return path

    # ------------------------------------------------------------ prices
    def _effective_time(self, inst: Instrument, ts: float) -> tuple[float, bool]:
        """The moment whose price applies at ``ts``: ``ts`` itself, or the last close if shut."""
        if self.calendar.mode == "always":
            return ts, True
        moment = datetime.fromtimestamp(ts, UTC)
        cal = inst.calendar
        if self.calendar.is_open(cal, moment):
            return ts, True
        day = self.calendar.trading_day(cal, moment)
        for _ in range(10):
            sess = self.calendar.sessions(cal, day)
            if sess and sess[-1][1] <= moment:
                return sess[-1][1].timestamp() - 1, False
            day -= timedelta(days=1)
        return ts, False

    def base_price(self, inst: Instrument, ts: float) -> float:
        """The path's value (a mid price) at epoch second ``ts`` (unrounded)."""
        sec = int(ts)
        path = self.second_path(inst, sec // 60)
        i = sec % 60
        frac = ts - sec
        # between whole seconds the price moves linearly to the next second's level, so quotes
        # tick smoothly however often they are sampled, and never leave that second's range
        a = path.item(i)  # plain floats: numpy scalar arithmetic costs more than the lookup
        return a + (path.item(i + 1) - a) * frac if frac else a

    def price(self, inst: Instrument, ts: float | None = None) -> float:
        """Mid price of any instrument (options from Black-Scholes, futures with carry)."""
        ts = self.clock.time() if ts is None else ts
        if inst.is_option:
            return self.option_greeks(inst, ts).price
        eff, _ = self._effective_time(inst, ts)
        return self._path_price(inst, eff)

    def _path_price(self, inst: Instrument, eff: float) -> float:
        """The mid of a non-option at an effective moment: its path, times its ratio and carry."""
        p = self.base_price(inst, eff)
        if inst.tracks:
            p *= inst.trackRatio
            if inst.secType == "FUT":
                p *= math.exp(RATE * self.years_to_expiry(inst, eff))
        return p

    def track_scale(self, inst: Instrument, ts: float) -> float:
        """Factor from the path an instrument follows to its own price at ``ts`` (an index ETF's
        ratio, a future's carry); 1 for an instrument with a path of its own."""
        if not inst.tracks:
            return 1.0
        # the floor keeps a degenerate path level from dividing by zero
        return self.price(inst, ts) / max(self.base_price(self._path_owner(inst), ts), 1e-9)

    def volume_scale(self, inst: Instrument) -> float:
        """Factor from the path owner's volume profile to this instrument's traded volume
        (0 for indices, which do not trade; a future trades its own volume on its index's path)."""
        if inst.secType == "IND":
            return 0.0
        owner = self._path_owner(inst)
        if owner is inst or not owner.avgVolume:
            return 1.0
        return inst.avgVolume / owner.avgVolume

    def reference_spot(self, inst: Instrument) -> float:
        """Yesterday's closing level, used to centre listed strikes (stable within a day)."""
        today = (self.clock.now().date() - EPOCH).days
        return float(math.exp(self.daily_log_path(inst)[min(today, HORIZON_DAYS)]))

    def years_to_expiry(self, inst: Instrument, ts: float) -> float:
        """Time to expiry in years (expiry at 16:00 New York on the last trade date)."""
        if not inst.lastTradeDateOrContractMonth:
            return 0.0
        return max(_expiry_ts(inst.lastTradeDateOrContractMonth[:8]) - ts, 0.0) / (365.0 * _DAY)

    def spread(self, inst: Instrument, mid: float) -> float:
        """The quoted bid/ask spread for an instrument at a price."""
        tick = inst.minTick or 0.01
        if inst.is_option:
            tick = 0.05 if mid >= 3 else 0.01
            return max(tick, round_to_tick(mid * 0.03, tick))
        bps = _SPREAD_BPS.get(inst.secType, 2e-4)
        return max(tick, round_to_tick(mid * bps, tick)) if bps else 0.0

    def option_greeks(self, inst: Instrument, ts: float | None = None, und_price: float | None = None) -> Greeks:
        """Model value and greeks of an option from its underlying's price and the smile."""
        ts = self.clock.time() if ts is None else ts
        und = self.universe.get(inst.underConId)
        if und is None:
            raise KeyError(f"option {inst.localSymbol} has no underlying {inst.underConId}")
        spot = self.price(und, ts) if und_price is None else und_price
        years = self.years_to_expiry(inst, ts)
        skew = -0.45 if und.secType == "IND" else -0.25
        vol = smile_vol(und.volatility, spot, inst.strike, years, skew=skew)
        return black_scholes(spot, inst.strike, years, vol, inst.right)

    def quote(self, inst: Instrument, ts: float | None = None) -> Quote:
        """Top of book plus the day's open/high/low/volume and the previous close."""
        ts = self.clock.time() if ts is None else ts
        terms = self._terms.get(inst.conId)
        if terms is None or terms[0] is not inst:
            terms = self._quote_terms(inst)
        _, is_option, tick, bps, lot, last_lot, is_index = terms
        eff, is_open = self._effective_time(inst, ts)
        if is_option:
            mid = self.price(inst, eff)
            spr = self.spread(inst, mid)
            tick = 0.05 if mid >= 3 else 0.01
        else:  # the common case, inline: this runs for every line on every beat
            mid = self._path_price(inst, eff)
            spr = max(tick, round(round(mid * bps / tick) * tick, 10)) if bps else 0.0
        # sizes drawn per (contract, millisecond), inline: this runs for every line on every beat
        h = hash((inst.conId, int(ts * 1000))) & 0xFFFFFFFFFFFF
        if spr > 0:
            # whole ticks: the bid on the tick below mid less half the spread, the ask a spread above
            n_bid = round(max(mid - spr / 2, 0.0) / tick)
            bid = round(n_bid * tick, 10)
            ask = round((n_bid + round(spr / tick)) * tick, 10)
            if is_option and bid <= 0:
                ask = max(ask, tick)
            bid_size = float((1 + (h & 0xFFFF) % 39) * lot)
            ask_size = float((1 + ((h >> 16) & 0xFFFF) % 39) * lot)
            if lot < 1:  # fractional lots (crypto): keep sizes free of binary noise
                bid_size, ask_size = round(bid_size, 6), round(ask_size, 6)
        else:
            # an index is calculated, not quoted: TWS sends it no bid or ask, only last and the day's
            # statistics, so both stay 0 here and the feed leaves them out
            bid = ask = 0.0 if is_index else round_to_tick(mid, tick)
            bid_size = ask_size = 0.0
        last = round(round(mid / tick) * tick, 10)
        stats = self._stats.get((inst.conId, int(eff)))
        if stats is None:
            stats = self.day_stats(inst, eff)
        return Quote(ts, bid, ask, last, bid_size, ask_size, float((1 + ((h >> 32) & 0xFFFF) % 9) * last_lot),
                     stats["volume"], stats["open"], stats["high"], stats["low"], stats["close"], mid, is_open)

    def _quote_terms(self, inst: Instrument) -> tuple:
        """An instrument's fixed quoting terms (its tick, spread, lots), worked out once: a quote is
        built for every line on every beat, and these lookups were a good part of its cost."""
        terms = (inst, inst.is_option, inst.minTick or 0.01, _SPREAD_BPS.get(inst.secType, 2e-4),
                 DISPLAY_LOT.get(inst.secType, 1.0), trade_lot(inst), inst.secType == "IND")
        self._terms[inst.conId] = terms
        return terms

    def day_stats(self, inst: Instrument, ts: float) -> dict[str, float]:
        """Open, high, low and volume of the current trading day so far, and the previous close."""
        key = (inst.conId, int(ts))
        hit = self._stats.get(key)
        if hit is None:
            hit = self._day_stats(inst, ts)
            if len(self._stats) > 20000:  # the working set is one entry per streamed contract
                self._stats.clear()
            self._stats[key] = hit
        return hit

    def _day_stats(self, inst: Instrument, ts: float) -> dict[str, float]:
        tick = inst.minTick or 0.01
        moment = datetime.fromtimestamp(ts, UTC)
        if inst.is_option:
            g_prev = self.option_greeks(inst, ts - _DAY)
            g_now = self.option_greeks(inst, ts)
            seed_v = self._rng(inst.conId, 4, int(ts // _DAY))
            return {"open": round_to_tick(g_prev.price, 0.01),
                    "high": round_to_tick(max(g_prev.price, g_now.price), 0.01),
                    "low": round_to_tick(min(g_prev.price, g_now.price), 0.01),
                    "close": round_to_tick(g_prev.price, 0.01),
                    "volume": float(seed_v.integers(0, 5000))}
        owner = self._path_owner(inst)
        cal = inst.calendar
        day = self.calendar.trading_day(cal, moment)
        sessions = self.calendar.sessions(cal, day)
        start = sessions[0][0].timestamp() if sessions else ts - 60
        prev_close_ts = start - 1
        o = self.price(inst, start)
        hi = lo = o
        vol = 0.0
        t0 = int(start) // 60
        t1 = int(ts) // 60
        epoch_offset = (EPOCH - date(1970, 1, 1)).days
        m = t0
        while m <= t1:
            day_idx = m // MINUTES - epoch_offset
            bars = self.minute_bars(owner, day_idx)
            a = m % MINUTES
            b = min(MINUTES, a + (t1 - m) + 1)
            seg_h, seg_l = bars.high[a:b], bars.low[a:b]
            if len(seg_h):
                scale = self.track_scale(inst, start)
                hi = max(hi, float(seg_h.max()) * scale)
                lo = min(lo, float(seg_l.min()) * scale)
                vol += float(bars.volume[a:b].sum())
            m += b - a
        vol = float(round(vol * self.volume_scale(inst)))
        return {"open": round_to_tick(o, tick), "high": round_to_tick(hi, tick), "low": round_to_tick(lo, tick),
                "close": round_to_tick(self.price(inst, prev_close_ts), tick), "volume": vol}
