"""Black–Scholes values, greeks and implied volatility, vectorised over NumPy arrays.

One model for the whole data layer: option strategies (payoff today), portfolio risk (greeks
where TWS sent none, scenario repricing) and option chains (greeks when the model tick is late)
all price here. Units follow TWS: ``vega`` per 1 volatility point (0.01), ``theta`` per calendar
day, ``iv`` and ``vol`` as fractions (0.25 = 25%), ``years`` as a fraction of 365 days.
Every function takes scalars or arrays that broadcast together and returns floats or arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

#: the risk-free rate ibxl assumes when none is given (the embedded gateway uses the same)
RATE = 0.04
_SQRT_2PI = np.sqrt(2.0 * np.pi)
#: years below this count as expired (one minute)
_MIN_YEARS = 1.0 / (365.0 * 24 * 60)

ArrayLike = Any


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _is_call(right: ArrayLike) -> np.ndarray:
    r = np.asarray(right)
    if r.dtype.kind in "US" or r.dtype == object:
        return np.char.upper(np.char.strip(r.astype(str))).astype("U1") == "C"
    return r.astype(bool)


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _d1_d2(spot: np.ndarray, strike: np.ndarray, years: np.ndarray, vol: np.ndarray,
           rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.maximum(years, _MIN_YEARS)
    v = np.maximum(vol, 1e-6)
    sq = v * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(spot / strike) + (rate + 0.5 * v * v) * t) / sq
    return d1, d1 - sq, t


def price(spot: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike, right: ArrayLike,
          rate: ArrayLike = RATE) -> Any:
    """Black–Scholes value of European calls ('C') and puts ('P'); intrinsic value at expiry."""
    s, k, y, v, r = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol, rate))
    call = _is_call(right)
    d1, d2, t = _d1_d2(s, k, y, v, r)
    disc = np.exp(-r * t)
    value = np.where(call, s * ndtr(d1) - k * disc * ndtr(d2), k * disc * ndtr(-d2) - s * ndtr(-d1))
    intrinsic = np.where(call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    return _out(np.where((y <= _MIN_YEARS) | (v <= 0), intrinsic, value))


def greeks(spot: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike, right: ArrayLike,
           rate: ArrayLike = RATE) -> dict[str, Any]:
    """Value and greeks: ``price``, ``delta``, ``gamma``, ``vega`` (per vol point) and ``theta``
    (per calendar day), in TWS's units. Expired options have intrinsic value and delta 0 or ±1."""
    s, k, y, v, r = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol, rate))
    call = _is_call(right)
    d1, d2, t = _d1_d2(s, k, y, v, r)
    disc = np.exp(-r * t)
    sqt = np.sqrt(t)
    pdf1 = _pdf(d1)
    live = (y > _MIN_YEARS) & (v > 0)
    value = np.where(call, s * ndtr(d1) - k * disc * ndtr(d2), k * disc * ndtr(-d2) - s * ndtr(-d1))
    intrinsic = np.where(call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    delta_live = np.where(call, ndtr(d1), ndtr(d1) - 1.0)
    delta_dead = np.where(call, (s > k).astype(float), -(s < k).astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(live, pdf1 / (s * np.maximum(v, 1e-6) * sqt), 0.0)
    vega = np.where(live, s * pdf1 * sqt / 100.0, 0.0)
    theta_year = np.where(call, -s * pdf1 * v / (2 * sqt) - r * k * disc * ndtr(d2),
                          -s * pdf1 * v / (2 * sqt) + r * k * disc * ndtr(-d2))
    return {"price": _out(np.where(live, value, intrinsic)), "delta": _out(np.where(live, delta_live, delta_dead)),
            "gamma": _out(gamma), "vega": _out(vega), "theta": _out(np.where(live, theta_year / 365.0, 0.0))}


def implied_vol(option_price: ArrayLike, spot: ArrayLike, strike: ArrayLike, years: ArrayLike, right: ArrayLike,
                rate: ArrayLike = RATE, *, low: float = 1e-4, high: float = 5.0, iterations: int = 60) -> Any:
    """The volatility at which Black–Scholes gives ``option_price`` (bisection, vectorised).

    NaN where the price lies outside what any volatility can give (below intrinsic value, above
    the underlying for a call) or where the option has expired.
    """
    p, s, k, y, r = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (option_price, spot, strike, years,
                                                                                 rate)))
    rights = np.broadcast_to(np.asarray(right), p.shape)
    lo = np.full(p.shape, low)
    hi = np.full(p.shape, high)
    p_lo = np.asarray(price(s, k, y, lo, rights, r))
    p_hi = np.asarray(price(s, k, y, hi, rights, r))
    ok = (p >= p_lo - 1e-12) & (p <= p_hi) & (y > _MIN_YEARS) & np.isfinite(p)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = np.asarray(price(s, k, y, mid, rights, r)) > p
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return _out(np.where(ok, 0.5 * (lo + hi), np.nan))


def years_to(expiry: ArrayLike, now: Any = None) -> Any:
    """Years from ``now`` (default: the current time) to each expiry ('YYYYMMDD'), counting an
    option as expiring at 16:00 New York time on its last trading day; 0 once past."""
    import pandas as pd

    now_ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now_ts.tzinfo is None:
        now_ts = now_ts.tz_localize("UTC")
    exp = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(expiry, dtype=str))).str[:8], format="%Y%m%d")
    close = exp.dt.tz_localize("America/New_York") + pd.Timedelta(hours=16)
    years = ((close - now_ts).dt.total_seconds() / (365.0 * 86400.0)).clip(lower=0.0).to_numpy()
    return float(years[0]) if np.ndim(expiry) == 0 else years
