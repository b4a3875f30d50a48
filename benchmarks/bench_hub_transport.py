"""The hub's two transports side by side in one run: local unix sockets (``ipc``) and loopback TCP
with CURVE encryption (``tcp``, the default on Windows). Two hubs run at once against one embedded
gateway, each with one attached process; the processes measure in turns (ipc, tcp, ipc, tcp, ...):

- ``history()`` of 70 days of 1-minute bars (~19,500 bars in exchange sessions) from the hub's store
- a call's round trip: ``ibxl.status()`` (an ``@on_hub`` function that does no IB traffic), and the
  bare request/reply of the link (``hello``, answered on the hub's main thread)

    .venv/bin/python benchmarks/bench_hub_transport.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from _support import free_port, median_ms, start_gateway

HISTORY_END = "2026-11-20 00:00"
HISTORY_DAYS = 70
ROUNDS = 5



def role_measure() -> None:
    import pandas as pd

    import ibxl
    from ibxl import remote

    ibxl.connect()
    end = pd.Timestamp(HISTORY_END, tz="UTC")
    kw = {"start": end - pd.Timedelta(days=HISTORY_DAYS), "end": end, "bar_size": "1 min"}
    bars = len(ibxl.history("AAPL", **kw))  # the first fetch fills the hub's store
    link = remote.link()
    assert link is not None, "not attached to a hub"
    print(json.dumps({"bars": bars}), flush=True)
    for _ in sys.stdin:
        print(json.dumps({
            "history_ms": median_ms(lambda: ibxl.history("AAPL", **kw), 7),
            "call_us": median_ms(ibxl.status, 300) * 1000,
            "hello_us": median_ms(lambda: link.request("hello", {}, timeout=5.0), 1000) * 1000,
        }), flush=True)


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="ibxl-bt-")
    port = free_port()
    gateway = start_gateway(port)
    envs = {}
    for kind in ("ipc", "tcp"):
        envs[kind] = {**os.environ, "IBXL_HOST": "127.0.0.1", "IBXL_PORT": str(port), "IBXL_HUB": "1",
                      "IBXL_HUB_TRANSPORT": kind, "IBXL_HUB_DIR": f"{tmp}/{kind}/hub",
                      "IBXL_CACHE_DIR": f"{tmp}/{kind}/cache", "IBXL_DATA_DIR": f"{tmp}/{kind}/data",
                      "IBXL_CONFIG": f"{tmp}/config.toml", "IBXL_HUB_IDLE": "120",
                      "IBXL_CLIENT_ID": "31" if kind == "ipc" else "32"}
        envs[kind].pop("IBXL_SIM", None)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for kind, env in envs.items():
            procs[kind] = subprocess.Popen([sys.executable, __file__, "--measure"], env=env, text=True,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        bars = {kind: json.loads(p.stdout.readline())["bars"] for kind, p in procs.items()}
        print(f"history of {bars['ipc']:,} 1-minute bars from each hub's store; {ROUNDS} rounds, ipc and tcp in "
              f"turns (medians per round)")
        rows: dict[str, list[dict]] = {"ipc": [], "tcp": []}
        for _ in range(ROUNDS):
            for kind, p in procs.items():
                p.stdin.write("go\n")
                p.stdin.flush()
                rows[kind].append(json.loads(p.stdout.readline()))
        for what, unit in (("history_ms", "ms"), ("call_us", "us"), ("hello_us", "us")):
            ipc = [r[what] for r in rows["ipc"]]
            tcp = [r[what] for r in rows["tcp"]]
            ratios = [t / i for t, i in zip(tcp, ipc, strict=True)]
            name = {"history_ms": "history()", "call_us": "ibxl.status() call", "hello_us": "bare request"}[what]
            print(f"  {name:<20} ipc {min(ipc):.1f}-{max(ipc):.1f} {unit}, tcp+CURVE {min(tcp):.1f}-{max(tcp):.1f} "
                  f"{unit}; tcp/ipc {min(ratios):.2f}-{max(ratios):.2f}x (median {statistics.median(ratios):.2f}x)")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.stdin.close()
                p.wait(60)
        for env in envs.values():
            subprocess.run([sys.executable, "-m", "ibxl", "hub", "stop"], env=env, capture_output=True, timeout=60)
        gateway.terminate()
        gateway.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        role_measure()
    else:
        sys.exit(main())
