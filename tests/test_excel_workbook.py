"""The shipped dashboard workbook, evaluated by a real formula engine (the `formulas` package)
wired to ibxl's worksheet functions, against the embedded gateway."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import formulas
import numpy as np
import pytest

from ibxl.excel import functions as F

ROOT = Path(__file__).resolve().parents[1]


def _excel_fn(fn, shape=None):
    def call(*args):
        plain = [_scalar(a) for a in args]
        plain = [None if (isinstance(a, str) and a == "") or type(a).__name__ == "XlError" else a for a in plain]
        out = fn(*plain)
        if not isinstance(out, list):
            return out
        if shape is None:
            return np.array(out, dtype=object)
        # an array formula over a fixed range shows what fits, as Excel does
        grid = np.full(shape, "", dtype=object)
        for i, row in enumerate(out[: shape[0]]):
            for j, v in enumerate(row[: shape[1]]):
                grid[i, j] = v
        return grid

    return call


def _array_shapes(path: Path) -> dict[str, tuple[int, int]]:
    """Function name -> the shape of the array formula range it fills in the workbook."""
    import re

    from openpyxl import load_workbook
    from openpyxl.utils import range_boundaries

    shapes = {}
    for ws in load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for c in row:
                if type(c.value).__name__ == "ArrayFormula":
                    name = re.match(r"=(\w+)\(", c.value.text).group(1)
                    lo_c, lo_r, hi_c, hi_r = range_boundaries(c.value.ref)
                    shapes[name] = (hi_r - lo_r + 1, hi_c - lo_c + 1)
    return shapes


def _scalar(value):
    if type(value).__name__ == "Ranges":  # a cell reference: the formula engine passes the range
        value = value.value
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else value.tolist()
    return value.item() if hasattr(value, "item") else value


@pytest.fixture(scope="module")
def solution(ibxl_sim, tmp_path_factory):
    sys.path.insert(0, str(ROOT / "workbooks"))
    import build_dashboard

    path = build_dashboard.build(tmp_path_factory.mktemp("wb") / "ibxl-dashboard.xlsx")
    import ibxl

    # the Prices sheet quotes =INDEX(IB_CHAIN("AAPL","","C",1),2,1): let that chain finish, as an open
    # workbook's chain cell would have by the time its quote cell is read
    chain = F.FUNCTIONS["IB_CHAIN"].fn("AAPL", "", "C", 1)
    deadline = time.monotonic() + 60
    while str(chain[-1][0]).startswith("loading") and time.monotonic() < deadline:
        time.sleep(0.1)
        chain = F.FUNCTIONS["IB_CHAIN"].fn("AAPL", "", "C", 1)
    option = chain[1][0]
    kinds = [c for _, c in build_dashboard.KINDS if not c.startswith("=")] + [option]
    ibxl.quotes(build_dashboard.CONTRACTS + kinds, wait=3.0)  # live lines, as an open workbook would have
    registry = formulas.get_functions()
    shapes = _array_shapes(path)
    for name, spec in F.FUNCTIONS.items():
        registry[name] = _excel_fn(spec.fn, shapes.get(name))
    model = formulas.ExcelModel().loads(str(path)).finish()
    return dict(model.calculate().items()), model


def _values(solution, sheet: str) -> dict[str, object]:
    sol, _ = solution
    out = {}
    for key, value in sol.items():
        if f"]{sheet.upper()}'!" in key.upper():
            out[key.split("!")[-1]] = value.value if hasattr(value, "value") else value
    return out


def _first(v):
    return np.asarray(v, dtype=object).ravel()[0]


def _is_error(v) -> bool:
    flat = np.asarray(v, dtype=object).ravel()
    return any(isinstance(x, str) and x.startswith("#") for x in flat) or any(
        type(x).__name__ == "XlError" for x in flat)


def test_every_quote_cell_has_a_value_and_spreads_compute(solution):
    q = _values(solution, "Quotes")
    for r in range(2, 10):
        bid, ask = _first(q[f"B{r}"]), _first(q[f"C{r}"])
        assert isinstance(bid, float) and isinstance(ask, float) and bid > 0, (r, bid, ask)
        spread = _first(q[f"H{r}"])
        assert float(spread) == pytest.approx(ask - bid) and float(spread) >= 0


def test_a_quote_without_a_field_prices_every_kind_of_contract(solution):
    p = _values(solution, "Prices")
    kinds = [_first(p[f"A{r}"]) for r in range(2, 8)]
    assert kinds == ["stock", "forex", "index", "future", "option", "crypto"]
    assert str(_first(p["B6"])).startswith("AAPL ") and str(_first(p["B6"])).endswith(" C"), p["B6"]
    for r, kind in enumerate(kinds, start=2):
        price = _first(p[f"C{r}"])
        assert isinstance(price, float) and price > 0, (kind, _first(p[f"B{r}"]), price)


def test_tables_account_orders_and_status(solution):
    h = _values(solution, "History")
    table = np.asarray(h["A3:F24"], dtype=object)
    assert list(table[0]) == ["date", "open", "high", "low", "close", "volume"]
    assert all(isinstance(x, float) for x in table[1:, 4])
    chain = np.asarray(_values(solution, "Chain")["A3:M10"], dtype=object)
    assert chain[0][0] == "contract" and all(r[3] == "C" for r in chain[1:])
    a = _values(solution, "Account")
    assert _first(a["B1"]) > 0 and 0 <= float(_first(a["B5"])) < 1
    orders = _values(solution, "Orders")
    assert str(_first(orders["J2"])).startswith("disarmed") and str(_first(orders["J3"])).startswith("disarmed")
    status = np.asarray(_values(solution, "Status")["A1:B10"], dtype=object)
    assert status[0][0] == "item" and "connected" in list(status[:, 0])
    for sheet in ("Quotes", "Prices", "History", "Chain", "Account", "Status"):
        for cell, value in _values(solution, sheet).items():
            assert not _is_error(value), (sheet, cell, value)


def test_no_order_was_sent_by_opening_the_workbook(solution):
    import ibxl

    assert ibxl.orders().query("key.str.startswith('demo-')", engine="python").empty
