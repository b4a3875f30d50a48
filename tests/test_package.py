"""The built wheel is complete: installed into a fresh venv outside the checkout, it names a missing
extra in one line, and with its extras runs ``python -m ibxl.sim`` (a real client connects), a
quote, ``ibxl excel install`` on a workbook and ``ibxl demo`` (the dashboard answers over HTTP).

One test, because each step needs the venv the previous ones built (the install is most of its
time; pip takes the packages from its cache and ``PIP_FIND_LINKS`` when it can)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
from leftovers import describe, kill, marked, settle
from ports import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]
#: not part of the source a wheel is built from
IGNORED = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                 "test-artifacts", ".ipynb_checkpoints")
MARKER = "IBXL_PACKAGE_TEST"


def _run(cmd: list[str], timeout: float, **kw: object) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, (f"{' '.join(cmd)} failed ({out.returncode}):\n"
                                 f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


@pytest.mark.timeout(900)
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    # build from a copy of the source, so that nothing is written into the checkout
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED)
    built = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                 timeout=300)
    # setuptools reports deprecated metadata as *Warning classes (e.g. SetuptoolsDeprecationWarning)
    warnings = sorted(set(re.findall(r"\b\w+Warning\b", built.stdout + built.stderr)))
    assert not warnings, f"the build warns: {warnings}"
    wheel = next((tmp_path / "dist").glob("ibxl-*.whl"))

    home = tmp_path / "home"  # outside the checkout: nothing can come from the source tree
    home.mkdir()
    venv = home / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python, ibxl_cmd = str(bindir / "python"), str(bindir / "ibxl")
    hub_dir = tempfile.mkdtemp(prefix="ibxl-hub-")  # short: a local socket's path has a length limit
    # nothing of the checkout's environment but the test run's marker; every file ibxl writes
    # (caches, records, a hub's endpoint) in the scratch home
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IBXL_", "PYTHON", "VIRTUAL_ENV")) or k == "IBXL_TEST_RUN"}
    env.update({"IBXL_CACHE_DIR": str(home / "cache"), "IBXL_DATA_DIR": str(home / "data"),
                "IBXL_CONFIG": str(home / "config.toml"), "IBXL_HUB_DIR": hub_dir,
                "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}"})
    pip = [python, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]

    # without the dashboard extra, the demo names the extra in one line
    _run([*pip, str(wheel)], timeout=600, env=env, cwd=home)
    where = _run([python, "-c", "import ibxl; print(ibxl.__file__)"], timeout=60, env=env, cwd=home)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    bare = subprocess.run([ibxl_cmd, "demo", "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120, env=env, cwd=home)
    assert bare.returncode == 2, bare.stdout + bare.stderr
    assert "Traceback" not in bare.stderr and len(bare.stderr.strip().splitlines()) == 1, bare.stderr
    assert "pip install 'ibxl[dashboard]'" in bare.stderr

    _run([*pip, f"{wheel}[dashboard,server]"], timeout=600, env=env, cwd=home)

    # the embedded gateway from the installed package answers a real client, and ibxl quotes through it
    port = free_port()
    token = secrets.token_hex(8)
    env[MARKER] = token
    sim = subprocess.Popen([python, "-m", "ibxl.sim", "--port", str(port), "--memory"], env=env, cwd=home,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    demo = None
    try:
        assert wait_listening(port, 60, sim), "python -m ibxl.sim did not start"
        from ib_async import IB, Stock

        ib = IB()
        ib.connect("127.0.0.1", port, clientId=901, timeout=15)
        try:
            details = ib.reqContractDetails(Stock("AAPL", "SMART", "USD"))
            assert details and details[0].contract.conId > 0
            assert ib.reqCurrentTime() is not None
        finally:
            ib.disconnect()
        # a script of its own connection (no shared hub to leave running)
        quote = _run([python, "-c", "import ibxl\n"
                      f"ibxl.connect(host='127.0.0.1', port={port}, client_id=902)\n"
                      "q = ibxl.quotes('AAPL', wait=15).loc['AAPL']\n"
                      "print(q['bid'], q['ask'])"], timeout=120, env={**env, "IBXL_HUB": "0"}, cwd=home)
        bid, ask = map(float, quote.stdout.strip().splitlines()[-1].split())
        assert 0 < bid < ask, quote.stdout

        # `ibxl excel install` writes the xlwings.conf sheet and the refresh module next to the workbook
        from openpyxl import Workbook, load_workbook

        book = home / "book.xlsx"
        Workbook().save(book)
        _run([ibxl_cmd, "excel", "install", str(book)], timeout=120, env=env, cwd=home)
        conf = load_workbook(book)["xlwings.conf"]
        values = {r[0].value: r[1].value for r in conf.iter_rows(min_row=1, max_col=2)}
        assert values["UDF Modules"] == "ibxl.excel.classic"
        assert values["Use UDF Server"] == "True"
        assert (home / "ibxl_refresh.bas").stat().st_size > 0

        # `ibxl demo`: the dashboard notebook comes from the package and answers over HTTP
        web = free_port()
        log = (home / "demo.log").open("w")
        demo = subprocess.Popen([ibxl_cmd, "demo", "--port", str(web)], env=env, cwd=home, stdout=log,
                                stderr=subprocess.STDOUT)
        assert wait_listening(web, 120, demo), (home / "demo.log").read_text()[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=120) as page:
            assert page.status == 200
            assert b"ibxl dashboard" in page.read(), "the dashboard notebook is rendered"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(90) == 0, (home / "demo.log").read_text()[-3000:]
    finally:
        for proc in (demo, sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        left = settle(lambda: marked(MARKER, token))
        kill(left)
        shutil.rmtree(hub_dir, ignore_errors=True)
    assert not left, f"left running:\n{describe(left)}"
