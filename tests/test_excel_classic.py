"""Classic desktop Excel: each UDF carries the xlwings registration it needs (name, arguments,
volatility, array return). xlwings registers UDFs through Windows COM, so this runs xlwings' own
decorators with the Windows COM modules replaced by inert stand-ins (not the IB side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
for name in classic.REGISTRATION:
    info = getattr(classic, name).__xlfunc__
    out[name] = {"name": info["name"], "volatile": info["volatile"], "args": [a["name"] for a in info["args"]],
                 "expand": info["ret"]["options"].get("expand"), "doc": bool(getattr(classic, name).__doc__)}
print(json.dumps(out))
"""


def test_every_udf_is_registered_with_names_arguments_volatility_and_arrays():
    env = {k: v for k, v in os.environ.items() if k != "XLWINGS_ON_SERVER"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reg = json.loads(proc.stdout.strip().splitlines()[-1])
    from ibxl.excel.classic import REGISTRATION
    from ibxl.excel.functions import FUNCTIONS

    assert set(reg) == set(FUNCTIONS) == set(REGISTRATION)
    for name, (volatile, array) in REGISTRATION.items():
        assert reg[name]["name"] == name and reg[name]["volatile"] is volatile and reg[name]["doc"]
        assert (reg[name]["expand"] == "table") is array
    assert reg["IB_QUOTE"]["args"] == ["contract", "field"]
    assert reg["IB_ORDER"]["args"] == ["key", "contract", "side", "qty", "type", "limit", "stop", "tif", "arm"]
