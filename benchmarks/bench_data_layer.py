"""The ibxl data layer against the embedded gateway (run in its own process):

- ticks/s through ibxl's quote cache vs raw ib_async on the same gateway (target >= 80%)
- warm cache read latency of ibxl.quote (target < 5 us)
- option chain time vs the ideal under IB's message pacing (target within 1.15x)
- history from the local store vs from the gateway (target >= 100x faster)

    .venv/bin/python benchmarks/bench_data_layer.py
"""

from __future__ import annotations

import logging
import os
import tempfile
import time

from _support import free_port, start_gateway

SYMBOLS = ["AAPL", "MSFT", "IBM", "AMD", "INTC", "TSLA", "NVDA", "SPY", "QQQ", "IWM", "AMZN", "GOOGL", "META",
           "NFLX", "DIS", "JPM", "BAC", "WFC", "GS", "V", "MA", "PYPL", "WMT", "COST", "KO", "PEP", "MCD", "NKE",
           "SBUX", "HD", "JNJ", "PFE", "MRK", "UNH", "LLY", "XOM", "CVX", "BA", "CAT", "GE"]




def raw_updates_per_second(port: int, seconds: float) -> float:
    """Ticker updates a plain ib_async client processes per second."""
    from ib_async import IB, Stock

    ib = IB()
    ib.connect("127.0.0.1", port, clientId=50)
    contracts = [Stock(s, "SMART", "USD") for s in SYMBOLS]
    ib.qualifyContracts(*contracts)
    count = [0]
    ib.pendingTickersEvent += lambda ts: count.__setitem__(0, count[0] + len(ts))
    for c in contracts:
        ib.reqMktData(c)
    ib.sleep(2.0)
    count[0] = 0
    t0 = time.perf_counter()
    ib.sleep(seconds)
    rate = count[0] / (time.perf_counter() - t0)
    ib.disconnect()
    return rate


def ibxl_updates_per_second(seconds: float) -> float:
    """Ticker updates that land in ibxl's quote cache per second."""
    from ibxl.live import registry

    handles = [__import__("ibxl").subscribe(s) for s in SYMBOLS]
    time.sleep(2.0)
    reg = registry()
    n0 = reg.updates
    t0 = time.perf_counter()
    time.sleep(seconds)
    rate = (reg.updates - n0) / (time.perf_counter() - t0)
    for h in handles:
        h.release()
    return rate


def main() -> None:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    os.environ["IBXL_CACHE_DIR"] = tempfile.mkdtemp()
    os.environ["IBXL_DATA_DIR"] = tempfile.mkdtemp()
    port = free_port()
    gw = start_gateway(port, "--tick-interval", "0.005")
    try:
        import ibxl
        from ibxl.connection import MESSAGES_PER_SECOND

        raw = raw_updates_per_second(port, 5.0)
        ibxl.connect(host="127.0.0.1", port=port, client_id=51, hub=False)
        cached = ibxl_updates_per_second(5.0)
        print(f"quote updates/s: ibxl cache {cached:,.0f}  raw ib_async {raw:,.0f}  ratio {cached / raw:.2f} "
              "(target >= 0.80)")

        ibxl.quotes("AAPL")
        n = 200_000
        t0 = time.perf_counter()
        for _ in range(n):
            ibxl.quote("AAPL", "Bid")
        per = (time.perf_counter() - t0) / n * 1e6
        print(f"warm ibxl.quote latency: {per:.2f} us (target < 5 us)")

        t0 = time.perf_counter()
        chain = ibxl.option_chain("SPY", expiries=4, strikes=15)
        took = time.perf_counter() - t0
        # every option costs one snapshot request; each expiry one contract-details request
        ideal = (len(chain) + 4) / MESSAGES_PER_SECOND
        print(f"option chain of {len(chain)} options: {took:.1f} s vs ideal under pacing {ideal:.1f} s "
              f"ratio {took / ideal:.2f} (target <= 1.15)")

        for label, kwargs in (("5 D of 1-min bars", {"duration": "5 D", "bar_size": "1 min"}),
                              ("10 Y of daily bars", {"duration": "10 Y", "bar_size": "1 day"})):
            t0 = time.perf_counter()
            first = ibxl.history("MSFT", **kwargs)
            fetched = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = ibxl.history("MSFT", **kwargs)
            stored = time.perf_counter() - t0
            assert len(first) == len(again)
            print(f"history {label} ({len(first):,} bars): gateway {fetched * 1000:.0f} ms, store "
                  f"{stored * 1000:.1f} ms, ratio {fetched / stored:.0f}x (target >= 100x)")
        ibxl.disconnect()
    finally:
        gw.kill()


if __name__ == "__main__":
    main()
