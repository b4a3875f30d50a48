"""What the benchmarks share: a free port, the embedded gateway in its own process, and a median timer."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(port: int, *args: str) -> subprocess.Popen:
    """``python -m ibxl.sim`` on ``port`` with nothing kept on disk (extra ``args`` passed on),
    once it accepts connections."""
    proc = subprocess.Popen([sys.executable, "-m", "ibxl.sim", "--port", str(port), "--memory", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("the gateway did not start")


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
