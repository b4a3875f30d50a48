"""ibxl's worksheet functions against the embedded gateway, measured side by side in one run:

- warm IB_QUOTE latency, next to the data layer's ibxl.quote it is built on (target < 20 us)
- a full recalculation of a 1,000-cell sheet (100 contracts x 10 fields) of IB_QUOTE cells,
  next to reading the same 1,000 values straight from ib_async's tickers (target < 20 ms)

    .venv/bin/python benchmarks/bench_excel.py
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time

FIELDS = ["Bid", "Ask", "Last", "BidSize", "AskSize", "Volume", "Change", "ChangePct", "Mid", "High"]
TICKER_ATTRS = ["bid", "ask", "last", "bidSize", "askSize", "volume", "close", "close", "bid", "high"]


def _universe() -> list[str]:
    import json
    from importlib.resources import files

    data = json.loads(files("ibxl.sim").joinpath("data/universe.json").read_text())
    out = [s["symbol"] for s in data["stocks"]]
    out += [f"{f['symbol']}.{f['currency']}/CASH" for f in data["forex"]]
    out += [f"{c['symbol']}.USD/CRYPTO" for c in data["crypto"]]
    return out


def _options(n: int) -> list[str]:
    import ibxl

    expiry = ibxl.expiries("SPY")[0]
    strikes = ibxl.strikes("SPY")
    mid = len(strikes) // 2
    picked = strikes[max(0, mid - n // 4): mid + n // 4 + 1]
    return [f"SPY {expiry} {k:g} {r}" for k in picked for r in ("C", "P")][:n]


def _per_call_us(fn, n: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(5):  # best of five: the least disturbed run on a noisy machine
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


def main() -> None:
    logging.disable(logging.WARNING)
    os.environ.setdefault("IBXL_CACHE_DIR", tempfile.mkdtemp(prefix="ibxl-bench-"))
    import ibxl
    from ibxl.excel.functions import IB_QUOTE
    from ibxl.live import registry

    ibxl.connect(sim=True, hub=False)  # in-process: bench_hub.py measures the same reads through the hub
    contracts = _universe()
    contracts += _options(100 - len(contracts))
    contracts = contracts[:100]
    handles = [ibxl.subscribe(c) for c in contracts]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(registry().line(c).snapshot.has_data for c in contracts):
        time.sleep(0.2)

    quote_us = _per_call_us(lambda: IB_QUOTE("AAPL", "Bid"), 20_000)
    layer_us = _per_call_us(lambda: ibxl.quote("AAPL", "bid"), 20_000)
    print(f"warm IB_QUOTE: {quote_us:.2f} us; ibxl.quote {layer_us:.2f} us; ratio {quote_us / layer_us:.2f} "
          f"(target < 20 us: {'met' if quote_us < 20 else 'MISSED'})")

    sheet = [(c, f) for c in contracts for f in FIELDS]
    tickers = [registry().line(c).ticker for c in contracts]
    raw_cells = [(t, a) for t in tickers for a in TICKER_ATTRS]

    def recalc_ms() -> float:
        t0 = time.perf_counter()
        values = [IB_QUOTE(c, f) for c, f in sheet]
        took = (time.perf_counter() - t0) * 1000
        assert len(values) == 1000 and not any(isinstance(v, str) and v.startswith("#") for v in values), \
            [v for v in values if isinstance(v, str)][:3]
        return took

    def raw_ms() -> float:
        t0 = time.perf_counter()
        values = [getattr(t, a) for t, a in raw_cells]
        took = (time.perf_counter() - t0) * 1000
        assert len(values) == 1000
        return took

    full = statistics.median(recalc_ms() for _ in range(50))
    raw = statistics.median(raw_ms() for _ in range(50))
    print(f"1,000-cell recalculation over {len(contracts)} contracts: {full:.2f} ms; raw ib_async ticker reads "
          f"{raw:.3f} ms; ratio {full / raw:.0f}x (target < 20 ms: {'met' if full < 20 else 'MISSED'})")
    for h in handles:
        h.release()
    ibxl.disconnect()


if __name__ == "__main__":
    main()
