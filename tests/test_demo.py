"""``ibxl demo``: serves the dashboard on 127.0.0.1, prints its URL, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from ports import free_port, listening, wait_listening


def _lan_address() -> str | None:
    """This host's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_demo_prints_the_url_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert wait_listening(port, 90, proc), "the dashboard server did not start"
    lan = _lan_address()
    if lan:  # bound to loopback only: the host's network address is refused
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex((lan, port)) != 0
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    assert f"http://127.0.0.1:{port}/" in out
    assert "embedded gateway on 127.0.0.1:" in out
    assert not listening(port), "Voila stopped with the demo"
