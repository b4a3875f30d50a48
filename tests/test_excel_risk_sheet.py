"""The dashboard's Risk sheet, evaluated by a real formula engine (the `formulas` package) wired to
ibxl's worksheet functions, against the embedded gateway holding SPY shares and a SPY call."""

from __future__ import annotations

import sys
from pathlib import Path

import formulas
import numpy as np
import pandas as pd
import pytest
from ib_async import IB, MarketOrder, Option, Stock
from schedula import EMPTY

from ibxl.excel import declare
from ibxl.excel import functions as F

ROOT = Path(__file__).resolve().parents[1]


def _engine_fn(fn, shape):
    """A worksheet function as the formula engine calls it: blanks as None, arrays cut to the
    array formula's range as Excel shows them."""

    def call(*args):
        plain = []
        for a in args:
            if type(a).__name__ == "Ranges":
                a = a.value
            if isinstance(a, np.ndarray):
                a = a.item() if a.size == 1 else a.tolist()
            a = a.item() if hasattr(a, "item") else a
            # a blank cell reaches the function as None, as xlwings passes it
            plain.append(None if (isinstance(a, str) and a == "") or a is EMPTY or type(a).__name__ == "XlError"
                         else a)
        out = fn(*plain)
        if not isinstance(out, list):
            return out
        grid = np.full(shape, "", dtype=object)
        for i, row in enumerate(out[: shape[0]]):
            for j, v in enumerate(row[: shape[1]]):
                grid[i, j] = v
        return grid

    return call


@pytest.fixture(scope="module")
def sheet(ibxl_sim, tmp_path_factory):
    from openpyxl.utils import range_boundaries

    ib = IB()
    ib.connect(ibxl_sim.host, ibxl_sim.port, clientId=71)
    try:
        spy = Stock("SPY", "SMART", "USD")
        ib.qualifyContracts(spy)
        chain = ib.reqSecDefOptParams("SPY", "", "STK", spy.conId)[0]
        spot = ib.reqTickers(spy)[0].marketPrice()
        today = pd.Timestamp.now().normalize()
        expiry = next(e for e in sorted(chain.expirations) if (pd.Timestamp(e) - today).days >= 20)
        call = Option("SPY", expiry, min(chain.strikes, key=lambda k: abs(k - spot)), "C", "SMART",
                      tradingClass=chain.tradingClass)
        ib.qualifyContracts(call)
        ib.placeOrder(spy, MarketOrder("BUY", 100))
        ib.placeOrder(call, MarketOrder("BUY", 1))
        while len([p for p in ib.positions() if p.position and p.contract.symbol == "SPY"]) < 2:
            ib.sleep(0.1)
    finally:
        ib.disconnect()
    sys.path.insert(0, str(ROOT / "workbooks"))
    import build_dashboard

    path = build_dashboard.build(tmp_path_factory.mktemp("wb") / "ibxl-dashboard.xlsx")
    shapes = {}
    for name, ref in (("IB_RISK", build_dashboard.RISK_TABLE), ("IB_VAR", build_dashboard.VAR_TABLE),
                      ("IB_SCENARIOS", build_dashboard.SCENARIO_TABLE)):
        lo_c, lo_r, hi_c, hi_r = range_boundaries(ref)
        shapes[name] = (hi_r - lo_r + 1, hi_c - lo_c + 1)
    registry = formulas.get_functions()
    for name in ("IB_RISK", "IB_VAR", "IB_SCENARIOS"):
        registry[name] = _engine_fn(declare.FUNCTIONS[name].fn, shapes[name])
    for name, fn in F.FUNCTIONS.items():
        registry.setdefault(name, _engine_fn(fn.fn, (60, 30)))
    model = formulas.ExcelModel().loads(str(path)).finish()
    solution = model.calculate()
    out = {}
    for key, value in solution.items():
        if "]RISK'!" in key.upper():
            out[key.split("!")[-1]] = np.asarray(value.value if hasattr(value, "value") else value, dtype=object)
    return out, path


def test_risk_sheet_tables_compute(sheet):
    values, _ = sheet
    risk = values["A4:R16"]
    assert list(risk[0][:3]) == ["account", "contract", "symbol"]
    header = list(risk[0])
    rows = [r for r in risk[1:] if r[1] not in ("", None)]
    total = next(r for r in rows if r[1] == "Total")
    legs = [r for r in rows if r[1] != "Total"]
    d = header.index("delta")
    assert len(legs) == 2 and total[d] == pytest.approx(sum(r[d] for r in legs))
    var = values["A19:G20"]
    assert var[0][-2:].tolist() == ["var", "expected_shortfall"] and var[1][-2] > 0
    grid = values["A23:V64"]
    assert grid[0][0] == "move \\ vol" and grid.shape == (42, 22)
    centre = grid[1 + 20][1 + 10]  # move 0, vol shift 0
    assert grid[21][0] == 0 and centre == pytest.approx(0.0, abs=1e-6)
    assert grid[41][11] > 0 > grid[1][11]  # long SPY: +20% gains, -20% loses
    for ref, v in values.items():
        assert not any(isinstance(x, str) and x.startswith("#") for x in v.ravel()), (ref, v)


def test_scenario_grid_is_a_heat_map(sheet):
    from openpyxl import load_workbook

    _, path = sheet
    ws = load_workbook(path)["Risk"]
    rules = [(str(rng.sqref), r) for rng in ws.conditional_formatting for r in rng.rules]
    assert [ref for ref, _ in rules] == ["B24:V64"]
    scale = rules[0][1].colorScale
    assert rules[0][1].type == "colorScale" and [v.type for v in scale.cfvo] == ["min", "num", "max"]
    assert scale.cfvo[1].val == 0  # white at zero P&L, red for losses, green for gains
