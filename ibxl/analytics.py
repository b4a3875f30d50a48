"""Portfolio analytics on pandas data: returns, volatility, Sharpe, Sortino, drawdown,
allocation, realized vs unrealized P&L and margin utilisation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252


def returns(prices: pd.Series | pd.DataFrame, log: bool = False) -> pd.Series | pd.DataFrame:
    """Period returns of a price (or equity) series; ``log=True`` for log returns."""
    out = np.log(prices / prices.shift(1)) if log else prices.pct_change()
    return out.iloc[1:]


def volatility(rets: pd.Series, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised standard deviation of returns."""
    return float(rets.std(ddof=1) * math.sqrt(periods))


def sharpe(rets: pd.Series, risk_free: float = 0.0, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised Sharpe ratio (``risk_free`` is an annual rate)."""
    excess = rets - risk_free / periods
    sd = excess.std(ddof=1)
    return float(excess.mean() / sd * math.sqrt(periods)) if sd else float("nan")


def sortino(rets: pd.Series, risk_free: float = 0.0, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised Sortino ratio: excess return over downside deviation."""
    excess = rets - risk_free / periods
    downside = np.minimum(excess, 0.0)
    dd = math.sqrt(float((downside**2).mean()))
    return float(excess.mean() / dd * math.sqrt(periods)) if dd else float("nan")


def max_drawdown(prices: pd.Series) -> dict[str, object]:
    """Largest peak-to-trough fall: ``drawdown`` (a negative fraction), ``peak`` and ``trough`` times."""
    running = prices.cummax()
    dd = prices / running - 1.0
    trough = dd.idxmin()
    peak = prices.loc[:trough].idxmax()
    return {"drawdown": float(dd.min()), "peak": peak, "trough": trough}


def risk_metrics(prices: pd.Series, risk_free: float = 0.0, periods: int = PERIODS_PER_YEAR) -> pd.Series:
    """Total return, volatility, Sharpe, Sortino and maximum drawdown of a price series."""
    r = returns(prices)
    return pd.Series({"total_return": float(prices.iloc[-1] / prices.iloc[0] - 1), "volatility": volatility(r, periods),
                      "sharpe": sharpe(r, risk_free, periods), "sortino": sortino(r, risk_free, periods),
                      "max_drawdown": max_drawdown(prices)["drawdown"]})


def allocation(portfolio: pd.DataFrame, by: str = "sec_type") -> pd.Series:
    """Share of gross market value by asset class (``sec_type``) or ``symbol``; sums to 1."""
    if portfolio.empty:
        return pd.Series(dtype=float, name="weight")
    gross = portfolio["market_value"].abs()
    w = gross.groupby(portfolio[by]).sum() / gross.sum()
    return w.sort_values(ascending=False).rename("weight")


def pnl_breakdown(portfolio: pd.DataFrame) -> pd.Series:
    """Realized and unrealized P&L totals of a portfolio frame."""
    return pd.Series({"realized": float(portfolio["realized_pnl"].sum()),
                      "unrealized": float(portfolio["unrealized_pnl"].sum())})


def margin_utilisation(summary: pd.DataFrame) -> float:
    """Initial margin as a fraction of net liquidation (from ``account_summary()``)."""
    init = float(summary.loc["InitMarginReq", "value"])
    nlv = float(summary.loc["NetLiquidation", "value"])
    return init / nlv if nlv else float("nan")
