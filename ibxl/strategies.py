"""Option strategies: named spreads as combo contract text, and their payoff at expiry and today.

``strategy(kind, underlying, expiry=..., strikes=..., right=...)`` builds the combo text (no IB
call), which every function taking contract text accepts: ``quote``, ``quotes``, ``subscribe``,
``order``, ``what_if``. Buying the combo means taking the legs as listed; a negative combo price
is a credit. The kinds and their legs (one combo unit):

================  =====================================  ==========================================
kind              strikes                                legs (bought = +, sold = -)
================  =====================================  ==========================================
``vertical``      (k1, k2), right C or P                 +1 k1, -1 k2 (bull call: k1 < k2)
``straddle``      k                                      +1 k C, +1 k P
``strangle``      (put k1, call k2), k1 < k2             +1 k1 P, +1 k2 C
``butterfly``     (k1, k2, k3) rising, right C or P      +1 k1, -2 k2, +1 k3
``iron_condor``   (k1, k2, k3, k4) rising                +1 k1 P, -1 k2 P, -1 k3 C, +1 k4 C (a credit)
``calendar``      k, right, expiry=(near, far)           -1 near k, +1 far k
``covered_call``  k                                      +100 shares, -1 k C
``collar``        (put k1, call k2), k1 < k2             +100 shares, +1 k1 P, -1 k2 C
================  =====================================  ==========================================

``payoff(strategy, prices)`` gives the P&L of one combo unit across underlying prices, at the
first expiry and today (Black–Scholes with each leg's implied volatility, ``ibxl.greeks``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import greeks as bs
from .contracts import ComboLegSpec, ComboSpec, ContractSpec, parse_contract
from .errors import ContractSyntaxError, IBXLError
from .remote import on_hub

#: kind -> (number of strikes, needs a right, one-line description)
KINDS: dict[str, tuple[int, bool, str]] = {
    "vertical": (2, True, "+1 k1, -1 k2 of one right and expiry"),
    "straddle": (1, False, "+1 call and +1 put at one strike"),
    "strangle": (2, False, "+1 put at k1, +1 call at k2 (k1 < k2)"),
    "butterfly": (3, True, "+1 k1, -2 k2, +1 k3 (rising strikes)"),
    "iron_condor": (4, False, "+1 k1 put, -1 k2 put, -1 k3 call, +1 k4 call (rising strikes; a credit)"),
    "calendar": (1, True, "-1 near-expiry, +1 far-expiry at one strike"),
    "covered_call": (1, False, "+100 shares, -1 call"),
    "collar": (2, False, "+100 shares, +1 put at k1, -1 call at k2 (k1 < k2)"),
}
#: shares per option contract in the stock legs of covered calls and collars
SHARES_PER_CONTRACT = 100
#: underlying prices a payoff covers by default
DEFAULT_STEPS = 201


def _bad(why: str, hint: str = "") -> ContractSyntaxError:
    return ContractSyntaxError(why, hint=hint or "e.g. ibxl.strategy('vertical', 'SPY', expiry='20261218', "
                                                 "strikes=(600, 610), right='C'); kinds: " + ", ".join(KINDS))


@dataclass(frozen=True)
class Strategy:
    """A named strategy: its kind, underlying and legs; ``str()`` (and ``text``) is its combo text."""

    kind: str
    underlying: str
    text: str

    def __str__(self) -> str:
        return self.text


def _strikes(value: Any) -> list[float]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,;/]+", value.strip()) if p]
    elif isinstance(value, int | float | np.number):
        parts = [value]
    else:
        parts = [p for p in np.asarray(value, dtype=object).ravel().tolist() if p is not None and p != ""]
    out = []
    for p in parts:
        try:
            k = float(p)
        except (TypeError, ValueError):
            raise _bad(f"strike {p!r} is not a number") from None
        if not k > 0 or math.isinf(k):
            raise _bad(f"strike {p!r} must be a positive number")
        out.append(k)
    return out


def _expiries(value: Any, kind: str) -> list[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _bad(f"a {kind} needs an expiry (YYYYMMDD)", "list them with ibxl.expiries(underlying)")
    if isinstance(value, str):
        items = [p for p in re.split(r"[\s,;/]+", value.strip()) if p]
    elif isinstance(value, int | float):
        items = [str(int(value))]
    else:
        items = [str(int(v)) if isinstance(v, float) else str(v) for v in value]
    for e in items:
        if not re.fullmatch(r"\d{8}", e):
            raise _bad(f"expiry {e!r} is not YYYYMMDD", "list them with ibxl.expiries(underlying)")
    want = 2 if kind == "calendar" else 1
    if len(items) != want:
        raise _bad(f"a {kind} takes {'two expiries (near, far)' if want == 2 else 'one expiry'}, got {len(items)}")
    if kind == "calendar" and items[0] >= items[1]:
        raise _bad(f"a calendar's near expiry {items[0]} must come before its far expiry {items[1]}")
    return items


def strategy(kind: str, underlying: str, expiry: Any = None, strikes: Any = None, right: str | None = None) -> Strategy:
    """The combo of a named option strategy (no IB call); ``str()`` of the result is its contract text.

    ``kind``: vertical, straddle, strangle, butterfly, iron_condor, calendar, covered_call, collar
    (see the module's table for each one's legs). ``expiry``: YYYYMMDD (a calendar takes
    ``(near, far)``). ``strikes``: a number, a sequence or text such as ``"600,610"``. ``right``:
    C or P where the kind needs one.
    """
    name = str(kind or "").strip().lower().replace(" ", "_").replace("-", "_")
    if name not in KINDS:
        raise _bad(f"strategy kind {kind!r} is unknown")
    want, needs_right, what = KINDS[name]
    und = str(underlying or "").strip().upper()
    if not und:
        raise _bad("the underlying is empty - give a symbol such as SPY")
    spec = parse_contract(und)
    if not isinstance(spec, ContractSpec) or spec.sec_type not in ("STK", "IND") or " " in und:
        raise _bad(f"underlying {underlying!r} must be a stock, ETF or index symbol such as SPY")
    exps = _expiries(expiry, name)
    ks = _strikes(strikes)
    if len(ks) != want:
        raise _bad(f"a {name} takes {want} strike{'s' if want > 1 else ''} ({what}), got {len(ks)}")
    r = str(right or "").strip().upper()[:1]
    if needs_right and r not in ("C", "P"):
        raise _bad(f"a {name} needs right C or P (got {right!r})")
    if name in ("strangle", "collar") and not ks[0] < ks[1]:
        raise _bad(f"a {name} takes (put strike, call strike) with the put strike lower, got {ks[0]:g}, {ks[1]:g}")
    if name in ("butterfly", "iron_condor") and any(b <= a for a, b in zip(ks, ks[1:], strict=False)):
        raise _bad(f"a {name} takes rising strikes, got {', '.join(f'{k:g}' for k in ks)}")
    if name == "vertical" and ks[0] == ks[1]:
        raise _bad("a vertical takes two different strikes")
    if name in ("covered_call", "collar") and spec.sec_type == "IND":
        raise _bad(f"a {name} holds shares; {und} is an index")
    e = exps[0]

    sym = spec.symbol

    def opt(k: float, rt: str, exp: str = e) -> str:
        return f"{sym} {exp} {k:g} {rt}"

    legs: list[tuple[int, str]]
    if name == "vertical":
        legs = [(1, opt(ks[0], r)), (-1, opt(ks[1], r))]
    elif name == "straddle":
        legs = [(1, opt(ks[0], "C")), (1, opt(ks[0], "P"))]
    elif name == "strangle":
        legs = [(1, opt(ks[0], "P")), (1, opt(ks[1], "C"))]
    elif name == "butterfly":
        legs = [(1, opt(ks[0], r)), (-2, opt(ks[1], r)), (1, opt(ks[2], r))]
    elif name == "iron_condor":
        legs = [(1, opt(ks[0], "P")), (-1, opt(ks[1], "P")), (-1, opt(ks[2], "C")), (1, opt(ks[3], "C"))]
    elif name == "calendar":
        legs = [(-1, opt(ks[0], r, exps[0])), (1, opt(ks[0], r, exps[1]))]
    elif name == "covered_call":
        legs = [(SHARES_PER_CONTRACT, spec.text), (-1, opt(ks[0], "C"))]
    else:  # collar
        legs = [(SHARES_PER_CONTRACT, spec.text), (1, opt(ks[0], "P")), (-1, opt(ks[1], "C"))]
    text = ", ".join(f"{'+' if q > 0 else '-'}{abs(q)} {t}" for q, t in legs)
    return Strategy(name, sym, parse_contract(text).text)


#: strikes each kind takes by default, as steps from the at-the-money strike
_DEFAULT_STEPS = {"vertical": (0, 2), "straddle": (0,), "strangle": (-2, 2), "butterfly": (-2, 0, 2),
                  "iron_condor": (-4, -2, 2, 4), "calendar": (0,), "covered_call": (2,), "collar": (-2, 2)}


def default_strikes(kind: str, listed: Sequence[float], spot: float) -> list[float]:
    """Strikes for a kind around the money: e.g. a vertical buys the at-the-money strike and sells
    the one two listed strikes up; an iron condor's wings sit two and four strikes out."""
    name = str(kind).strip().lower()
    if name not in _DEFAULT_STEPS:
        raise _bad(f"strategy kind {kind!r} is unknown")
    ks = sorted(float(k) for k in listed)
    if not ks:
        raise _bad("no listed strikes to choose from")
    i = min(range(len(ks)), key=lambda j: abs(ks[j] - spot))
    return [ks[min(max(i + d, 0), len(ks) - 1)] for d in _DEFAULT_STEPS[name]]


# ------------------------------------------------------------ legs and payoff
@dataclass(frozen=True)
class LegModel:
    """What the payoff needs of one leg: signed ratio, multiplier, and for options strike, right, expiry."""

    ratio: int
    contract: str
    is_option: bool
    multiplier: float = 1.0
    strike: float = 0.0
    right: str = ""
    expiry: str = ""


def legs_of(combo: str | Strategy) -> list[LegModel]:
    """The legs of combo text (or a Strategy) as payoff models; single contracts are one leg."""
    spec = parse_contract(str(combo))
    items = spec.legs if isinstance(spec, ComboSpec) else (ComboLegSpec(1, spec),)
    out = []
    for x in items:
        leg: ContractSpec = x.leg
        if leg.con_id and not leg.symbol:
            raise _bad(f"leg conid={leg.con_id} has no description; payoff needs legs as text such as "
                       "'+1 SPY 20261218 600 C'")
        if leg.sec_type in ("OPT", "FOP"):
            out.append(LegModel(x.ratio, leg.text, True, float(leg.multiplier or 100), leg.strike, leg.right,
                                leg.expiry))
        elif leg.sec_type in ("STK",):
            out.append(LegModel(x.ratio, leg.text, False, 1.0))
        else:
            raise _bad(f"payoff covers options and their stock; leg {leg.text!r} is a {leg.sec_type}")
    und = {x.contract.split()[0] for x in out}
    if len(und) > 1:
        raise _bad(f"a payoff needs one underlying; the legs are on {', '.join(sorted(und))}")
    return out


def default_prices(legs: list[LegModel], spot: float, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Underlying prices a payoff covers: 20% beyond the outer strikes and the spot."""
    ks = [x.strike for x in legs if x.is_option] + ([spot] if spot == spot and spot > 0 else [])
    if not ks:
        raise IBXLError("no strikes and no underlying price to choose payoff prices from; pass prices=")
    return np.linspace(min(ks) * 0.8, max(ks) * 1.2, steps)


_years_cache: dict[tuple, np.ndarray] = {}


def _years(expiries: list[str], now: Any) -> np.ndarray:
    """Years to each expiry (``greeks.years_to``), memoised for the current second when ``now`` is
    None: parsing dates is most of a payoff's cost, and a second moves no option's value."""
    if now is not None:
        return np.asarray(bs.years_to(np.array(expiries), now), dtype=float)
    key = (tuple(expiries), int(time.time()))
    hit = _years_cache.get(key)
    if hit is None:
        if len(_years_cache) > 256:
            _years_cache.clear()
        hit = _years_cache[key] = np.asarray(bs.years_to(np.array(expiries)), dtype=float)
    return hit


def payoff_table(legs: list[LegModel], prices: Any, cost: float, ivs: Sequence[float], now: Any = None) -> pd.DataFrame:
    """P&L of one combo unit (in money, after paying ``cost``) at each underlying price: ``expiry``
    at the first option expiry (legs expiring later valued by Black–Scholes at that date) and
    ``today`` (every option by Black–Scholes with its implied volatility ``ivs``). Vectorised."""
    s = np.asarray(prices, dtype=float).reshape(-1, 1)
    opts = [i for i, x in enumerate(legs) if x.is_option]
    n = len(legs)
    qty = np.array([x.ratio * x.multiplier for x in legs], dtype=float)
    stock_value = s[:, 0] * sum(qty[i] for i in range(n) if not legs[i].is_option)
    at_expiry = stock_value.copy()
    today = stock_value.copy()
    if opts:
        k = np.array([legs[i].strike for i in opts])
        right = np.array([legs[i].right for i in opts])
        vol = np.array([ivs[i] for i in opts], dtype=float)
        years_now = _years([legs[i].expiry for i in opts], now)
        first = years_now.min()
        q = qty[opts]
        today = today + (np.asarray(bs.price(s, k, years_now, vol, right)) * q).sum(axis=1)
        at_expiry = at_expiry + (np.asarray(bs.price(s, k, years_now - first, vol, right)) * q).sum(axis=1)
    return pd.DataFrame({"expiry": at_expiry - cost, "today": today - cost},
                        index=pd.Index(s[:, 0], name="underlying"))


def summary_of(table: pd.DataFrame, legs: list[LegModel]) -> dict[str, Any]:
    """Max profit, max loss (inf when unbounded) and breakevens of a payoff table's expiry column
    (exact for one expiry when the table spans zero and every strike: the payoff is linear between)."""
    pnl = table["expiry"].to_numpy()
    s = table.index.to_numpy()
    # beyond the table the expiry payoff is linear: its slope there says whether it is bounded
    single_expiry = len({x.expiry for x in legs if x.is_option}) <= 1
    slope_up = sum(x.ratio * x.multiplier for x in legs if not x.is_option or x.right == "C")
    max_profit = math.inf if single_expiry and slope_up > 1e-9 else float(pnl.max())
    max_loss = -math.inf if single_expiry and slope_up < -1e-9 else float(pnl.min())
    breakevens: list[float] = []
    sign = np.where(np.abs(pnl) < 1e-9, 0.0, np.sign(pnl))
    last = -1  # index of the last price with a non-zero P&L
    for i in range(len(pnl)):
        if sign[i] == 0:
            continue
        if last >= 0 and sign[i] != sign[last]:
            if i == last + 1:  # crossed between two prices: interpolate
                breakevens.append(float(s[last] - pnl[last] * (s[i] - s[last]) / (pnl[i] - pnl[last])))
            else:  # touched zero on the grid: the middle of the zero run
                breakevens.append(float((s[last + 1] + s[i - 1]) / 2))
        last = i
    return {"max_profit": max_profit, "max_loss": max_loss, "breakevens": [round(b, 4) for b in breakevens]}


def _snapshots(texts: list[str], wait: float) -> list[Any]:
    """Latest quotes of contracts: straight from the cache when every line is open and has
    data (the warm path), else subscribing and waiting up to ``wait`` for first ticks."""
    from .live import registry, subscribe

    reg = registry()
    snaps = [reg.cached(t) for t in texts]
    if all(x is not None and x.has_data for x in snaps):
        return snaps
    handles = [subscribe(t, owner="strategies") for t in texts]
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not all(h.snapshot().has_data for h in handles):
            time.sleep(0.02)
        return [h.snapshot() for h in handles]
    finally:
        for h in handles:
            h.release()


def _price_of(snap: Any) -> float:
    return next((float(v) for v in (snap.mid, snap.last, snap.close) if v == v), float("nan"))


def _market(legs: list[LegModel], wait: float) -> tuple[float, list[float], list[float], list[Any]]:
    """Spot, each leg's mid and implied volatility, and the legs' snapshots, from ibxl's live quotes."""
    und = legs[0].contract.split()[0]
    snaps = _snapshots([und, *(x.contract for x in legs)], wait)
    spot = _price_of(snaps[0])
    if math.isnan(spot):
        raise IBXLError(f"no price for {und} yet; try again in a moment")
    mids, ivs = [], []
    for x, snap in zip(legs, snaps[1:], strict=True):
        mid = _price_of(snap)
        if math.isnan(mid):
            raise IBXLError(f"no price for leg {x.contract} yet; try again in a moment")
        mids.append(mid)
        iv = float(snap.iv)
        if x.is_option and math.isnan(iv):
            iv = float(bs.implied_vol(mid, spot, x.strike, bs.years_to(x.expiry), x.right))
        ivs.append(iv if iv == iv else 0.0)
    return spot, mids, ivs, snaps[1:]


@on_hub
def payoff(strategy: str | Strategy, prices: Any = None, *, cost: float | None = None, steps: int = DEFAULT_STEPS,
           wait: float = 2.0) -> pd.DataFrame:
    """P&L of one unit of a strategy (or any combo text) across underlying prices, at expiry and today.

    Returns a DataFrame indexed by ``underlying`` price with columns ``expiry`` and ``today``, in
    money (option multiplier included), after the cost of entering: ``cost`` if given (the combo
    price times the multiplier), else the legs' current mids. ``prices`` defaults to ``steps``
    prices from 20% below the lowest strike to 20% above the highest. Today's values use each
    leg's implied volatility from its live quote.
    """
    legs = legs_of(strategy)
    spot, mids, ivs, _ = _market(legs, wait)
    entry = sum(x.ratio * x.multiplier * m for x, m in zip(legs, mids, strict=True)) if cost is None else float(cost)
    grid = default_prices(legs, spot, steps) if prices is None else np.asarray(prices, dtype=float)
    if grid.ndim != 1 or len(grid) == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError("prices must be a non-empty list of non-negative numbers")
    return payoff_table(legs, grid, entry, ivs)


@on_hub
def strategy_summary(strategy: str | Strategy, *, wait: float = 2.0) -> dict[str, Any]:
    """Live figures of one unit of a strategy: combo bid/ask/mid (from its legs' quotes), entry cost,
    net greeks in money (delta and gamma in shares, vega per vol point, theta per day), max
    profit and max loss at expiry (inf when unbounded) and breakevens."""
    legs = legs_of(strategy)
    spot, mids, ivs, snaps = _market(legs, wait)
    bid = ask = 0.0
    for x, snap in zip(legs, snaps, strict=True):
        bid += x.ratio * (snap.bid if x.ratio > 0 else snap.ask)
        ask += x.ratio * (snap.ask if x.ratio > 0 else snap.bid)
    entry = sum(x.ratio * x.multiplier * m for x, m in zip(legs, mids, strict=True))
    net = {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0}
    for x, iv in zip(legs, ivs, strict=True):
        w = x.ratio * x.multiplier
        if x.is_option:
            g = bs.greeks(spot, x.strike, bs.years_to(x.expiry), iv, x.right)
            for name in net:
                net[name] += w * float(g[name])
        else:
            net["delta"] += w
    grid = np.unique(np.concatenate([[0.0], default_prices(legs, spot, 801),
                                     [x.strike for x in legs if x.is_option]]))
    table = payoff_table(legs, grid, entry, ivs)
    return {"contract": str(strategy), "underlying_price": spot, "bid": float(bid), "ask": float(ask),
            "mid": float((bid + ask) / 2), "cost": float(entry), **net, **summary_of(table, legs)}
