"""``ibxl demo``: start the embedded gateway and serve the dashboard notebook with Voila.

    ibxl demo                 # gateway + dashboard on http://127.0.0.1:8866
    ibxl demo --port 9000     # another port
    ibxl demo --no-sim        # the configured TWS / IB Gateway instead of the embedded one
    ibxl demo --terminal      # a quote board in the terminal, no browser needed

Ctrl-C, SIGTERM (a service manager) and SIGHUP (a closed terminal) stop the gateway, Voila and all
its kernels; nothing the demo started keeps running.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .extras import require
from .processes import Children, Stopped, stop_signals

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "NVDA")
#: the dashboard notebook ships inside the package (package data)
DASHBOARD = Path(__file__).resolve().parent / "dashboard" / "dashboard.ipynb"


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
    """Run the demo until Ctrl-C, SIGTERM or SIGHUP (or ``--seconds``)."""
    if a.terminal:
        return _terminal(a)
    return serve_dashboard(a.port, sim=not a.no_sim, seconds=a.seconds)


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen) -> bool:
    """Wait until ``port`` accepts connections; False after ``timeout`` or once ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def _port_free(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` can be listened on now (as a server binds it: connections of a
    previous run waiting out TIME_WAIT do not count)."""
    with socket.socket() as s:
        if sys.platform != "win32":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_dashboard(port: int = 8866, *, sim: bool = True, seconds: float = 0) -> int:
    """Start the gateway (unless ``sim`` is False) and Voila on 127.0.0.1 until Ctrl-C, SIGTERM,
    SIGHUP or ``seconds``; then stop Voila, its kernels and the gateway, leaving no process behind."""
    require("dashboard", "ibxl demo")
    if not _port_free("127.0.0.1", port):
        print(f"ibxl demo: port {port} is in use; pick another with --port", file=sys.stderr)
        return 2
    from .sim import SimConfig, SimGateway

    children = Children()
    with stop_signals() as received:
        try:
            env = dict(os.environ)
            if sim:
                gateway = SimGateway(SimConfig(seed=42, port=0)).start()
                children.on_stop(gateway.stop)
                env.update({"IBXL_HOST": gateway.host, "IBXL_PORT": str(gateway.port)})
                where = f"embedded gateway on {gateway.host}:{gateway.port}"
            else:
                where = "the configured TWS"
            # every tab's kernel attaches to one hub of the demo's own (one API connection for any
            # number of tabs and reloads); it stops with the demo (clean-ups run newest first, so the
            # hub stops before its directory goes), or on its own once no kernel is left
            hub_tmp = None if env.get("IBXL_HUB_DIR") else tempfile.mkdtemp(prefix="ibxl-demo-")
            if hub_tmp is not None:
                children.on_stop(lambda: shutil.rmtree(hub_tmp, ignore_errors=True))
            env.update({"IBXL_HUB": "1", "IBXL_HUB_DIR": env.get("IBXL_HUB_DIR") or f"{hub_tmp}/hub",
                        "IBXL_HUB_IDLE": env.get("IBXL_HUB_IDLE") or "30"})
            hub = [sys.executable, "-m", "ibxl", "hub"]
            subprocess.run([*hub, "start"], env=env, stdout=subprocess.DEVNULL, timeout=120)
            children.on_stop(lambda: subprocess.run([*hub, "stop"], env=env, stdout=subprocess.DEVNULL, timeout=60))

            # no port_retries: Voila must serve on the port announced, not on a neighbour
            cmd = [sys.executable, "-m", "voila", str(DASHBOARD), f"--port={port}", "--Voila.port_retries=0",
                   "--no-browser", "--Voila.ip=127.0.0.1", "--theme=light"]
            proc = children.spawn(cmd, env=env)
            if not _wait_port("127.0.0.1", port, 60, proc):
                print("the dashboard server did not start; see the messages above", file=sys.stderr)
                return 1
            print(f"\nibxl dashboard: http://127.0.0.1:{port}/  ({where}; Ctrl-C stops)\n", flush=True)
            start = time.monotonic()
            while proc.poll() is None and (not seconds or time.monotonic() - start < seconds):
                time.sleep(0.5)
            if proc.poll() is not None:
                print(f"the dashboard server exited ({proc.returncode}); see the messages above", file=sys.stderr)
                return 1
        except (Stopped, KeyboardInterrupt) as stop:
            name = stop.args[0] if isinstance(stop, Stopped) else "SIGINT"
            print(f"ibxl demo: {name}, stopping the dashboard and the gateway", flush=True)
        finally:
            # a further signal is recorded in `received` only: the clean-up runs to its end
            received.append(0)
            children.stop()
    return 0


def _terminal(a: argparse.Namespace) -> int:
    """Print a quote board from the embedded gateway until Ctrl-C, SIGTERM, SIGHUP or ``--seconds``."""
    import ibxl

    children = Children()
    with stop_signals() as received:
        try:
            # one process, its own gateway: nothing to share, so no hub that could outlive the demo
            ibxl.connect(sim=True, hub=False)
            children.on_stop(ibxl.disconnect)  # also stops the in-process gateway
            print("ibxl demo: embedded gateway; Ctrl-C stops")
            start = time.time()
            ibxl.quotes(a.symbols)
            while not a.seconds or time.time() - start < a.seconds:
                time.sleep(1.0)
                q = ibxl.quotes(a.symbols, wait=0)
                line = "  ".join(f"{k} {r.bid:.2f}/{r.ask:.2f}" for k, r in q.iterrows())
                print(time.strftime("%H:%M:%S"), line, flush=True)
        except (Stopped, KeyboardInterrupt):
            pass
        finally:
            received.append(0)
            children.stop()
    return 0
