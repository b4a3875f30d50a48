"""``ibxl demo``: serves the dashboard on 127.0.0.1, prints its URL, and whichever of SIGINT (Ctrl-C),
SIGTERM (a service manager) or SIGHUP (a closed terminal) stops it, stops the gateway, Voila and
every kernel: no process the demo started is left."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import psutil
import pytest
from leftovers import describe, kill, marked, settle
from ports import free_port, listening, wait_listening

SIGNALS = [name for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
MARKER = "IBXL_DEMO_TEST"


def _lan_address() -> str | None:
    """This host's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def _kernels(pid: int) -> list[psutil.Process]:
    """The IPython kernels among the descendants of ``pid``."""
    try:
        tree = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for p in tree:
        try:
            if "ipykernel_launcher" in " ".join(p.cmdline()):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.parametrize("signame", SIGNALS)
def test_demo_stops_the_gateway_voila_and_its_kernels_on(signame, tmp_path):
    port = free_port()
    token = secrets.token_hex(8)
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           MARKER: token}
    env.pop("IBXL_PORT", None)
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_listening(port, 90, proc), "the dashboard server did not start"
        lan = _lan_address()
        if lan:  # bound to loopback only: the host's network address is refused
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((lan, port)) != 0
        # a viewer opens the dashboard: Voila starts a kernel that runs the notebook
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as page:
            assert page.status == 200
            assert page.read(512)
            deadline = time.monotonic() + 60
            while not _kernels(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.3)
            started = marked(MARKER, token)
            assert _kernels(proc.pid), "Voila started a kernel for the page"
            assert len(started) >= 2, describe(started)  # Voila and its kernel at least
            proc.send_signal(getattr(signal, signame))
            out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        left = settle(lambda: marked(MARKER, token))
        kill(left)
    assert proc.returncode == 0, out[-3000:]
    assert f"http://127.0.0.1:{port}/" in out
    assert "embedded gateway on 127.0.0.1:" in out
    assert f"{signame}, stopping" in out
    assert not left, f"left running after {signame}:\n{describe(left)}"
    assert not listening(port), "Voila stopped with the demo"


def test_a_demo_killed_outright_leaves_nothing_behind_once_its_hub_idles_out(tmp_path):
    # SIGKILL runs no clean-up: the guard stops Voila and its kernels, the gateway dies with the
    # demo, and the demo's hub exits once nothing has been attached for IBXL_HUB_IDLE seconds
    port = free_port()
    token = secrets.token_hex(8)
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           "IBXL_HUB_IDLE": "5", MARKER: token}
    env.pop("IBXL_PORT", None)
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_listening(port, 90, proc), "the dashboard server did not start"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as page:
            assert page.status == 200
            deadline = time.monotonic() + 60
            while not _kernels(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.3)
            assert _kernels(proc.pid), "Voila started a kernel for the page"
            started = marked(MARKER, token)
            proc.kill()
            proc.wait(10)
        left = settle(lambda: marked(MARKER, token), timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        stray = marked(MARKER, token)
        kill(stray)
    assert len(started) >= 4, describe(started)  # the demo, the guard, Voila, a kernel (and the hub)
    assert not left, f"left running after SIGKILL of the demo:\n{describe(left)}"
    assert not listening(port), "Voila stopped with the demo"


def test_the_process_guard_refuses_bad_arguments_and_a_parent_that_is_gone():
    guard = [sys.executable, "-m", "ibxl.process_guard"]
    bad = subprocess.run([*guard, "me", "--", "true"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage: python -m ibxl.process_guard PARENT_PID -- COMMAND" in bad.stderr
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    marker = tempfile.mktemp()
    out = subprocess.run([*guard, str(gone.pid), "--", sys.executable, "-c", f"open({marker!r}, 'w')"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and f"process {gone.pid} is already gone" in out.stderr
    assert not os.path.exists(marker), "the command was not started"


def test_terminal_demo_stops_on_sigterm(tmp_path):
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--terminal", "AAPL"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()  # the banner, once connected
        assert "embedded gateway" in first, first
        assert "AAPL" in proc.stdout.readline()  # a quote line
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, out[-2000:]
    assert "Traceback" not in out


def test_demo_on_a_port_in_use_says_so():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "ibxl", "demo", "--port", str(port)], capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == f"ibxl demo: port {port} is in use; pick another with --port"
