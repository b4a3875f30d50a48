"""Portfolio risk as DataFrames (``ibxl.risk``, ``ibxl.scenarios``, ``ibxl.var``): greeks by
position and in total, beta-weighted delta, scenario grids of P&L and value at risk, for one
account, several, or every account of the login. (The module is not named ``risk`` so that
importing it never shadows the ``ibxl.risk`` function.)

Option greeks are TWS's model greeks from the live quote cache, or Black–Scholes
(:mod:`ibxl.greeks`) from the option's implied volatility where TWS sent none; stocks and futures
have delta 1 × multiplier. Betas come from daily closes in the local bar store
(:func:`ibxl.history`). Combination positions arrive from TWS per leg, so they count leg by leg.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from ib_async import Contract

from . import greeks as bs
from . import risk_engine as engine
from .account import TOTAL, AccountArg, account_ids
from .connection import client as _client
from .contracts import contract_text
from .errors import IBXLError
from .remote import on_hub

RISK_COLUMNS = ["account", "contract", "symbol", "sec_type", "underlying", "quantity", "price", "market_value",
                "und_price", "iv", "unit_delta", "delta", "dollar_delta", "gamma", "vega", "theta", "beta",
                "beta_delta", "greeks_source"]
#: columns of the risk table that add up in a Total row
SUMMED = ["market_value", "delta", "dollar_delta", "gamma", "vega", "theta", "beta_delta"]
VAR_COLUMNS = ["account", "method", "confidence", "horizon_days", "positions", "var", "expected_shortfall"]
METHODS = ("historical", "parametric")

_lock = threading.Lock()
# Caches are per connection (the id of ibxl's client), since another gateway is another market.
#: (connection, option conId) -> its underlying contract (contract details do not change)
_underlyings: dict[tuple[int, int], Contract] = {}
#: (connection, underlying text, window, day) -> daily closes; (..., benchmark, ...) -> beta
_closes: dict[tuple[int, str, str, str], pd.Series] = {}
_betas: dict[tuple[int, str, str, str, str], float] = {}
#: quote lines already given their one wait for model greeks (TWS may never send them)
_waited: set[str] = set()
#: contract text -> contract of every underlying seen, for fetching its history
_known: dict[str, Contract] = {}


def _multiplier(con: Contract) -> float:
    try:
        return float(con.multiplier) if con.multiplier else 1.0
    except ValueError:
        return 1.0


def _underlying(c: Any, con: Contract) -> Contract:
    """The underlying of an option (from its contract details, once per contract); linear
    instruments are their own underlying."""
    if con.secType not in ("OPT", "FOP"):
        return con
    hit = _underlyings.get((id(c), con.conId))
    if hit is not None:
        return hit

    async def look_up() -> Contract:
        details = await c.ib.reqContractDetailsAsync(Contract(conId=con.conId, exchange=con.exchange or "SMART"))
        if not details or not details[0].underConId:
            raise IBXLError(f"no underlying found for {contract_text(con)}")
        found = await c.ib.qualifyContractsAsync(Contract(conId=details[0].underConId))
        if not found:
            raise IBXLError(f"underlying conId {details[0].underConId} of {contract_text(con)} is unknown")
        return found[0]

    und = c.run(look_up)
    _underlyings[(id(c), con.conId)] = und
    return und


def _snapshot(con: Contract, wait: float, need_greeks: bool):  # noqa: ANN202 - live.QuoteSnapshot
    """The latest quote from the shared line cache (opening the line and waiting for its first
    tick, and for model greeks of options, only when it is not warm yet)."""
    from .live import first_snapshot, registry

    reg = registry()
    key = _text(con)
    snap = reg.cached(key)
    if snap is not None and snap.has_data and (not need_greeks or math.isfinite(snap.delta) or key in _waited):
        return snap
    snap = first_snapshot(con, wait)
    deadline = time.monotonic() + wait
    while need_greeks and not math.isfinite(snap.delta) and time.monotonic() < deadline:
        time.sleep(0.02)
        snap = reg.line(con).snapshot
    if need_greeks and snap.has_data:
        # waited once: from now on this option falls back to Black–Scholes at once when greeks are missing
        _waited.add(key)
    reg.cached(key)  # a read: keeps the line from being closed as idle
    return snap


def _price_of(snap: Any) -> float:
    for v in (snap.price, snap.last, snap.mid, snap.close):
        if v == v:
            return float(v)
    return float("nan")


def _day() -> str:
    return pd.Timestamp.now(tz="UTC").strftime("%Y%m%d")


def _daily_closes(con: Contract, window: str) -> pd.Series:
    """Daily closes of a contract over ``window`` from the bar store (kept in memory for the day)."""
    from .bars import history

    text = contract_text(con)
    key = (id(_client()), text, window, _day())
    hit = _closes.get(key)
    if hit is None:
        what = "MIDPOINT" if con.secType == "CASH" else "TRADES"
        bars = history(text, duration=window, bar_size="1 day", what=what)
        hit = bars["close"].copy()
        hit.index = pd.DatetimeIndex(hit.index.date)
        _closes[key] = hit
    return hit


def _beta(und: Contract, bench: Contract, benchmark: str, window: str) -> float:
    text = _text(und)
    key = (id(_client()), text, benchmark, window, _day())
    hit = _betas.get(key)
    if hit is None:
        frame = pd.DataFrame({"und": _daily_closes(und, window), "bench": _daily_closes(bench, window)})
        hit = float(engine.betas(frame, "bench")["und"])
        _betas[key] = hit
    return hit


def _positions(account: AccountArg) -> tuple[list[str], bool, list[Any]]:
    ids, multi = account_ids(account)
    c = _client()
    held = c.call(lambda: [p for p in c.ib.positions() if p.account in ids and p.position])
    return ids, multi, held


def _book(account: AccountArg, benchmark: str, window: str, wait: float, with_beta: bool = True) -> pd.DataFrame:
    """One row per position with everything the risk arithmetic needs (see ``risk_engine``)."""
    from .contracts import resolve

    ids, _, held = _positions(account)
    c = _client()
    rows = []
    bench = resolve(benchmark) if with_beta else None
    bench_price = _price_of(_snapshot(bench, wait, False)) if bench is not None else float("nan")
    _open_lines([p.contract for p in held])
    for p in held:
        con = p.contract
        is_opt = con.secType in ("OPT", "FOP")
        with _lock:
            und = _underlying(c, con)
        und_text = _text(und)
        _known[und_text] = und
        snap = _snapshot(con, wait, is_opt)
        price = _price_of(snap)
        und_price = float("nan")
        if is_opt:
            und_price = snap.und_price if snap.und_price == snap.und_price else _price_of(_snapshot(und, wait, False))
        beta = _beta(und, bench, benchmark, window) if bench is not None else float("nan")
        rows.append((p.account, _text(con), con.symbol, con.secType, und_text, float(p.position), _multiplier(con),
                     price, is_opt, und_price, float(con.strike) if is_opt else float("nan"),
                     con.lastTradeDateOrContractMonth if is_opt else "", con.right if is_opt else "", snap.iv,
                     snap.delta, snap.gamma, snap.vega, snap.theta, beta, bench_price))
    book = pd.DataFrame(rows, columns=["account", "contract", "symbol", "sec_type", "underlying", "quantity",
                                       "multiplier", "price", "is_option", "und_price", "strike", "expiry", "right",
                                       "iv", "delta", "gamma", "vega", "theta", "beta", "bench_price"])
    if book.empty:
        return book
    opt = book["is_option"].to_numpy(bool)
    years = np.zeros(len(book))
    if opt.any():
        # one vectorised call for every option (years_to is a pandas computation)
        years[opt] = np.atleast_1d(bs.years_to(book["expiry"].to_numpy(str)[opt]))
    book["years"] = years
    iv = book["iv"].to_numpy(float).copy()
    no_iv = opt & ~np.isfinite(iv) & np.isfinite(book["price"].to_numpy(float))
    if no_iv.any():
        # no model greeks from TWS: the IV the option's own price implies
        iv[no_iv] = np.atleast_1d(bs.implied_vol(book["price"].to_numpy(float)[no_iv],
                                                 book["und_price"].to_numpy(float)[no_iv],
                                                 book["strike"].to_numpy(float)[no_iv], years[no_iv],
                                                 book["right"].to_numpy(str)[no_iv]))
        book["iv"] = iv
    return engine.fill_greeks(book)


def _open_lines(contracts: list[Contract]) -> None:
    """Open the quote lines not open yet all at once, so that their first ticks arrive together
    rather than one wait after another."""
    from .live import registry

    reg = registry()
    for con in contracts:
        if reg.cached(_text(con)) is None:
            reg.line(con)


_texts: dict[int, str] = {}


def _text(con: Contract) -> str:
    """Canonical text of a contract (memoised by conId: the warm path asks for it often)."""
    hit = _texts.get(con.conId)
    if hit is None:
        hit = contract_text(con)
        if con.conId:
            _texts[con.conId] = hit
    return hit


def _empty(ids: list[str]) -> IBXLError:
    return IBXLError(f"account {', '.join(ids)} holds no positions - there is no risk to measure",
                     hint="buy something first, or pick another account (account='All' for every account)")


def _check_window(window: str) -> str:
    from .bars import parse_duration

    try:
        parse_duration(str(window))
    except Exception:
        raise ValueError(f"window {window!r} - give a duration such as '1 Y', '6 M' or '90 D'") from None
    return str(window)


@on_hub
def risk(account: AccountArg = None, benchmark: str = "SPY", window: str = "1 Y", wait: float = 3.0) -> pd.DataFrame:
    """Risk by position, one row each, and a Total row: quantity, price, market value, delta (in
    underlying units), dollar delta, gamma, vega (per vol point), theta (per day), beta to the
    benchmark over ``window`` of daily history, and beta-weighted delta in benchmark shares.

    ``account``: the connection's account (default), an id, a list, or "All" (then a Total row
    per account and one for all). Options use TWS's model greeks, else Black–Scholes from their IV.
    """
    window = _check_window(window)
    ids, multi = account_ids(account)
    book = _book(ids if multi else ids[0], benchmark, window, wait)
    if book.empty:
        raise _empty(ids)
    return risk_table(book, multi)


def risk_table(book: pd.DataFrame, multi: bool = False) -> pd.DataFrame:
    """The risk table of a book with filled greeks (see :func:`ibxl.risk_engine.fill_greeks`),
    with a Total row (per account and overall when ``multi``)."""
    r = engine.position_risk(book)
    is_opt = book["is_option"].to_numpy(bool)
    cols: dict[str, np.ndarray] = {
        "account": book["account"].to_numpy(object), "contract": book["contract"].to_numpy(object),
        "symbol": book["symbol"].to_numpy(object), "sec_type": book["sec_type"].to_numpy(object),
        "underlying": book["underlying"].to_numpy(object), "quantity": book["quantity"].to_numpy(float),
        "price": book["price"].to_numpy(float), "market_value": r["market_value"],
        "und_price": book["und_price"].to_numpy(float),
        "iv": np.where(is_opt, book["iv"].to_numpy(float), np.nan), "unit_delta": book["delta"].to_numpy(float),
        "delta": r["delta"], "dollar_delta": r["dollar_delta"], "gamma": r["gamma"], "vega": r["vega"],
        "theta": r["theta"], "beta": book["beta"].to_numpy(float), "beta_delta": r["beta_delta"],
        "greeks_source": book["greeks_source"].to_numpy(object)}
    accounts = cols["account"]
    groups = [(a, accounts == a) for a in dict.fromkeys(accounts)] if multi else []
    labels = [*(a for a, _ in groups), TOTAL if multi else (accounts[0] if len(accounts) else "")]
    masks = [*(m for _, m in groups), np.ones(len(accounts), bool)]
    for name in RISK_COLUMNS:
        if name in SUMMED:
            extra = np.array([cols[name][m].sum() for m in masks], dtype=float)
        elif name == "account":
            extra = np.array(labels, dtype=object)
        elif name == "contract":
            extra = np.array([TOTAL] * len(masks), dtype=object)
        elif cols[name].dtype == object:
            extra = np.array([""] * len(masks), dtype=object)
        else:
            extra = np.full(len(masks), np.nan)
        cols[name] = np.concatenate([cols[name], extra])
    return pd.DataFrame(cols, columns=RISK_COLUMNS)


def _axis(values: object, default: tuple[float, ...], name: str) -> np.ndarray:
    if values is None:
        return np.asarray(default, dtype=float)
    if isinstance(values, str):
        raise ValueError(f"{name} must be numbers (a list such as [-0.1, 0, 0.1]), not text {values!r}")
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (a list such as [-0.1, 0, 0.1])") from None
    return arr


@on_hub
def scenarios(moves: object = None, vol_shifts: object = None, days: float = 0, account: AccountArg = None,
              by_beta: bool = True, benchmark: str = "SPY", window: str = "1 Y", wait: float = 3.0) -> pd.DataFrame:
    """Portfolio P&L for a grid of underlying moves (rows; fractions, default -20% to +20% in 1%
    steps) × implied-vol shifts (columns; vol points, default -10 to +10).

    Options are repriced with Black–Scholes at the moved underlying, shifted IV and ``days`` later;
    each underlying moves by its beta to the benchmark times the move (``by_beta=True``) or by the
    move itself. ``account``: as in :func:`risk` (a list or "All" gives the grid of them together).
    """
    mv = _axis(moves, engine.DEFAULT_MOVES, "moves")
    vs = _axis(vol_shifts, engine.DEFAULT_VOL_SHIFTS, "vol_shifts")
    try:
        d = float(days)
    except (TypeError, ValueError):
        raise ValueError(f"days must be a number of calendar days, not {days!r}") from None
    engine.check_axes(mv, vs, d)
    window = _check_window(window)
    ids, multi = account_ids(account)
    book = _book(ids if multi else ids[0], benchmark, window, wait, with_beta=by_beta)
    if book.empty:
        raise _empty(ids)
    _check_ivs(book)
    grid = engine.scenario_grid(book, mv, vs, d, by_beta)
    return pd.DataFrame(grid, index=pd.Index(mv, name="move"), columns=pd.Index(vs, name="vol_shift"))


def _check_ivs(book: pd.DataFrame) -> None:
    bad = book[book["is_option"].astype(bool) & ~np.isfinite(book["iv"].to_numpy(float))]
    if not bad.empty:
        raise IBXLError(f"no implied volatility for {bad['contract'].iloc[0]} (TWS sent no model greeks and "
                        "there is no price to imply one from)", hint="try again once the option has quotes")


@on_hub
def var(confidence: float = 0.99, horizon_days: int = 1, method: str = "historical", account: AccountArg = None,
        window: str = "1 Y", wait: float = 3.0) -> pd.DataFrame:
    """Value at risk and expected shortfall (as positive losses in the base currency) of today's
    positions over ``horizon_days``, from the daily history of each position's underlying.

    ``method``: "historical" (past ``horizon_days`` returns applied to today's delta and gamma) or
    "parametric" (normal, from the returns' covariance, delta only). ``account``: as in
    :func:`risk`; a list or "All" gives a row per account and one for them together. An account
    holding only cash has a VaR of 0.
    """
    try:
        conf = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number such as 0.99, not {confidence!r}") from None
    if not 0.5 <= conf < 1.0:
        raise ValueError(f"confidence {conf:g} is out of range: use 0.5 to 0.999 (e.g. 0.99 for 99%)")
    try:
        horizon = int(horizon_days)
    except (TypeError, ValueError):
        raise ValueError(f"horizon_days must be a whole number of days, not {horizon_days!r}") from None
    if horizon != horizon_days or not 1 <= horizon <= 250:
        raise ValueError(f"horizon_days {horizon_days!r} is out of range: use a whole number from 1 to 250")
    how = str(method).strip().lower()
    if how not in METHODS:
        raise ValueError(f"method {method!r} - use 'historical' or 'parametric'")
    window = _check_window(window)
    ids, multi = account_ids(account)
    book = _book(ids if multi else ids[0], "SPY", window, wait, with_beta=False)
    parts = [(a, book[book["account"] == a]) for a in ids] if multi else [(ids[0], book)]
    if multi:
        parts.append((TOTAL, book))
    rows = []
    for acct, part in parts:
        rows.append({"account": acct, "method": how, "confidence": conf, "horizon_days": horizon,
                     "positions": len(part), **_var_of(part, conf, horizon, how, window)})
    return pd.DataFrame(rows, columns=VAR_COLUMNS)


def _var_of(part: pd.DataFrame, conf: float, horizon: int, how: str, window: str) -> dict[str, float]:
    if part.empty:
        return {"var": 0.0, "expected_shortfall": 0.0}
    r = engine.position_risk(part)
    exposure = pd.DataFrame({"underlying": part["underlying"].to_numpy(object), "dollar_delta": r["dollar_delta"],
                             "dollar_gamma": r["gamma"] * part["und_price"].to_numpy(float) ** 2})
    by_und = exposure.groupby("underlying")[["dollar_delta", "dollar_gamma"]].sum()
    closes = {text: _daily_closes(_known[text], window) for text in by_und.index}
    rets = pd.DataFrame(closes).sort_index().pct_change(fill_method=None).iloc[1:]
    v, es = engine.var_es(rets, by_und["dollar_delta"], by_und["dollar_gamma"], conf, horizon, how)
    return {"var": v, "expected_shortfall": es}
