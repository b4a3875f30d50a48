"""Option strategies against the embedded gateway (run in its own process):

- a combo quote follows its legs: time from a leg's update to the combo's updated quote in ibxl's
  cache (target p99 < 5 ms), beside the same measure between two single-contract lines
- ibxl.payoff over 201 prices for a 4-leg iron condor (target < 5 ms), beside a per-price,
  per-leg scalar loop over the same model

    .venv/bin/python benchmarks/bench_strategies.py
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time

import numpy as np
from _support import free_port, start_gateway


def follow_latencies(first: str, second: str, seconds: float) -> np.ndarray:
    """Seconds from each update of ``first``'s line to the next update of ``second``'s line."""
    import ibxl
    from ibxl.live import registry

    handles = [ibxl.subscribe(first), ibxl.subscribe(second)]
    ibxl.quotes([first, second], wait=3.0)
    reg = registry()
    a, b = reg.line(first), reg.line(second)
    out: list[float] = []
    stop = time.perf_counter() + seconds
    va, vb = a.version, b.version
    pending: float | None = None
    # a spinning reader, as a tight worksheet or panel loop would read the cache
    while time.perf_counter() < stop:
        now = time.perf_counter()
        if a.version != va:
            va = a.version
            if pending is None:
                pending = now
        if b.version != vb:
            vb = b.version
            if pending is not None:
                out.append(now - pending)
                pending = None
    for h in handles:
        h.release()
    return np.array(out)


def _pct(x: np.ndarray, q: float) -> float:
    """A percentile in milliseconds."""
    return float(np.percentile(x, q) * 1000) if len(x) else float("nan")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a (both arrive in the same message batch)"


def payoff_times(combo: str, repeats: int = 200) -> tuple[float, float, float]:
    """Median seconds of ibxl.payoff (warm lines), of its vectorised table alone, and of a scalar loop."""
    import ibxl
    from ibxl import greeks
    from ibxl.strategies import _market, legs_of, payoff_table

    legs = legs_of(combo)
    ibxl.payoff(combo)  # open the lines
    spot, mids, ivs, _ = _market(legs, 2.0)
    grid = np.linspace(spot * 0.8, spot * 1.2, 201)
    cost = sum(x.ratio * x.multiplier * m for x, m in zip(legs, mids, strict=True))

    def timed(fn) -> float:  # noqa: ANN001
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return float(np.median(runs))

    years = [float(greeks.years_to(x.expiry)) for x in legs]

    def scalar() -> list[float]:
        out = []
        for s in grid:
            v = -cost
            for x, iv, y in zip(legs, ivs, years, strict=True):
                v += x.ratio * x.multiplier * float(greeks.price(float(s), x.strike, y, iv, x.right))
            out.append(v)
        return out

    return (timed(lambda: ibxl.payoff(combo, grid)), timed(lambda: payoff_table(legs, grid, cost, ivs)),
            timed(scalar))


def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    os.environ["IBXL_CACHE_DIR"] = tempfile.mkdtemp()
    os.environ["IBXL_DATA_DIR"] = tempfile.mkdtemp()
    port = free_port()
    gw = start_gateway(port, "--tick-interval", "0.02")
    try:
        import ibxl

        ibxl.connect(host="127.0.0.1", port=port, client_id=61, hub=False)
        exp = ibxl.expiries("SPY")[1]
        ks = ibxl.strikes("SPY")
        spot = float(ibxl.quotes("SPY")["mid"].iloc[0])
        i = min(range(len(ks)), key=lambda j: abs(ks[j] - spot))
        combo = str(ibxl.strategy("iron_condor", "SPY", exp, (ks[i - 4], ks[i - 2], ks[i + 2], ks[i + 4])))
        leg = combo.split(",")[1].strip()[3:]
        other = combo.split(",")[2].strip()[3:]
        threading.current_thread().name = "bench"
        combo_lat = follow_latencies(leg, combo, 8.0)
        plain_lat = follow_latencies(leg, other, 8.0)
        print(f"leg update -> combo quote in the cache: n={len(combo_lat)} p50 {_pct(combo_lat, 50):.4f} ms "
              f"p99 {_pct(combo_lat, 99):.4f} ms max {_pct(combo_lat, 100):.4f} ms (target p99 < 5 ms)")
        print(f"leg update -> another leg's quote (baseline): n={len(plain_lat)} p50 {_pct(plain_lat, 50):.4f} ms "
              f"p99 {_pct(plain_lat, 99):.4f} ms; combo/baseline p99 ratio "
              f"{_ratio(_pct(combo_lat, 99), _pct(plain_lat, 99))}")
        full, table, scalar = payoff_times(combo)
        print(f"ibxl.payoff, 4 legs x 201 prices: {full * 1000:.2f} ms (target < 5 ms); vectorised table alone "
              f"{table * 1000:.3f} ms; scalar loop {scalar * 1000:.2f} ms; scalar/vectorised ratio "
              f"{scalar / table:.0f}x")
        ibxl.disconnect()
    finally:
        gw.terminate()
        gw.wait(10)


if __name__ == "__main__":
    main()
