"""The data layer over the gateway's TWS-like answers: ISLAND in contract text, and a market whose
daily history carries its factor structure (what a researcher's betas and correlations see)."""

from __future__ import annotations

import numpy as np

import ibxl


def test_readme_contract_text_with_island_quotes(ibxl_sim):
    df = ibxl.quotes(["MSFT@SMART/ISLAND", "MSFT@SMART/NASDAQ"], ["Price"])
    prices = df.iloc[:, 0].to_numpy(dtype=float)
    assert np.isfinite(prices).all() and prices[0] > 0
    assert abs(prices[0] / prices[1] - 1) < 0.01


def test_daily_history_shows_betas_and_correlation(ibxl_sim):
    closes = {s: ibxl.history(s, duration="1 Y")["close"] for s in ("SPY", "QQQ", "KO", "TSLA", "SPX@CBOE//IND")}
    rets = {s: np.diff(np.log(c.to_numpy())) for s, c in closes.items()}
    n = min(len(r) for r in rets.values())
    rets = {s: r[-n:] for s, r in rets.items()}
    assert 240 <= n <= 256, "a year of sessions"
    assert np.corrcoef(rets["SPY"], rets["QQQ"])[0, 1] > 0.6
    beta = {s: np.cov(rets[s], rets["SPY"])[0, 1] / rets["SPY"].var() for s in ("KO", "TSLA")}
    assert beta["TSLA"] > 1.4 and beta["KO"] < 0.9, beta
    ratio = closes["SPY"].to_numpy()[-n:] * 10 / closes["SPX@CBOE//IND"].to_numpy()[-n:]
    assert np.all(np.abs(ratio - 1) < 0.005)
