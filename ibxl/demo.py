"""``ibxl demo``: start the embedded gateway and show live quotes.

Until the notebook dashboard exists this prints a live quote board in the terminal.
"""

from __future__ import annotations

import argparse
import time

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "NVDA")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", help="start the embedded gateway and show live quotes")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    p.add_argument("symbols", nargs="*", default=list(DEFAULT_SYMBOLS))
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    """Print a quote board from the embedded gateway through ib_async."""
    from ib_async import IB, Stock

    from .sim import SimGateway

    with SimGateway() as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        contracts = ib.qualifyContracts(*[Stock(s, "SMART", "USD") for s in a.symbols])
        tickers = [ib.reqMktData(c) for c in contracts if c]
        print(f"ibxl demo: embedded gateway on {gw.host}:{gw.port}; Ctrl-C stops")
        start = time.time()
        try:
            while not a.seconds or time.time() - start < a.seconds:
                ib.sleep(1.0)
                line = "  ".join(f"{t.contract.symbol} {t.bid:.2f}/{t.ask:.2f} last {t.last:.2f}" for t in tickers)
                print(time.strftime("%H:%M:%S"), line, flush=True)
        except KeyboardInterrupt:
            pass
        ib.disconnect()
    return 0
