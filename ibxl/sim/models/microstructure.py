"""Trades, order-book ladders and five-second bars read off the market's one price path.

Pure model code: every function is deterministic in (seed, instrument, time), so tick-by-tick
trades, real-time bars, the depth ladder and top-of-book quotes tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instruments import Instrument
from .market import DISPLAY_LOT, EPOCH, MINUTES, Market, round_to_tick, trade_lot

_EPOCH_DAYS = (EPOCH.toordinal() - 719163)
DEPTH_VENUES = ("NSDQ", "ARCA", "BATS", "EDGX", "IEX", "NYSE", "MEMX", "BYX")


@dataclass(frozen=True)
class Trade:
    """One simulated print."""

    time: int
    price: float
    size: float


@dataclass(frozen=True)
class Bar:
    """An OHLCV bar with its volume-weighted average price and trade count."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


def _tick(market: Market, inst: Instrument, price: float) -> float:
    tick = inst.minTick or 0.01
    if inst.is_option:
        tick = 0.05 if price >= 3 else 0.01
    return tick


def second_volume(market: Market, inst: Instrument, second: int) -> float:
    """Volume traded in one epoch second: the minute's volume spread over its seconds."""
    owner = market._path_owner(inst)  # noqa: SLF001 - same path as the quotes
    minute = second // 60
    bars = market.minute_bars(owner, minute // MINUTES - _EPOCH_DAYS)
    vol = float(bars.volume[minute % MINUTES]) * market.volume_scale(inst)
    rng = np.random.default_rng([inst.conId, 7, minute])
    weights = rng.dirichlet(np.ones(60))
    lot = trade_lot(inst)
    return float(np.floor(vol * weights[second % 60] / lot) * lot)


def trades(market: Market, inst: Instrument, start: float, end: float) -> list[Trade]:
    """The prints in (start, end]: one per second that traded, at that second's price."""
    out = []
    for sec in range(int(start) + 1, int(end) + 1):
        size = second_volume(market, inst, sec) if inst.secType != "IND" else 0.0
        if size <= 0 and inst.secType not in ("CASH", "IND"):
            continue
        price = market.price(inst, sec)
        out.append(Trade(sec, round_to_tick(price, _tick(market, inst, price)), size))
    return out


def ladder(market: Market, inst: Instrument, ts: float, rows: int) -> tuple[list[tuple[float, float, str]],
                                                                            list[tuple[float, float, str]]]:
    """Bid and ask ladders (price, size, venue), best first; level 0 matches the top-of-book quote."""
    q = market.quote(inst, ts)
    tick = _tick(market, inst, q.mid)
    rng = np.random.default_rng([inst.conId, 11, int(ts * 4)])
    lot = DISPLAY_LOT.get(inst.secType, 1.0)
    bids, asks = [], []
    for level in range(rows):
        bsize = q.bid_size if level == 0 else float(rng.integers(1, 60) * lot * (1 + level * 0.3))
        asize = q.ask_size if level == 0 else float(rng.integers(1, 60) * lot * (1 + level * 0.3))
        venue = DEPTH_VENUES[(inst.conId + level) % len(DEPTH_VENUES)]
        bids.append((round_to_tick(q.bid - level * tick, tick), bsize, venue))
        asks.append((round_to_tick(q.ask + level * tick, tick), asize, venue))
    return bids, asks


def bar(market: Market, inst: Instrument, start: int, seconds: int, what: str = "TRADES") -> Bar:
    """The bar of ``seconds`` seconds starting at epoch second ``start``."""
    prices = np.array([market.price(inst, t) for t in range(start, start + seconds + 1)])
    if what in ("BID", "ASK"):
        half = np.array([market.spread(inst, p) / 2 for p in prices])
        prices = prices - half if what == "BID" else prices + half
    tick = _tick(market, inst, float(prices[0]))
    o, c = prices[0], prices[-1]
    hi, lo = prices.max(), prices.min()
    if what == "TRADES" and inst.secType not in ("IND", "CASH"):
        vols = np.array([second_volume(market, inst, t) for t in range(start + 1, start + seconds + 1)])
        volume = float(vols.sum())
        wap = float((vols * prices[1:]).sum() / volume) if volume else float(prices.mean())
        count = int((vols > 0).sum())
    else:
        volume, wap, count = 0.0, float(prices.mean()), 0
    return Bar(start, round_to_tick(o, tick), round_to_tick(hi, tick), round_to_tick(lo, tick),
               round_to_tick(c, tick), volume, round(wap, 6), count)
