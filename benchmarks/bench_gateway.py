"""ibxl.sim throughput, connect latency and memory per subscription.

Ticks/s delivered to one ib_async client by the gateway, beside the same client's ceiling
against a bare responder (a server that only blasts pre-encoded tick frames), measured in one
run; both servers run in their own processes so the client has the same CPU in each case.

    .venv/bin/python benchmarks/bench_gateway.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import struct
import time

from _support import free_port
from ib_async import IB, Stock
from ib_async.ib import StartupFetchNONE

SYMBOLS = ["AAPL", "MSFT", "IBM", "AMD", "INTC", "TSLA", "NVDA", "SPY", "QQQ", "IWM", "AMZN", "GOOGL", "META",
           "NFLX", "DIS", "JPM", "BAC", "WFC", "GS", "V", "MA", "PYPL", "WMT", "COST", "KO", "PEP", "MCD", "NKE",
           "SBUX", "HD", "JNJ", "PFE", "MRK", "UNH", "LLY", "XOM", "CVX", "BA", "CAT", "GE", "F", "GM", "T", "VZ",
           "CSCO", "ORCL", "ADBE", "CRM", "QCOM", "TXN", "AVGO", "MU", "UBER", "PLTR", "COIN", "DIA", "GLD", "SLV",
           "TLT", "XLF", "XLE", "EEM", "EFA", "HYG", "GOOG"]



def _frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def run_gateway(port: int, tick_interval: float) -> None:
    """Child process: the embedded gateway."""
    _quiet_asyncio()
    from ibxl.sim import SimConfig
    from ibxl.sim.server import Gateway

    async def main() -> None:
        gw = Gateway(SimConfig(port=port, tick_interval=tick_interval))
        await gw.serve_forever()

    asyncio.run(main())


def _quiet_asyncio() -> None:
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def run_bare_responder(port: int) -> None:
    """Child process: handshake, startApi and contract answers, then tick frames as fast as the socket takes."""
    _quiet_asyncio()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await session(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client left (or was a port probe)
        finally:
            writer.close()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        size = struct.unpack(">I", await reader.readexactly(4))[0]
        await reader.readexactly(size)
        writer.write(_frame(176, "20260101 00:00:00 UTC"))
        req_ids: list[int] = []
        blaster: asyncio.Task | None = None

        async def blast() -> None:
            while not writer.is_closing():
                batch = []
                for i in range(200):
                    price = 100.0 + (i % 50) * 0.01
                    for rid in req_ids:
                        batch.append(_frame(1, 6, rid, 1 + i % 2, f"{price:.2f}", 100, 1))
                writer.write(b"".join(batch))
                try:
                    await writer.drain()
                except ConnectionError:
                    return

        while True:
            head = await reader.readexactly(4)
            fields = (await reader.readexactly(struct.unpack(">I", head)[0])).decode().split("\0")
            msg = fields[0]
            if msg == "71":
                writer.write(_frame(15, 1, "DU1") + _frame(9, 1, 1))
            elif msg == "9":  # contract details: echo a stock with the conId the client asked for
                req_id, symbol = fields[2], fields[4]
                writer.write(_frame(10, req_id, symbol, "STK", "", 0, "", "SMART", "USD", symbol, symbol, symbol,
                                    1000 + len(req_ids) + abs(hash(symbol)) % 100000, 0.01, "", "", "", 0, 0,
                                    "", "", "", "", "", "", "", "", "", "", 0, "", "", "", "", "", "", "", "",
                                    "", "", "", "", "", "", "", 0, "", "", "", "", "", "", "", "", "", "")
                             + _frame(52, 1, req_id))
            elif msg == "1":
                req_ids.append(int(fields[2]))
                if blaster is None:
                    blaster = asyncio.get_running_loop().create_task(blast())
            await writer.drain()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def ticks_per_second(port: int, symbols: list[str], seconds: float, qualify: bool) -> float:
    """Subscribe and count the ticks the client processes per second."""
    ib = IB()
    ib.connect("127.0.0.1", port, clientId=1, timeout=15, fetchFields=StartupFetchNONE)
    contracts = [Stock(s, "SMART", "USD", conId=10_000 + i) for i, s in enumerate(symbols)]
    if qualify:
        contracts = [Stock(s, "SMART", "USD") for s in symbols]
        ib.qualifyContracts(*contracts)
    count = [0]
    ib.pendingTickersEvent += lambda tickers: count.__setitem__(0, count[0] + sum(len(t.ticks) for t in tickers))
    for c in contracts:
        ib.reqMktData(c)
    ib.sleep(3.0)  # ib_async paces requests at 45/s: let every subscription start
    count[0] = 0
    t0 = time.perf_counter()
    ib.sleep(seconds)
    rate = count[0] / (time.perf_counter() - t0)
    ib.disconnect()
    return rate


def connect_latency(port: int, n: int = 15) -> float:
    """Median milliseconds for a full ib_async connect (with its start-up synchronisation)."""
    times = []
    for i in range(n):
        ib = IB()
        t0 = time.perf_counter()
        ib.connect("127.0.0.1", port, clientId=100 + i, timeout=10)
        times.append((time.perf_counter() - t0) * 1000)
        ib.disconnect()
    return statistics.median(times)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_per_subscription(port: int, pid: int, n: int = 90) -> float:
    """KiB of gateway RSS per market-data line (n lines on one raw connection)."""
    s = socket.create_connection(("127.0.0.1", port))
    payload = b"v157..178"
    s.sendall(b"API\0" + struct.pack(">I", len(payload)) + payload)
    s.sendall(_frame(71, 2, 77, ""))
    time.sleep(0.5)
    before = rss_kib(pid)
    syms = (SYMBOLS * 2)[:n]
    for i, sym in enumerate(syms):
        s.sendall(_frame(1, 11, 1000 + i, 0, sym, "STK", "", 0, "", "", "SMART", "", "USD", "", "", 0, "", 0, 0, ""))
        time.sleep(0.03)  # stay under 50 messages a second
    time.sleep(2.0)
    after = rss_kib(pid)
    s.close()
    return (after - before) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    # the pulse caps what the gateway sends at (lines x beats a second x changed fields a beat):
    # at 2 ms that is about 90,000 ticks/s with the gateway half idle, so the default beats
    # every 0.5 ms to measure what the gateway can deliver rather than what it was asked to
    ap.add_argument("--tick-interval", type=float, default=0.0005)
    args = ap.parse_args()
    import logging

    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    ctx = mp.get_context("spawn")
    gw_port, bare_port = free_port(), free_port()
    gw = ctx.Process(target=run_gateway, args=(gw_port, args.tick_interval), daemon=True)
    bare = ctx.Process(target=run_bare_responder, args=(bare_port,), daemon=True)
    gw.start()
    bare.start()
    try:
        _wait_port(gw_port)
        _wait_port(bare_port)
        print(f"cpus: {os.cpu_count()}, {len(SYMBOLS)} contracts, gateway tick interval {args.tick_interval}s")
        bare_rate = ticks_per_second(bare_port, SYMBOLS, args.seconds, qualify=False)
        gw_rate = ticks_per_second(gw_port, SYMBOLS, args.seconds, qualify=True)
        print(f"ticks/s to one ib_async client: gateway {gw_rate:,.0f}  bare responder (client ceiling) "
              f"{bare_rate:,.0f}  ratio {gw_rate / bare_rate:.2f}  (target >= 0.50)")
        print(f"connect latency (ib_async, full start-up sync): median {connect_latency(gw_port):.1f} ms")
        print(f"memory per market-data line: {memory_per_subscription(gw_port, gw.pid):.1f} KiB of gateway RSS")
    finally:
        gw.terminate()
        bare.terminate()


if __name__ == "__main__":
    main()
