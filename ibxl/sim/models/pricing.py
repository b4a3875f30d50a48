"""Black-Scholes prices and greeks over a volatility smile (pure math, no market state)."""

from __future__ import annotations

import math
from dataclasses import dataclass

RATE = 0.04
_SQRT2 = math.sqrt(2.0)


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution."""
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    """An option's model value and sensitivities, in TWS's units.

    ``vega`` is per 1 volatility point, ``theta`` per calendar day (both as TWS reports them).
    """

    price: float
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float


def smile_vol(atm_vol: float, spot: float, strike: float, years: float, skew: float = -0.3,
              smile: float = 0.5) -> float:
    """Implied volatility at a strike: ATM level with a skew and a smile in log-moneyness."""
    t = max(years, 1.0 / 365.0)
    k = math.log(strike / spot) / math.sqrt(t)
    k = max(-4.0, min(4.0, k))
    term = 1.0 + 0.15 * math.exp(-t * 12.0)  # short expiries trade richer
    vol = atm_vol * term * (1.0 + skew * k + smile * k * k * 0.25)
    return max(0.05, min(3.0, vol))


def black_scholes(spot: float, strike: float, years: float, vol: float, right: str, rate: float = RATE) -> Greeks:
    """Value and greeks of a European option; at or after expiry, intrinsic value."""
    call = right.upper().startswith("C")
    if years <= 0 or vol <= 0:
        intrinsic = max(0.0, spot - strike) if call else max(0.0, strike - spot)
        delta = (1.0 if spot > strike else 0.0) if call else (-1.0 if spot < strike else 0.0)
        return Greeks(intrinsic, vol, delta, 0.0, 0.0, 0.0, spot)
    sq = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / (vol * sq)
    d2 = d1 - vol * sq
    disc = math.exp(-rate * years)
    if call:
        price = spot * norm_cdf(d1) - strike * disc * norm_cdf(d2)
        delta = norm_cdf(d1)
        theta = -spot * norm_pdf(d1) * vol / (2 * sq) - rate * strike * disc * norm_cdf(d2)
    else:
        price = strike * disc * norm_cdf(-d2) - spot * norm_cdf(-d1)
        delta = norm_cdf(d1) - 1.0
        theta = -spot * norm_pdf(d1) * vol / (2 * sq) + rate * strike * disc * norm_cdf(-d2)
    gamma = norm_pdf(d1) / (spot * vol * sq)
    vega = spot * norm_pdf(d1) * sq / 100.0
    return Greeks(max(price, 0.0), vol, delta, gamma, vega, theta / 365.0, spot)


def implied_vol(price: float, spot: float, strike: float, years: float, right: str, rate: float = RATE) -> float:
    """The volatility that reproduces ``price`` (bisection; NaN when no volatility can)."""
    lo, hi = 1e-4, 5.0
    if years <= 0:
        return float("nan")
    f_lo = black_scholes(spot, strike, years, lo, right, rate).price - price
    f_hi = black_scholes(spot, strike, years, hi, right, rate).price - price
    if f_lo > 0 or f_hi < 0:
        return float("nan")
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if black_scholes(spot, strike, years, mid, right, rate).price > price:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-7:
            break
    return 0.5 * (lo + hi)
