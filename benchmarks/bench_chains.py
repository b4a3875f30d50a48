"""Option chains: ibxl against plain ib_async on the same embedded gateway, one run.

- ``ibxl.option_chain("SPY", expiries=4, strikes=15)`` vs a plain ib_async user who qualifies
  the same options and calls ``reqTickers`` (target ratio <= 0.55)
- seconds until the 20 options nearest the money have arrived (target <= 1 s)
- a second chain of the day, definitions cached, vs the first (target <= 0.5)

    .venv/bin/python benchmarks/bench_chains.py
"""

from __future__ import annotations

import logging
import os
import tempfile
import time

from _support import free_port, start_gateway

EXPIRIES, STRIKES = 4, 15




def plain_ib_async(port: int) -> tuple[float, int]:
    """What an ib_async user writes: option parameters, spot, qualify every option, reqTickers."""
    from ib_async import IB, Option, Stock

    ib = IB()
    ib.connect("127.0.0.1", port, clientId=61, timeout=20)
    try:
        t0 = time.perf_counter()
        und = Stock("SPY", "SMART", "USD")
        ib.qualifyContracts(und)
        [spot_ticker] = ib.reqTickers(und)
        spot = spot_ticker.marketPrice()
        params = ib.reqSecDefOptParams(und.symbol, "", und.secType, und.conId)
        chain = next(c for c in params if c.exchange == "SMART" and c.tradingClass == "SPY")
        listed = sorted(chain.strikes)
        centre = min(range(len(listed)), key=lambda i: abs(listed[i] - spot))
        picked = listed[max(0, centre - STRIKES): centre + STRIKES + 1]
        options = [Option("SPY", e, k, r, "SMART", tradingClass="SPY")
                   for e in sorted(chain.expirations)[:EXPIRIES] for k in picked for r in "CP"]
        qualified = [o for o in ib.qualifyContracts(*options) if o and o.conId]
        tickers = ib.reqTickers(*qualified)
        return time.perf_counter() - t0, len(tickers)
    finally:
        ib.disconnect()


def ibxl_chain() -> tuple[float, float, int]:
    """The first chain of the day: total seconds, seconds to the 20 options nearest the money, rows."""
    import ibxl

    t0 = time.perf_counter()
    first20: list[float] = []

    def progress(frame, loaded: int, total: int) -> None:  # noqa: ANN001 - a DataFrame
        if loaded >= 20 and not first20:
            first20.append(time.perf_counter() - t0)

    chain = ibxl.option_chain("SPY", expiries=EXPIRIES, strikes=STRIKES, progress=progress)
    return time.perf_counter() - t0, first20[0] if first20 else float("nan"), len(chain)


def main() -> None:
    """Run both sides against one gateway and print the ratios."""
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    os.environ["IBXL_CACHE_DIR"] = tempfile.mkdtemp()
    os.environ["IBXL_DATA_DIR"] = tempfile.mkdtemp()
    port = free_port()
    gw = start_gateway(port)
    try:
        import ibxl

        plain, n_plain = plain_ib_async(port)
        ibxl.connect(host="127.0.0.1", port=port, client_id=52, hub=False)
        first, atm20, n_first = ibxl_chain()
        t0 = time.perf_counter()
        second = ibxl.option_chain("SPY", expiries=EXPIRIES, strikes=STRIKES)
        cached = time.perf_counter() - t0
        print(f"plain ib_async (qualify + reqTickers): {n_plain} options in {plain:.2f} s")
        print(f"ibxl.option_chain: {n_first} options in {first:.2f} s  ratio {first / plain:.2f} (target <= 0.55)")
        print(f"first 20 options nearest the money: {atm20:.2f} s (target <= 1 s)")
        print(f"second chain of the day (definitions cached): {len(second)} options in {cached:.2f} s  "
              f"ratio to the first {cached / first:.2f} (target <= 0.5)")
        ibxl.disconnect()
    finally:
        gw.terminate()
        gw.wait(10)


if __name__ == "__main__":
    main()
