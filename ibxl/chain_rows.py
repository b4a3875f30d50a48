"""One option-chain row from a snapshot or a live line, with Black–Scholes greeks (from the IV
TWS quoted at the bid/ask, else from the option's price) where TWS's model greeks did not arrive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ib_async import Contract, Ticker

from . import greeks as bs
from .contracts import contract_text
from .tick_values import greek_value, tick_value

CHAIN_COLUMNS = ["contract", "expiry", "strike", "right", "bid", "ask", "last", "mid", "volume", "open_interest",
                 "iv", "delta", "gamma", "vega", "theta", "und_price", "greeks_source"]
NAN = float("nan")


@dataclass
class Quote:
    """What one option's snapshot (or live line) said, as plain numbers."""

    bid: float = NAN
    ask: float = NAN
    last: float = NAN
    close: float = NAN
    volume: float = NAN
    open_interest: float = NAN
    #: TWS's model: iv, delta, gamma, vega, theta, und_price (None when it did not arrive)
    model: tuple[float, ...] | None = None
    #: (iv, und_price) TWS computed at the bid, ask and last
    side_ivs: list[tuple[float, float]] = field(default_factory=list)


def from_ticker(o: Contract, t: Ticker) -> Quote:
    """What an ended snapshot's ticker holds for option ``o``."""
    g = t.modelGreeks
    model = None
    if g is not None and g.delta is not None:
        model = (tick_value(g.impliedVol), greek_value(g.delta), greek_value(g.gamma), greek_value(g.vega),
                 greek_value(g.theta), tick_value(g.undPrice))
    sides = [(tick_value(x.impliedVol), tick_value(x.undPrice)) for x in (t.bidGreeks, t.askGreeks, t.lastGreeks)
             if x is not None]
    return Quote(tick_value(t.bid), tick_value(t.ask), tick_value(t.last), tick_value(t.close), tick_value(t.volume),
                 open_interest_of(o, t), model, sides)


def from_line(snap: Any) -> Quote:
    """A live line's latest snapshot (a QuoteSnapshot) read instead of asking again."""
    model = None if snap.delta != snap.delta else (snap.iv, snap.delta, snap.gamma, snap.vega, snap.theta,
                                                    snap.und_price)
    return Quote(snap.bid, snap.ask, snap.last, snap.close, snap.volume, snap.open_interest, model)


def chain_row(o: Contract, q: Quote, spot: float) -> dict:
    """One chain row; greeks computed with Black–Scholes where TWS's model sent none."""
    bid, ask = q.bid, q.ask
    row = {"contract": contract_text(o), "expiry": o.lastTradeDateOrContractMonth, "strike": float(o.strike),
           "right": o.right, "bid": bid, "ask": ask, "last": q.last,
           "mid": (bid + ask) / 2 if bid == bid and ask == ask else NAN, "volume": q.volume,
           "open_interest": q.open_interest, "iv": NAN, "delta": NAN, "gamma": NAN, "vega": NAN, "theta": NAN,
           "und_price": NAN, "greeks_source": ""}
    if q.model is not None:
        iv, delta, gamma, vega, theta, und = q.model
        row.update(iv=iv, delta=delta, gamma=gamma, vega=vega, theta=theta, und_price=und if und == und else spot,
                   greeks_source="model")
        return row
    _computed(row, q, spot)
    return row


def _computed(row: dict, q: Quote, spot: float) -> None:
    """Greeks from the IV TWS quoted on the bid/ask/last, else from the option's price (implied vol)."""
    from .live import market_price

    unds = [u for _, u in q.side_ivs if u == u and u > 0]
    und = unds[0] if unds else spot
    ivs = [v for v, _ in q.side_ivs if v == v and v > 0]
    years = bs.years_to(row["expiry"])
    iv = float(np.mean(ivs)) if ivs else NAN
    if iv != iv:
        px = market_price(row["bid"], row["ask"], row["last"], q.close)
        if px == px and und == und:
            iv = float(bs.implied_vol(px, und, row["strike"], years, row["right"]))
    if iv != iv or und != und:
        return
    g = bs.greeks(und, row["strike"], years, iv, row["right"])
    row.update(iv=iv, delta=g["delta"], gamma=g["gamma"], vega=g["vega"], theta=g["theta"], und_price=und,
               greeks_source="computed")


#: Ticker fields a snapshot fills; ib_async hands back the same Ticker for the same contract, so an
#: earlier snapshot's values are cleared first and a field TWS leaves out now reads as missing
_SNAPSHOT_FIELDS = ("bid", "ask", "last", "bidSize", "askSize", "lastSize", "volume", "close", "open", "high", "low",
                    "modelGreeks", "bidGreeks", "askGreeks", "lastGreeks", "callOpenInterest", "putOpenInterest")


def clear_ticker(t: Ticker) -> None:
    """Blank the fields a snapshot fills, before asking for a new snapshot into the same ticker."""
    blank = Ticker()
    for name in _SNAPSHOT_FIELDS:
        setattr(t, name, getattr(blank, name))


def open_interest_of(o: Contract, t: Ticker) -> float:
    """The open interest a ticker holds for its option's side (NaN when none arrived)."""
    return tick_value(t.callOpenInterest if o.right == "C" else t.putOpenInterest)
