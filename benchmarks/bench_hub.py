"""The shared hub against the embedded gateway (each side in its own process, side by side in one run):

- fan-out: the gateway streaming ~5,000 quote updates/s, 1 and 10 attached processes: updates reaching
  each process's cache / updates the hub received (target >= 0.95, conflation allowed), and
  tick-to-cache latency p50/p99 (target p99 < 10 ms with 10 processes)
- warm ibxl.quote (and IB_QUOTE) in an attached process vs in direct mode (target <= 2x, < 1 us)
- history() of 100,000 bars from the store through the hub vs in-process (target <= 1.5x)

    .venv/bin/python benchmarks/bench_hub.py [history] [quote] [fanout]   (default: all three)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import free_port, start_gateway

STOCKS = ["AAPL", "MSFT", "IBM", "AMD", "INTC", "TSLA", "NVDA", "SPY", "QQQ", "IWM", "AMZN", "GOOGL", "META",
          "NFLX", "DIS", "JPM", "BAC", "WFC", "GS", "V", "MA", "PYPL", "WMT", "COST", "KO", "PEP", "MCD", "NKE",
          "SBUX", "HD", "JNJ", "PFE", "MRK", "UNH", "LLY", "XOM", "CVX", "BA", "CAT", "GE"]
LINES = 100
TICK_INTERVAL = LINES / 5000  # every line updates once per pulse: ~5,000 updates/s
WINDOW = 8.0
HISTORY_END = "2026-11-20 00:00"
HISTORY_ROUNDS = 21
HISTORY_DAYS = 380  # 1-minute bars of regular trading hours (390 a session): ~100,000 bars



def _contracts() -> list[str]:
    import ibxl

    exp = ibxl.expiries("AAPL")[0]
    opts = [f"AAPL {exp} {k:g} {r}" for k in ibxl.strikes("AAPL") for r in "CP"]
    return (STOCKS + opts)[:LINES]


# ------------------------------------------------------------ roles run in child processes
def role_fanout() -> None:
    import ibxl
    from ibxl.live import registry

    ibxl.connect()
    handles = [ibxl.subscribe(c) for c in _contracts()]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(h.snapshot().has_data for h in handles):
        time.sleep(0.05)
    print("ready", flush=True)
    sys.stdin.readline()
    reg = registry()
    start_updates = reg.updates
    seen = [h.version for h in handles]
    lat: list[float] = []
    end = time.monotonic() + WINDOW
    while time.monotonic() < end:
        now_wall, now_mono = time.time(), time.monotonic()
        for i, h in enumerate(handles):
            v = h.version
            if v != seen[i]:
                seen[i] = v
                origin = h.origin
                applied_wall = now_wall - (now_mono - h.snapshot().updated)
                if origin:
                    lat.append(applied_wall - origin)
        time.sleep(0.02)  # each seen update carries its own arrival time: polling only finds them
    lat.sort()
    print(json.dumps({"updates": reg.updates - start_updates, "n": len(lat),
                      "p50": lat[len(lat) // 2] if lat else None, "p99": lat[int(len(lat) * 0.99)] if lat else None}),
          flush=True)
    sys.stdin.readline()


def role_quote() -> None:
    import timeit

    import ibxl

    ibxl.connect()
    ibxl.quotes(["AAPL"])
    n = 1_000_000
    per = min(timeit.repeat(lambda: ibxl.quote("AAPL", "Bid"), number=n, repeat=3)) / n
    from ibxl import remote
    from ibxl.excel.functions import IB_QUOTE

    m = 100_000
    cell = min(timeit.repeat(lambda: IB_QUOTE("AAPL", "Bid"), number=m, repeat=3)) / m
    print(json.dumps({"quote": per, "ib_quote": cell, "mode": remote.mode()}), flush=True)
    ibxl.disconnect()


def role_history() -> None:
    import pandas as pd

    import ibxl

    ibxl.connect()
    end = pd.Timestamp(HISTORY_END, tz="UTC")
    kw = {"start": end - pd.Timedelta(days=HISTORY_DAYS), "end": end, "bar_size": "1 min"}
    t = time.perf_counter()
    df = ibxl.history("AAPL", **kw)  # the first fetch fills this side's store
    print(json.dumps({"bars": len(df), "first": time.perf_counter() - t}), flush=True)
    for _ in sys.stdin:  # one timed call per turn, so both sides see the same moments of a noisy machine
        t = time.perf_counter()
        ibxl.history("AAPL", **kw)
        print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
    ibxl.disconnect()


# ------------------------------------------------------------ the run
def _child(role: str, env: dict, **kw: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, role], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, **kw)


def _status(env: dict) -> dict:
    from ibxl.hub.link import request

    return request("status", directory=Path(env["IBXL_HUB_DIR"]))


def _cpu_seconds(pids: list[int]) -> list[float]:
    import psutil

    out = []
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out.append(t.user + t.system)
        except psutil.Error:
            out.append(float("nan"))
    return out


def _fanout(env: dict, n: int, gateway_pid: int) -> dict:
    procs = [_child("--fanout", env, stdin=subprocess.PIPE) for _ in range(n)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", "a fan-out process did not start"
    time.sleep(1.0)
    status = _status(env)
    before = status["updates"]
    pids = [gateway_pid, status["hub_pid"], *(p.pid for p in procs)]
    cpu0 = _cpu_seconds(pids)
    t0 = time.monotonic()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    elapsed = time.monotonic() - t0
    cpu = [(b - a) / elapsed for a, b in zip(cpu0, _cpu_seconds(pids), strict=True)]
    hub = (_status(env)["updates"] - before) * WINDOW / elapsed
    for p in procs:
        p.stdin.write("bye\n")
        p.stdin.flush()
        p.wait(30)
    return {"hub_rate": hub / WINDOW, "ratio_min": min(r["updates"] for r in results) / hub,
            "ratio_mean": sum(r["updates"] for r in results) / n / hub,
            "p50": sorted(r["p50"] for r in results)[n // 2], "p99": max(r["p99"] for r in results),
            "cpu_gateway": cpu[0], "cpu_hub": cpu[1], "cpu_procs": sum(cpu[2:]) / n}


def main(parts: tuple[str, ...] = ("history", "quote", "fanout")) -> int:
    tmp = tempfile.mkdtemp(prefix="ibxl-bh-")
    port = free_port()
    sim = start_gateway(port, "--tick-interval", str(TICK_INTERVAL))
    base = {**os.environ, "IBXL_HOST": "127.0.0.1", "IBXL_PORT": str(port), "IBXL_CACHE_DIR": f"{tmp}/cache",
            "IBXL_DATA_DIR": f"{tmp}/data", "IBXL_CONFIG": f"{tmp}/config.toml", "IBXL_HUB_IDLE": "120"}
    base.pop("IBXL_SIM", None)
    hub = {**base, "IBXL_HUB": "1", "IBXL_HUB_DIR": f"{tmp}/hub"}
    direct = {**base, "IBXL_HUB": "0", "IBXL_CLIENT_ID": "55"}
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
        cpu = next((x.split(":", 1)[1].strip() for x in info if x.startswith("model name")), "?")
        print(f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cpus, Python {platform.python_version()}")

        if "history" in parts:
            _history(hub, direct)
        if "quote" in parts:
            _quote(hub, direct)
        if "fanout" in parts:
            _fanouts(hub, sim.pid)
    finally:
        subprocess.run([sys.executable, "-m", "ibxl", "hub", "stop"], env=hub, capture_output=True, timeout=60)
        sim.terminate()
        sim.wait(20)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _history(hub: dict, direct: dict) -> None:
    # each side has its own store (DuckDB allows one writing process), filled by its own first fetch
    own = {**direct, "IBXL_CACHE_DIR": direct["IBXL_CACHE_DIR"] + "-direct"}
    sides = {"hub": _child("--history", hub, stdin=subprocess.PIPE),
             "direct": _child("--history", own, stdin=subprocess.PIPE)}
    first = {name: json.loads(p.stdout.readline()) for name, p in sides.items()}
    def call(name: str) -> float:
        p = sides[name]
        p.stdin.write("go\n")
        p.stdin.flush()
        return float(json.loads(p.stdout.readline())["seconds"])

    turns: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(HISTORY_ROUNDS):
        for name in sides:
            turns[name].append(call(name))
    # and each side called again and again while the other waits (warm caches, as in a loop)
    runs = {name: [call(name) for _ in range(HISTORY_ROUNDS)] for name in sides}
    for p in sides.values():
        p.stdin.close()
        p.wait(60)
    print(f"history of {first['hub']['bars']:,} 1-minute bars from the store (first fetch through the hub "
          f"{first['hub']['first']:.1f} s); {HISTORY_ROUNDS} calls each, medians (target <= 1.5x)")
    for label, times in (("in turns    ", turns), ("back to back", runs)):
        hub_ms, dir_ms = (statistics.median(times[n]) * 1e3 for n in ("hub", "direct"))
        print(f"  {label}: through the hub {hub_ms:.1f} ms, in-process {dir_ms:.1f} ms, "
              f"ratio {hub_ms / dir_ms:.2f}x")


def _quote(hub: dict, direct: dict) -> None:
    att = json.loads(_child("--quote", hub).communicate(timeout=300)[0].strip().splitlines()[-1])
    dir_ = json.loads(_child("--quote", direct).communicate(timeout=300)[0].strip().splitlines()[-1])
    print("\nwarm quote")
    print(f"  ibxl.quote: attached {att['quote'] * 1e9:.0f} ns, direct {dir_['quote'] * 1e9:.0f} ns, "
          f"ratio {att['quote'] / dir_['quote']:.2f}x (target <= 2x and < 1 us)")
    print(f"  IB_QUOTE:   attached {att['ib_quote'] * 1e6:.2f} us, direct {dir_['ib_quote'] * 1e6:.2f} us "
          f"(target < 20 us)")


def _fanouts(hub: dict, gateway_pid: int) -> None:
    print(f"\nfan-out ({LINES} lines, gateway tick interval {TICK_INTERVAL * 1000:.0f} ms, {WINDOW:g} s window)")
    for n in (1, 10):
        r = _fanout(hub, n, gateway_pid)
        print(f"  {n:>2} process(es): hub received {r['hub_rate']:,.0f} updates/s; reaching each cache / hub "
              f"received: min {r['ratio_min']:.3f}, mean {r['ratio_mean']:.3f} (target >= 0.95); "
              f"tick-to-cache p50 {r['p50'] * 1e3:.2f} ms, p99 {r['p99'] * 1e3:.2f} ms (target p99 < 10 ms); "
              f"CPU: gateway {r['cpu_gateway']:.0%}, hub {r['cpu_hub']:.0%}, each process {r['cpu_procs']:.0%} "
              "of a core")


if __name__ == "__main__":
    roles = {"--fanout": role_fanout, "--quote": role_quote, "--history": role_history}
    if len(sys.argv) > 1 and sys.argv[1] in roles:
        roles[sys.argv[1]]()
    else:
        sys.exit(main(tuple(sys.argv[1:]) or ("history", "quote", "fanout")))
