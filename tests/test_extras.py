"""A command that needs an optional part of ibxl that is not installed names the extra in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ibxl import extras

# the dashboard extra's modules made unimportable, as in an install without it
HIDDEN = "import sys\nfor m in ('voila', 'psutil'):\n    sys.modules[m] = None\n"


def test_demo_without_the_dashboard_extra_names_it_in_one_line():
    out = subprocess.run([sys.executable, "-c", HIDDEN + "from ibxl.cli import main\nsys.exit(main(['demo']))"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == "ibxl: ibxl demo needs voila, psutil: pip install 'ibxl[dashboard]'"


def test_require_passes_when_installed_and_refuses_an_unknown_extra():
    extras.require("dashboard", "the dashboard")  # installed in the test environment
    with pytest.raises(ValueError, match="unknown extra 'dashbord'; known: dashboard, server"):
        extras.missing("dashbord")


def test_excel_serve_without_the_server_extra_names_it_in_one_line():
    hide = "import sys\nsys.modules['xlwings_server'] = None\n"
    out = subprocess.run([sys.executable, "-c", hide + "from ibxl.cli import main\nsys.exit(main(['excel', 'serve']))"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == "ibxl: ibxl excel serve needs xlwings_server: pip install 'ibxl[server]'"
