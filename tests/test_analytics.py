"""Analytics on known series: exact values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ibxl import analytics as A


def test_returns_volatility_sharpe_sortino():
    prices = pd.Series([100.0, 110.0, 99.0, 108.9])
    r = A.returns(prices)
    assert list(r.round(10)) == [0.1, -0.1, 0.1]
    assert A.volatility(r, periods=1) == pytest.approx(np.std([0.1, -0.1, 0.1], ddof=1))
    assert A.sharpe(r, periods=1) == pytest.approx((0.1 / 3) / np.std([0.1, -0.1, 0.1], ddof=1))
    downside = math.sqrt((0.1**2) / 3)
    assert A.sortino(r, periods=1) == pytest.approx((0.1 / 3) / downside)
    assert list(A.returns(prices, log=True).round(6)) == [round(math.log(1.1), 6), round(math.log(0.9), 6),
                                                          round(math.log(1.1), 6)]


def test_max_drawdown():
    idx = pd.date_range("2026-01-01", periods=6, tz="UTC")
    prices = pd.Series([100, 120, 90, 95, 130, 117], index=idx, dtype=float)
    dd = A.max_drawdown(prices)
    assert dd["drawdown"] == pytest.approx(90 / 120 - 1)
    assert dd["peak"] == idx[1] and dd["trough"] == idx[2]
    m = A.risk_metrics(prices)
    assert m["total_return"] == pytest.approx(0.17) and m["max_drawdown"] == pytest.approx(-0.25)


def test_allocation_and_pnl():
    pf = pd.DataFrame({"symbol": ["A", "B", "C"], "sec_type": ["STK", "STK", "OPT"],
                       "market_value": [600.0, -200.0, 200.0], "realized_pnl": [1.0, 2.0, 3.0],
                       "unrealized_pnl": [10.0, -5.0, 0.0]})
    by_type = A.allocation(pf)
    assert by_type["STK"] == pytest.approx(0.8) and by_type["OPT"] == pytest.approx(0.2)
    assert A.pnl_breakdown(pf).to_dict() == {"realized": 6.0, "unrealized": 5.0}
    summary = pd.DataFrame({"value": [25_000.0, 100_000.0]}, index=["InitMarginReq", "NetLiquidation"])
    assert A.margin_utilisation(summary) == pytest.approx(0.25)
