"""The dashboard's Strategy sheet evaluated by a real formula engine, and the strategy worksheet
functions: IB_STRATEGY, IB_PAYOFF, IB_QUOTE of a combo, and an armed IB_ORDER of an iron condor
recalculated 10,000 times giving one combo order."""

from __future__ import annotations

import sys

import formulas
import numpy as np
import pytest
from test_excel_workbook import ROOT, _array_shapes, _excel_fn, _first, _is_error, _values

from ibxl.excel import declare
from ibxl.excel import functions as F
from ibxl.excel.strategy_functions import IB_PAYOFF, IB_STRATEGY


@pytest.fixture(scope="module")
def solution(ibxl_sim, tmp_path_factory):
    sys.path.insert(0, str(ROOT / "workbooks"))
    import build_dashboard

    path = build_dashboard.build(tmp_path_factory.mktemp("wb") / "ibxl-dashboard.xlsx")
    registry = formulas.get_functions()
    shapes = _array_shapes(path)
    for name, fn in {**F.FUNCTIONS, **{n: w.fn for n, w in declare.FUNCTIONS.items()}}.items():
        registry[name] = _excel_fn(fn, shapes.get(name))
    import ibxl

    ibxl.option_chain("SPY", strikes=3, right="C")  # the chain's lines are live, as in an open workbook
    model = formulas.ExcelModel().loads(str(path)).finish()
    first = dict(model.calculate().items())
    # the combo's line opens on the first calculation; a recalculation shows its quote
    ibxl.quotes(str(_first(_values((first, model), "Strategy")["B7"])), wait=3.0)
    return dict(model.calculate().items()), model


def test_strategy_sheet_quotes_the_combo_and_spills_its_payoff(solution):
    st = _values(solution, "Strategy")
    combo = str(_first(st["B7"]))
    assert combo.startswith("+1 SPY ") and ", -1 SPY " in combo and combo.endswith(" C")
    bid, ask, mid = (float(_first(st[c])) for c in ("B8", "B9", "B10"))
    assert bid < mid < ask and mid > 0
    table = np.asarray(st["A15:C36"], dtype=object)
    assert list(table[0]) == ["underlying", "expiry", "today"]
    pnl = table[1:, 1].astype(float)
    # a debit call spread: the worst case loses the debit, the best gains the width less the debit
    assert pnl.min() == pytest.approx(pnl[0]) and pnl.max() == pytest.approx(pnl[-1])
    assert pnl.min() < 0 < pnl.max()
    assert str(_first(st["G13"])).startswith("disarmed")
    for cell, value in st.items():
        assert not _is_error(value), (cell, value)


def test_opening_the_workbook_sent_no_strategy_order(solution):
    import ibxl

    assert ibxl.orders().query("key == 'demo-vertical'").empty


def test_strategy_function_errors_are_cell_text(ibxl_sim):
    assert IB_STRATEGY("", "SPY", "20261218", "600,610", "C").startswith("#VALUE! kind is empty")
    assert "unknown" in IB_STRATEGY("condor-ish", "SPY", "20261218", "600,610", "C")
    assert "takes 2 strikes" in IB_STRATEGY("vertical", "SPY", "20261218", "600", "C")
    assert "needs right C or P" in IB_STRATEGY("vertical", "SPY", "20261218", [[600, 610]], None)
    assert "not YYYYMMDD" in IB_STRATEGY("vertical", "SPY", "2026-12", "600,610", "C")
    assert IB_PAYOFF("").startswith("#VALUE! combo is empty")
    assert "give both low and high" in IB_PAYOFF("+1 SPY 20261218 600 C, -1 SPY 20261218 610 C", 500)
    assert "steps 1" in IB_PAYOFF("+1 SPY 20261218 600 C, -1 SPY 20261218 610 C", None, None, 1)
    # a number or an Excel date works as the expiry, a range as the strikes
    text = IB_STRATEGY("straddle", "SPY", 20261218.0, [[600]], None)
    assert text == "+1 SPY 20261218 600 C, +1 SPY 20261218 600 P"
    assert IB_STRATEGY("calendar", "SPY", "20261218,20270115", 600, "P") == \
        "-1 SPY 20261218 600 P, +1 SPY 20270115 600 P"


def test_armed_iron_condor_cell_recalculated_10000_times_sends_one_order(ibxl_sim, monkeypatch):
    import ibxl

    monkeypatch.setenv("IBXL_TRADING", "paper")
    exp = ibxl.expiries("SPY")[1]
    ks = ibxl.strikes("SPY")
    spot = float(ibxl.quotes("SPY")["mid"].iloc[0])
    i = min(range(len(ks)), key=lambda j: abs(ks[j] - spot))
    combo = IB_STRATEGY("iron_condor", "SPY", exp, [[ks[i - 4], ks[i - 2], ks[i + 2], ks[i + 4]]], None)
    assert combo.count(",") == 3
    q = ibxl.quotes(combo, wait=3.0)
    limit = round(float(q["ask"].iloc[0]) + 0.01, 2)  # a cent through the ask; a credit: a negative price
    assert limit < 0
    key = "xl-condor-10k"
    for _ in range(10_000):
        status = F.IB_ORDER(key, combo, "BUY", 1, "LMT", limit, None, "DAY", True)
    assert not str(status).startswith("#"), status
    mine = ibxl.orders().query("key == @key")
    assert len(mine) == 1
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ibxl.orders().query("key == @key")["status"].iloc[0] != "Filled":
        time.sleep(0.05)
    assert ibxl.orders().query("key == @key")["status"].iloc[0] == "Filled"
    fills = ibxl.executions().query("key == @key")
    assert len(fills) == 4 and (fills["commission"] > 0).all()
