"""Classic desktop Excel and Office.js get every declared worksheet function from its one
declaration: the same names, help text, argument names and argument help in both hosts, the
volatility and array registration it declares. xlwings registers classic UDFs through Windows COM,
so this runs xlwings' own decorators with the Windows COM modules replaced by inert stand-ins
(not the IB side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from xlwings.server import custom_functions_meta

import ibxl.excel.server.custom_functions as cf
from ibxl.excel import declare
from ibxl.excel.functions import FUNCTIONS

SCRIPT = r"""
import json, sys, types
for name in ("pythoncom", "pywintypes", "win32api", "win32com", "win32com.client"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["pythoncom"].CoInitialize = lambda: None
sys.modules["pywintypes"].com_error = Exception
sys.modules["win32com.client"].Dispatch = lambda *a, **k: None
sys.modules["win32com"].client = sys.modules["win32com.client"]
import xlwings as xw
import xlwings.udfs as udfs
xw.func, xw.ret, xw.arg = udfs.xlfunc, udfs.xlret, udfs.xlarg
import ibxl.excel.classic as classic
out = {}
for name in classic.__all__:
    info = getattr(classic, name).__xlfunc__
    out[name] = {"name": info["name"], "volatile": info["volatile"], "args": [a["name"] for a in info["args"]],
                 "arg_docs": [a["doc"] for a in info["args"]], "expand": info["ret"]["options"].get("expand"),
                 "doc": info["ret"]["doc"]}
print(json.dumps(out))
"""


def _classic(tmp_path: Path, legacy: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLWINGS_ON_SERVER", "IBXL_EXCEL_LEGACY_ARRAYS")}
    env["IBXL_CONFIG"] = str(tmp_path / "no-config.toml")  # never the user's config file
    if legacy:
        env["IBXL_EXCEL_LEGACY_ARRAYS"] = "1"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _classic(tmp_path_factory.mktemp("classic"), legacy=False)


def test_every_function_is_registered_for_both_hosts_with_the_same_help_and_arguments(classic):
    server = {f["id"]: f for f in custom_functions_meta(cf)["functions"]}
    assert set(classic) == set(FUNCTIONS) and len(FUNCTIONS) >= 16
    assert set(server) == {name.removeprefix("IB_") for name in FUNCTIONS}
    for name, spec in FUNCTIONS.items():
        c, s = classic[name], server[name.removeprefix("IB_")]
        assert c["name"] == name and s["name"] == name.removeprefix("IB_")
        assert spec.help and c["doc"] == s["description"] == spec.help, name
        assert c["args"] == [p["name"] for p in s["parameters"]] == spec.parameters, name
        assert c["arg_docs"] == [p["description"] for p in s["parameters"]], name
        assert all(spec.args.get(p) for p in spec.parameters), f"{name}: every argument has help"
        assert c["volatile"] is spec.volatile
        assert bool(s["options"].get("stream")) is spec.streams, name
        assert bool(s["options"].get("volatile")) is (spec.volatile and not spec.streams), name
    assert classic["IB_QUOTE"]["args"] == ["contract", "field"]
    assert classic["IB_ORDER"]["args"] == ["key", "contract", "side", "qty", "type", "limit", "stop", "tif", "arm"]


def test_tables_spill_natively_by_default(classic):
    assert all(reg["expand"] is None for reg in classic.values()), "plain 2-D returns: Excel spills them itself"


def test_legacy_resize_only_when_set_and_never_on_volatile_functions(tmp_path):
    legacy = _classic(tmp_path, legacy=True)
    resized = {name for name, reg in legacy.items() if reg["expand"] == "table"}
    assert resized == {name for name, spec in FUNCTIONS.items() if spec.spills and not spec.volatile}
    assert {"IB_HISTORY", "IB_CHAIN", "IB_NEWS"} <= resized
    assert not resized & {"IB_QUOTES", "IB_POSITIONS", "IB_SCAN", "IB_STATUS"}


@pytest.mark.parametrize(("declaration", "problem"), [
    ("def ib_lower(x):\n    'Help.'\n", "name it as in Excel"),
    ("def IB_TYPO(x):\n    'Help.'\n", "not parameters of it"),
    ("def IB_NODOC(x):\n    pass\n", "needs a docstring"),
    ("def IB_HOLDS(x):\n    'Help.'\n", "only for streaming functions"),
])
def test_bad_declarations_name_the_problem(declaration, problem):
    options = {"ib_lower": {}, "IB_TYPO": {"args": {"y": "help"}}, "IB_NODOC": {},
               "IB_HOLDS": {"hold": lambda x: (lambda: None)}}
    namespace: dict = {}
    exec(declaration, namespace)
    fn = next(v for k, v in namespace.items() if k != "__builtins__")
    with pytest.raises(ValueError, match=problem):
        declare.worksheet(**options[fn.__name__])(fn)
    assert fn.__name__ not in declare.FUNCTIONS


def test_one_declaration_reaches_both_hosts():
    """A function declared once, the way a new module declares one, is served by both generators."""
    from ibxl.excel.classic import udf

    @declare.worksheet(spills=True, args={"n": "How many rows"})
    def IB_TEST_SQUARES(n=3):
        """Squares of 1..n with a header row."""
        return [["n", "square"], *[[i, i * i] for i in range(1, int(n) + 1)]]

    try:
        spec = declare.FUNCTIONS["IB_TEST_SQUARES"]
        served = cf.custom_function(spec)
        assert served(2) == [["n", "square"], [1, 1], [2, 4]]
        assert served.__xlfunc__["args"][0]["doc"] == "How many rows"
        assert served.__doc__ == "Squares of 1..n with a header row."
        classic_fn = udf(spec)
        assert classic_fn(2) == served(2) and classic_fn.__doc__ == served.__doc__
        assert IB_TEST_SQUARES("x").startswith("#VALUE!"), "wrapped so a cell never shows a traceback"
    finally:
        declare.FUNCTIONS.pop("IB_TEST_SQUARES", None)
