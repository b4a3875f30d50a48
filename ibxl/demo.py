"""``ibxl demo``: start the embedded gateway and serve the dashboard notebook with Voila.

    ibxl demo                 # gateway + dashboard on http://127.0.0.1:8866
    ibxl demo --port 9000     # another port
    ibxl demo --no-sim        # the configured TWS / IB Gateway instead of the embedded one
    ibxl demo --terminal      # a quote board in the terminal, no browser needed
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "NVDA")
DASHBOARD = Path(__file__).resolve().parents[1] / "notebooks" / "dashboard.ipynb"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", help="start the embedded gateway and serve the live dashboard")
    p.add_argument("--port", type=int, default=8866, help="dashboard port (default 8866)")
    p.add_argument("--no-sim", action="store_true", help="use the configured TWS or IB Gateway")
    p.add_argument("--terminal", action="store_true", help="print live quotes in the terminal instead")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    p.add_argument("symbols", nargs="*", default=list(DEFAULT_SYMBOLS), help="symbols for --terminal")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C (or ``--seconds``)."""
    if a.terminal:
        return _terminal(a)
    return serve_dashboard(a.port, sim=not a.no_sim, seconds=a.seconds)


def _wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def serve_dashboard(port: int = 8866, *, sim: bool = True, seconds: float = 0) -> int:
    """Start the gateway (unless ``sim`` is False) and Voila on 127.0.0.1; stop both cleanly."""
    from .sim import SimConfig, SimGateway

    gateway = SimGateway(SimConfig(seed=42, port=0)).start() if sim else None
    env = dict(os.environ)
    if gateway is not None:
        env.update({"IBXL_HOST": gateway.host, "IBXL_PORT": str(gateway.port)})
    # every tab's kernel attaches to one hub of the demo's own (one API connection for any number of
    # tabs and reloads); it ends with the demo, or on its own once no kernel is left
    hub_tmp = None if env.get("IBXL_HUB_DIR") else tempfile.mkdtemp(prefix="ibxl-demo-")
    env.update({"IBXL_HUB": "1", "IBXL_HUB_DIR": env.get("IBXL_HUB_DIR") or f"{hub_tmp}/hub",
                "IBXL_HUB_IDLE": env.get("IBXL_HUB_IDLE") or "30"})
    subprocess.run([sys.executable, "-m", "ibxl", "hub", "start"], env=env, stdout=subprocess.DEVNULL, timeout=120)
    cmd = [sys.executable, "-m", "voila", str(DASHBOARD), f"--port={port}", "--no-browser",
           "--Voila.ip=127.0.0.1", "--theme=light"]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        if not _wait_port("127.0.0.1", port, 60):
            print("the dashboard server did not start; see the messages above", file=sys.stderr)
            return 1
        where = f"embedded gateway on {gateway.host}:{gateway.port}" if gateway else "the configured TWS"
        print(f"\nibxl dashboard: {url}  ({where}; Ctrl-C stops)\n", flush=True)
        start = time.monotonic()
        while proc.poll() is None and (not seconds or time.monotonic() - start < seconds):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run([sys.executable, "-m", "ibxl", "hub", "stop"], env=env, stdout=subprocess.DEVNULL, timeout=60)
        if hub_tmp is not None:
            shutil.rmtree(hub_tmp, ignore_errors=True)
        if gateway is not None:
            gateway.stop()
    return 0


def _terminal(a: argparse.Namespace) -> int:
    """Print a quote board from the embedded gateway."""
    import ibxl

    ibxl.connect(sim=True)
    print("ibxl demo: embedded gateway; Ctrl-C stops")
    start = time.time()
    try:
        ibxl.quotes(a.symbols)
        while not a.seconds or time.time() - start < a.seconds:
            time.sleep(1.0)
            q = ibxl.quotes(a.symbols, wait=0)
            line = "  ".join(f"{k} {r.bid:.2f}/{r.ask:.2f}" for k, r in q.iterrows())
            print(time.strftime("%H:%M:%S"), line, flush=True)
    except KeyboardInterrupt:
        pass
    ibxl.disconnect()
    return 0
