"""Option chains: columns, values, and a 500-option chain within the line budget, unpaced errors-free."""

from __future__ import annotations

import pytest

import ibxl
from ibxl.chains import CHAIN_COLUMNS
from ibxl.live import registry


def test_chain_columns_and_greeks(ibxl_sim):
    ch = ibxl.option_chain("AAPL", expiries=1, strikes=4, open_interest=True)
    assert list(ch.columns) == CHAIN_COLUMNS and len(ch) == 18
    assert set(ch["right"]) == {"C", "P"} and ch["expiry"].nunique() == 1
    calls, puts = ch[ch.right == "C"], ch[ch.right == "P"]
    assert (calls["delta"].between(0, 1)).all() and (puts["delta"].between(-1, 0)).all()
    assert calls["delta"].is_monotonic_decreasing, "call delta falls as the strike rises"
    assert (ch["iv"] > 0).all() and (ch["open_interest"] > 0).all() and (ch["und_price"] > 0).all()
    assert (ch["gamma"] >= 0).all()


def test_expiries_strikes_and_selection(ibxl_sim):
    exps = ibxl.expiries("SPY")
    assert exps == sorted(exps) and len(exps) >= 4
    ks = ibxl.strikes("SPY")
    lo, hi = ks[len(ks) // 2 - 2], ks[len(ks) // 2 + 2]
    ch = ibxl.option_chain("SPY", expiries=[exps[1]], strikes=(lo, hi), right="P")
    assert set(ch["right"]) == {"P"} and ch["strike"].between(lo, hi).all() and set(ch["expiry"]) == {exps[1]}
    with pytest.raises(ValueError, match="not listed"):
        ibxl.option_chain("SPY", expiries="19990101")
    with pytest.raises(ValueError, match="expiries=2.5 - give None, a count, 'YYYYMMDD' or a list"):
        ibxl.option_chain("SPY", expiries=2.5)
    with pytest.raises(ibxl.IBXLError):
        ibxl.option_chain("EUR.USD/CASH")


def test_five_hundred_option_chain_without_pacing_errors(ibxl_sim):
    errors: list = []
    ibxl_sim.call(lambda: ibxl_sim.ib.errorEvent.connect(lambda rid, code, msg, c: errors.append(code)
                                                         if code in (100, 101, 162) else None))
    ch = ibxl.option_chain("SPY", expiries=8, strikes=30)
    assert len(ch) >= 500
    assert ch["bid"].notna().sum() > 300 and ch["delta"].notna().all()
    assert errors == [], "no rate, line or pacing errors"
    assert registry().lines_open() <= registry().max_lines
