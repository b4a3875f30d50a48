"""The arithmetic of portfolio risk on plain arrays: position greeks, scenario grids, betas and
value at risk. No I/O: :mod:`ibxl.risk` gathers positions, quotes and history and calls these.

A *book* is a DataFrame with one row per position and these columns: ``quantity``,
``multiplier``, ``price`` (per unit), ``is_option``, ``und_price``, ``strike``, ``years``,
``right`` ('C'/'P', '' for linear), ``iv`` (fraction), model greeks per unit ``delta``, ``gamma``,
``vega``, ``theta`` (NaN where TWS sent none), ``beta`` and ``bench_price``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from . import greeks as bs

#: default scenario axes: underlying moves (fractions) and implied-vol shifts (vol points)
DEFAULT_MOVES = tuple(np.round(np.linspace(-0.20, 0.20, 41), 4))
DEFAULT_VOL_SHIFTS = tuple(float(x) for x in np.linspace(-10, 10, 21))
#: how far the grid may go: a move below -100% would make prices negative
MOVE_RANGE = (-0.95, 5.0)
VOL_SHIFT_RANGE = (-100.0, 500.0)
#: implied volatility never goes below this in a scenario (a vol shift cannot make it negative)
MIN_VOL = 0.005


def fill_greeks(book: pd.DataFrame) -> pd.DataFrame:
    """Per-unit greeks for every position: TWS's model greeks where present, Black–Scholes from
    the option's IV where not; linear instruments have delta 1. Adds ``greeks_source``."""
    opt = book["is_option"].to_numpy(bool)
    cols = {name: book[name].to_numpy(float).copy() for name in ("delta", "gamma", "vega", "theta")}
    missing = opt & ~np.isfinite(cols["delta"])
    if missing.any():
        g = bs.greeks(book["und_price"].to_numpy(float)[missing], book["strike"].to_numpy(float)[missing],
                      book["years"].to_numpy(float)[missing], book["iv"].to_numpy(float)[missing],
                      book["right"].to_numpy(str)[missing])
        for name in cols:
            cols[name][missing] = np.asarray(g[name], dtype=float)
    for name, linear in (("delta", 1.0), ("gamma", 0.0), ("vega", 0.0), ("theta", 0.0)):
        cols[name][~opt] = linear
    und = np.where(opt, book["und_price"].to_numpy(float), book["price"].to_numpy(float))
    source = np.where(~opt, "linear", np.where(missing, "black-scholes", "model"))
    return book.assign(**cols, und_price=und, greeks_source=source)


def position_risk(book: pd.DataFrame) -> dict[str, np.ndarray]:
    """Position-level exposures of a book whose greeks are filled (see :func:`fill_greeks`), as
    arrays: market_value, delta (underlying units), dollar_delta, gamma (delta change per 1 of
    the underlying), vega (per vol point), theta (per day), beta_delta (benchmark shares)."""
    q = book["quantity"].to_numpy(float) * book["multiplier"].to_numpy(float)
    delta = q * book["delta"].to_numpy(float)
    dollar = delta * book["und_price"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_delta = dollar * book["beta"].to_numpy(float) / book["bench_price"].to_numpy(float)
    return {"market_value": q * book["price"].to_numpy(float), "delta": delta, "dollar_delta": dollar,
            "gamma": q * book["gamma"].to_numpy(float), "vega": q * book["vega"].to_numpy(float),
            "theta": q * book["theta"].to_numpy(float), "beta_delta": beta_delta}


def check_axes(moves: np.ndarray, vol_shifts: np.ndarray, days: float) -> None:
    """Refuse scenario axes that cannot be priced, naming the bad value and the allowed range."""
    if moves.size == 0 or vol_shifts.size == 0:
        raise ValueError("moves and vol_shifts need at least one value each")
    for name, arr, (lo, hi), unit in (("moves", moves, MOVE_RANGE, "fractions, e.g. -0.2 for -20%"),
                                      ("vol_shifts", vol_shifts, VOL_SHIFT_RANGE, "vol points, e.g. -10")):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains a blank or non-numeric value")
        bad = arr[(arr < lo) | (arr > hi)]
        if bad.size:
            raise ValueError(f"{name} value {bad[0]:g} is out of range: use {lo:g} to {hi:g} ({unit})")
    if not np.isfinite(days) or days < 0:
        raise ValueError(f"days must be 0 or more (calendar days to age the options), not {days!r}")


def scenario_grid(book: pd.DataFrame, moves: np.ndarray, vol_shifts: np.ndarray, days: float = 0.0,
                  by_beta: bool = True) -> np.ndarray:
    """Portfolio P&L for every (move, vol shift): a len(moves) × len(vol_shifts) array.

    Each underlying moves by ``move × beta`` (``by_beta``) or by ``move``; options are repriced
    with Black–Scholes at the moved underlying, their IV plus the shift (vol points) and ``days``
    less to expiry, against their model value now, so the centre of a grid with ``days=0`` is 0.
    """
    moves = np.asarray(moves, dtype=float)
    shifts = np.asarray(vol_shifts, dtype=float)
    q = book["quantity"].to_numpy(float) * book["multiplier"].to_numpy(float)
    beta = np.nan_to_num(book["beta"].to_numpy(float), nan=1.0) if by_beta else np.ones(len(book))
    opt = book["is_option"].to_numpy(bool)
    grid = np.zeros((moves.size, shifts.size))
    lin = ~opt
    if lin.any():
        # linear positions: value moves with the underlying one for one; vol does not matter
        exposure = float(np.sum(q[lin] * book["price"].to_numpy(float)[lin] * beta[lin]))
        grid += (moves * exposure)[:, None]
    if opt.any():
        s = book["und_price"].to_numpy(float)[opt]
        k = book["strike"].to_numpy(float)[opt]
        y = book["years"].to_numpy(float)[opt]
        iv = book["iv"].to_numpy(float)[opt]
        right = book["right"].to_numpy(str)[opt]
        base = np.asarray(bs.price(s, k, y, iv, right), dtype=float)
        # shapes: moves (M,1,1) × shifts (1,V,1) × options (1,1,N)
        spot = s[None, None, :] * (1.0 + moves[:, None, None] * beta[opt][None, None, :])
        vol = np.maximum(iv[None, None, :] + shifts[None, :, None] / 100.0, MIN_VOL)
        aged = np.maximum(y - days / 365.0, 0.0)[None, None, :]
        value = bs.price(spot, k[None, None, :], aged, vol, right[None, None, :])
        grid += np.einsum("mvn,n->mv", value - base[None, None, :], q[opt])
    return grid


def betas(closes: pd.DataFrame, benchmark: str) -> pd.Series:
    """Beta of each column of daily closes to the ``benchmark`` column (covariance of daily
    returns over the benchmark's variance, on the days both traded)."""
    rets = closes.sort_index().pct_change(fill_method=None).iloc[1:]
    b = rets[benchmark]
    out = {}
    for col in rets.columns:
        pair = rets[[col]].assign(_b=b).dropna()
        var = pair["_b"].var(ddof=1)
        out[col] = float(pair[col].cov(pair["_b"]) / var) if len(pair) > 2 and var > 0 else float("nan")
    return pd.Series(out, dtype=float)


def portfolio_pnl_history(returns: pd.DataFrame, dollar_delta: pd.Series, dollar_gamma: pd.Series) -> pd.Series:
    """Historical P&L of today's exposures: for each past period, Σ dollar delta × return +
    ½ Σ dollar gamma × return² (delta–gamma), by underlying (the columns of ``returns``)."""
    cols = list(dollar_delta.index)
    r = returns[cols].dropna()
    return r @ dollar_delta.to_numpy(float) + 0.5 * (r * r) @ dollar_gamma.reindex(cols).fillna(0).to_numpy(float)


def var_es(returns: pd.DataFrame, dollar_delta: pd.Series, dollar_gamma: pd.Series, confidence: float,
           horizon_days: int, method: str) -> tuple[float, float]:
    """Value at risk and expected shortfall (positive numbers: losses) of today's exposures.

    ``returns``: daily returns by underlying. "historical": the ``horizon_days`` returns observed
    (overlapping windows) applied to today's exposures, delta–gamma; "parametric": normal with the
    covariance of daily returns, scaled by √horizon, delta only.
    """
    if dollar_delta.empty or not np.any(dollar_delta.to_numpy(float)) and not np.any(dollar_gamma.to_numpy(float)):
        return 0.0, 0.0
    if method == "parametric":
        cov = returns[list(dollar_delta.index)].dropna().cov().to_numpy(float)
        w = dollar_delta.to_numpy(float)
        sigma = float(np.sqrt(max(w @ cov @ w, 0.0)) * np.sqrt(horizon_days))
        z = float(ndtri(confidence))
        es = sigma * float(np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)) / (1.0 - confidence)
        return z * sigma, es
    growth = (1.0 + returns).rolling(horizon_days).apply(np.prod, raw=True) - 1.0 if horizon_days > 1 else returns
    pnl = portfolio_pnl_history(growth, dollar_delta, dollar_gamma).to_numpy(float)
    if pnl.size < 10:
        raise ValueError(f"only {pnl.size} periods of history for historical VaR; use a longer window "
                         "or method='parametric'")
    losses = -pnl
    var = float(np.quantile(losses, confidence))
    tail = losses[losses >= var]
    return max(var, 0.0), max(float(tail.mean()) if tail.size else var, 0.0)
