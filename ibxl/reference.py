"""Reference data: contract details, symbol search, and the depth-of-book ladder."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd

from .connection import client as _client
from .contracts import contract_text, resolve
from .remote import on_hub


@on_hub
def contract_details(contract: str) -> pd.Series:
    """Everything TWS knows about a contract (names, exchanges, min tick, hours, industry...)."""
    c = _client()
    con = resolve(contract)
    details = c.run(lambda: c.ib.reqContractDetailsAsync(con))
    d = details[0]
    dc = d.contract or con
    data = {k: v for k, v in dataclasses.asdict(d).items() if k != "contract" and not isinstance(v, list | dict)}
    data.update({"contract": contract_text(dc), "conId": dc.conId, "symbol": dc.symbol,
                 "secType": dc.secType, "exchange": dc.exchange,
                 "primaryExchange": dc.primaryExchange, "currency": dc.currency,
                 "localSymbol": dc.localSymbol})
    return pd.Series(data, name=contract_text(dc))


@on_hub
def search(pattern: str) -> pd.DataFrame:
    """Contracts whose symbol or name matches: contract, symbol, sec_type, exchange, currency, name."""
    c = _client()
    found = c.run(lambda: c.ib.reqMatchingSymbolsAsync(pattern)) or []
    rows = [(contract_text(con), con.symbol, con.secType, con.primaryExchange, con.currency,
             getattr(d, "description", "")) for d in found if (con := d.contract) is not None]
    return pd.DataFrame(rows, columns=["contract", "symbol", "sec_type", "exchange", "currency", "name"])


@on_hub
def depth(contract: str, rows: int = 5, wait: float = 1.0) -> pd.DataFrame:
    """The order book: one row per level with bid_price, bid_size, ask_price, ask_size (and venues)."""
    c = _client()
    con = resolve(contract)
    ticker = c.call(lambda: c.ib.reqMktDepth(con, rows, isSmartDepth=True))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and len(ticker.domBids) < rows:
        time.sleep(0.05)
    bids, asks = c.call(lambda: (list(ticker.domBids), list(ticker.domAsks)))
    c.call(lambda: c.ib.cancelMktDepth(con, isSmartDepth=True))
    n = max(len(bids), len(asks))
    out = []
    for i in range(n):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        out.append((i, b.price if b else float("nan"), b.size if b else float("nan"), b.marketMaker if b else "",
                    a.price if a else float("nan"), a.size if a else float("nan"), a.marketMaker if a else ""))
    return pd.DataFrame(out, columns=["level", "bid_price", "bid_size", "bid_venue", "ask_price", "ask_size",
                                      "ask_venue"]).set_index("level")
