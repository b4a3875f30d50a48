"""``ibxl excel install``: the xlwings.conf sheet and the refresh module a classic workbook needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from ibxl.excel.install import CONF_SHEET, REFRESH_MODULE

WORKBOOK = Path(__file__).resolve().parents[1] / "workbooks" / "ibxl-dashboard.xlsx"


def _conf(path: Path) -> dict:
    ws = load_workbook(path)[CONF_SHEET]
    return {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(1, ws.max_row + 1)}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ibxl", "excel", "install", *args], capture_output=True, text=True,
                          timeout=120)


def test_install_writes_the_settings_once_and_the_refresh_module(tmp_path):
    book = tmp_path / "mine.xlsx"
    shutil.copyfile(WORKBOOK, book)
    first = _run(str(book), "--interpreter", "C:/Python312/python.exe")
    assert first.returncode == 0, first.stderr
    again = _run(str(book), "--interpreter", "C:/Python312/python.exe")
    assert again.returncode == 0, again.stderr
    conf = _conf(book)
    assert conf["UDF Modules"] == "ibxl.excel.classic" and conf["Use UDF Server"] == "True"
    assert conf["Interpreter_Win"] == "C:/Python312/python.exe" and not conf["Interpreter_Mac"]
    ws = load_workbook(book)[CONF_SHEET]
    keys = [ws.cell(row=r, column=1).value for r in range(1, ws.max_row + 1)]
    assert len(keys) == len(set(keys)), "re-running updates rows instead of adding them"
    assert "Quotes" in load_workbook(book).sheetnames, "the workbook's own sheets are kept"
    module = (tmp_path / REFRESH_MODULE.name).read_text()
    assert "Application.OnTime" in module and 'InStr(1, cell.Formula, "IB_"' in module


def test_install_names_the_problem_with_a_bad_path(tmp_path):
    wrong = _run(str(tmp_path / "notes.txt"))
    assert wrong.returncode != 0 and "expected an .xlsx or .xlsm workbook" in wrong.stderr
    missing = _run(str(tmp_path / "gone.xlsx"))
    assert missing.returncode != 0 and "no such workbook" in missing.stderr
