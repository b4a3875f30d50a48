"""What a market-data subscriber sees: top-of-book changes and the extra statistics that
generic ticks ask for. Pure model code: field names, never tick ids."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .instruments import Instrument
from .market import EPOCH, HORIZON_DAYS, Market, Quote

#: top-of-book fields in the order TWS sends them after a subscription starts
TOP_FIELDS = ("bid", "ask", "last", "bid_size", "ask_size", "last_size", "volume", "high", "low", "close", "open")
#: the size a price tick carries with it (a separate size tick is sent only when the size alone changes)
_SIZE_OF_PRICE = {"bid": "bid_size", "ask": "ask_size", "last": "last_size"}
_INDEX = {name: Quote._fields.index(name) for name in TOP_FIELDS}  # a quote is a named tuple
_BOOK_FIELDS = TOP_FIELDS[:6]
#: the quote's bid, ask, last and their sizes (the order of the named tuple's fields)
_BOOK = slice(Quote._fields.index("bid"), Quote._fields.index("last_size") + 1)
_STATS = slice(Quote._fields.index("volume"), Quote._fields.index("close") + 1)


@dataclass
class QuoteFeed:
    """Remembers what one subscriber was last sent, so each update carries only the changes."""

    sent: dict[str, float] = field(default_factory=dict)
    stats: tuple = ()
    book: tuple = ()

    def changes(self, q: Quote, *, has_trades: bool = True, signed: bool = False) -> list[tuple[str, float]]:
        """The (field, value) pairs that differ from what was last sent (``signed``: prices may be
        zero or negative, as a combo's net price is)."""
        # the day's statistics change at most once a second: skip them when they are as last sent
        stats: tuple = q[_STATS]  # type: ignore[assignment]  # a slice of a named tuple is a tuple
        book: tuple = q[_BOOK]  # type: ignore[assignment]
        if stats == self.stats:
            if book == self.book:
                # beats often come faster than the book moves: the same book as the last call
                # leaves every field as last sent, so there is nothing to compare
                return []
            fields: tuple[str, ...] = _BOOK_FIELDS
        else:
            fields = TOP_FIELDS
            self.stats = stats
        self.book = book
        out: list[tuple[str, float]] = []
        sent = self.sent
        priced: set[str] = set()
        for name in fields:
            if not has_trades and name in ("last", "last_size", "volume"):
                continue
            value = float(q[_INDEX[name]])
            if value <= 0 and name in ("bid", "ask") and not signed:
                continue
            if sent.get(name) != value:
                sent[name] = value
                if name in _SIZE_OF_PRICE:
                    priced.add(_SIZE_OF_PRICE[name])
                    sent[_SIZE_OF_PRICE[name]] = float(q[_INDEX[_SIZE_OF_PRICE[name]]])
                elif name in priced:
                    continue  # the price tick just sent carries this size, as TWS's tickPrice does
                out.append((name, value))
        return out


def has_trades(inst: Instrument) -> bool:
    """Indices and forex quotes carry no trades (no last size, no volume), as on TWS."""
    return inst.secType not in ("CASH",)


def extended_stats(market: Market, inst: Instrument, ts: float) -> dict[str, float]:
    """52/26/13-week ranges, average volume and realized volatility from the daily path."""
    today = min(int((ts // 86400) - (EPOCH.toordinal() - 719163)), HORIZON_DAYS)
    path = market.daily_log_path(inst)  # the same path the market quotes (an ETF's at its ratio)
    out: dict[str, float] = {}
    for weeks, lo_key, hi_key in ((13, "low_13w", "high_13w"), (26, "low_26w", "high_26w"),
                                  (52, "low_52w", "high_52w")):
        seg = np.exp(path[max(0, today - weeks * 7): today + 1])
        out[lo_key], out[hi_key] = float(seg.min()), float(seg.max())
    rets = np.diff(path[max(0, today - 30): today + 1])
    out["hist_vol"] = float(rets.std() * math.sqrt(252)) if len(rets) > 2 else inst.volatility
    rets10 = np.diff(path[max(0, today - 10): today + 1])
    out["rt_hist_vol"] = float(rets10.std() * math.sqrt(252)) if len(rets10) > 2 else inst.volatility
    out["avg_volume"] = float(inst.avgVolume)
    out["implied_vol"] = float(inst.volatility)
    return out
