"""Set a workbook up for ibxl's classic xlwings UDFs: the ``xlwings.conf`` sheet that tells the
xlwings add-in which Python to start and which module holds the functions, and the VBA module
that keeps ibxl's cells live."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

#: the VBA module that recalculates only ibxl's cells on a timer (import it into the workbook)
REFRESH_MODULE = Path(__file__).parent / "ibxl_refresh.bas"

CONF_SHEET = "xlwings.conf"


def conf_values(interpreter: str | None = None) -> dict[str, str]:
    """The xlwings settings ibxl needs. ``Use UDF Server`` keeps one Python process (and so one
    connection and one quote cache) alive between recalculations. An explicit ``interpreter``
    ending in .exe is Windows', any other is the Mac's."""
    python = interpreter or sys.executable
    windows = python.lower().endswith(".exe") if interpreter else sys.platform == "win32"
    mac = not windows and (bool(interpreter) or sys.platform == "darwin")
    return {"UDF Modules": "ibxl.excel.classic", "Interpreter_Win": python if windows else "",
            "Interpreter_Mac": python if mac else "", "Use UDF Server": "True", "Show Console": "False"}


def install(workbook: str | Path, interpreter: str | None = None) -> list[Path]:
    """Write (or update) the ``xlwings.conf`` sheet of an .xlsx/.xlsm workbook and put the refresh
    VBA module next to it. Returns the files written."""
    from openpyxl import load_workbook

    path = Path(workbook)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise SystemExit(f"{path.name}: expected an .xlsx or .xlsm workbook")
    if not path.exists():
        raise SystemExit(f"{path}: no such workbook (build the ready one with workbooks/build_dashboard.py)")
    wb = load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
    conf = wb[CONF_SHEET] if CONF_SHEET in wb.sheetnames else wb.create_sheet(CONF_SHEET)
    rows = {conf.cell(row=r, column=1).value: r for r in range(1, conf.max_row + 1)
            if conf.cell(row=r, column=1).value}
    next_row = max(rows.values(), default=0) + 1
    for key, value in conf_values(interpreter).items():
        if key not in rows:
            rows[key], next_row = next_row, next_row + 1
        conf.cell(row=rows[key], column=1, value=key)
        conf.cell(row=rows[key], column=2, value=value)
    wb.save(path)
    module = path.with_name(REFRESH_MODULE.name)
    shutil.copyfile(REFRESH_MODULE, module)
    return [path, module]
