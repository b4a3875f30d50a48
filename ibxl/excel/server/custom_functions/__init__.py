"""ibxl's functions for Office.js (Excel on Windows, Mac and the web) through xlwings Server.

xlwings Server loads this ``custom_functions`` package from ``XLWINGS_PROJECT_DIR``; with the
namespace ``IB`` the functions appear as ``=IB.QUOTE(...)``, ``=IB.HISTORY(...)``, ... Quote
functions stream: they push at most four updates a second per cell and release their market-data
line when the cell is deleted or changed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from xlwings.server import arg, func

from ibxl.excel import functions as F

#: a streaming cell gets at most this many updates a second
MAX_UPDATES_PER_SECOND = 4


async def _stream(read: Any) -> Any:
    last = object()
    while True:
        value = await asyncio.to_thread(read)
        if value != last:
            last = value
            yield value
        await asyncio.sleep(1.0 / MAX_UPDATES_PER_SECOND)


@func
@arg("contract", doc="A contract as text: AAPL, EUR.USD/CASH, AAPL 20261218 150 C, ...")
@arg("field", doc="Bid, Ask, Last, BidSize, AskSize, Volume, Change, ChangePct, Mid, IV, Delta, ...")
async def QUOTE(contract: str, field: str = "Last"):  # noqa: N802 - Excel's name
    """Live quote field of a contract; the cell streams (at most 4 updates a second)."""
    import ibxl

    handle = None
    try:
        if contract:
            handle = await asyncio.to_thread(lambda: ibxl.subscribe(str(contract)))
        async for value in _stream(lambda: F.IB_QUOTE(contract, field)):
            yield value
    finally:
        if handle is not None:
            handle.release()  # the cell was deleted or changed: give the line back


@func
@arg("contracts", doc="A range of contracts")
@arg("fields", doc="A range of fields (default Bid, Ask, Last, Change, ChangePct, Volume)")
async def QUOTES(contracts: list, fields: list = None):  # noqa: N802
    """A streaming table of live quotes, one row per contract."""
    async for value in _stream(lambda: F.IB_QUOTES(contracts, fields)):
        yield value


@func
@arg("contract", doc="A contract as text")
@arg("duration", doc="How far back: 30 D, 6 M, 1 Y ...")
@arg("bar", doc="Bar size: 1 min, 5 mins, 1 hour, 1 day ...")
@arg("what", doc="TRADES, MIDPOINT, BID, ASK, ...")
@arg("rth", doc="Regular trading hours only (TRUE)")
def HISTORY(contract: str, duration: str = "1 Y", bar: str = "1 day", what: str = "TRADES", rth: bool = True):  # noqa: N802
    """Historical bars with a header row."""
    return F.IB_HISTORY(contract, duration, bar, what, rth)


@func
def CHAIN(underlying: str, expiry: str = None, right: str = None, strikes: float = None):  # noqa: N802
    """An option chain with quotes, IV, greeks and open interest."""
    return F.IB_CHAIN(underlying, expiry, right, strikes)


@func
def CONTRACT(contract: str, field: str = None):  # noqa: N802
    """Contract details, or one field of them."""
    return F.IB_CONTRACT(contract, field)


@func
def POSITIONS():  # noqa: N802
    """Positions of every managed account."""
    return F.IB_POSITIONS()


@func
def PORTFOLIO():  # noqa: N802
    """Positions marked to market."""
    return F.IB_PORTFOLIO()


@func
def ACCOUNT(tag: str = None):  # noqa: N802
    """One account figure, or the account summary."""
    return F.IB_ACCOUNT(tag)


@func
def PNL():  # noqa: N802
    """Today's P&L."""
    return F.IB_PNL()


@func
def ORDERS():  # noqa: N802
    """This session's orders."""
    return F.IB_ORDERS()


@func
def EXECUTIONS():  # noqa: N802
    """This session's fills."""
    return F.IB_EXECUTIONS()


@func
def SCAN(code: str, rows: float = 25, filters: str = None):  # noqa: N802
    """A market scanner with optional filters (tag=value;...)."""
    return F.IB_SCAN(code, rows, filters)


@func
def NEWS(contract: str, n: float = 10):  # noqa: N802
    """Recent headlines for a contract."""
    return F.IB_NEWS(contract, n)


@func
def STATUS():  # noqa: N802
    """Connection, account, server time and trading mode."""
    return F.IB_STATUS()


@func
def ORDER(key: str, contract: str, side: str, qty: float, type: str = "LMT", limit: float = None,  # noqa: N802, A002
          stop: float = None, tif: str = "DAY", arm: bool = False):
    """Send an order only when trading is on and arm is TRUE; the key makes it idempotent."""
    return F.IB_ORDER(key, contract, side, qty, type, limit, stop, tif, arm)


@func
def CANCEL(key: str, arm: bool = False):  # noqa: N802
    """Cancel the order of a key when arm is TRUE."""
    return F.IB_CANCEL(key, arm)


__all__ = ["ACCOUNT", "CANCEL", "CHAIN", "CONTRACT", "EXECUTIONS", "HISTORY", "NEWS", "ORDER", "ORDERS", "PNL",
           "PORTFOLIO", "POSITIONS", "QUOTE", "QUOTES", "SCAN", "STATUS"]
