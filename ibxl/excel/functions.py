"""ibxl's worksheet functions, host-neutral: Excel-shaped arguments in, Excel-shaped values out.

Each function is declared once with :func:`ibxl.excel.declare.worksheet`: its Excel name, its
metadata (volatile, spills, streams, help of each argument) and its docstring, which is its help
text. The classic UDFs (``classic``) and the Office.js functions (``server/custom_functions``)
are generated from ``FUNCTIONS``. They call only the public ibxl data layer. A cell never shows a
traceback: problems come back as text that names them ("unknown contract 'APPL' - did you mean
AAPL?"), waiting shows "#N/A waiting", and a lost connection shows "#N/A disconnected" rather
than a silently frozen price.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import ibxl
from ibxl.live import field_name, latest
from ibxl.trading import order_status

from .accounts import account_arg
from .declare import FUNCTIONS, WorksheetFunction, excel_safe, worksheet
from .shapes import as_bool, cell, flat, is_blank, table

__all__ = ["DISCONNECTED", "FUNCTIONS", "QUOTE_FIELDS", "WAITING", "WorksheetFunction", "excel_safe", "worksheet"]

#: help text of the account argument of the account functions
ACCOUNT_ALL = 'An account id, "All", "DU1,DU2" or a range of ids (blank: every account)'
ACCOUNT_ONE = 'An account id, "All", "DU1,DU2" or a range of ids (blank: the default account)'
WAITING = "#N/A waiting"
DISCONNECTED = "#N/A disconnected"
#: IB_QUOTES' columns when no fields are given
QUOTE_FIELDS = ["Price", "Bid", "Ask", "Last", "Change", "ChangePct", "Volume"]

CONTRACT_HELP = "A contract as text: AAPL, EUR.USD/CASH, ES 202612/FUT, AAPL 20261218 150 C, BTC.USD/CRYPTO"


def _text(value: Any, what: str, example: str = "a contract such as AAPL or EUR.USD/CASH") -> str:
    if is_blank(value):
        raise ValueError(f"{what} is empty - give {example}")
    return str(value).strip()


def _opt_text(value: Any, default: str) -> str:
    return default if is_blank(value) else str(value).strip()


def _hold_quote(contract: Any, field: Any = None) -> Callable[[], None]:
    """A streaming IB_QUOTE cell holds its contract's line until the cell goes."""
    handle = ibxl.subscribe(_text(contract, "contract"))
    return handle.release


def _hold_quotes(contracts: Any, fields: Any = None) -> Callable[[], None]:
    """A streaming IB_QUOTES cell holds the line of each contract of its range."""
    handles: list[ibxl.QuoteHandle] = []

    def release() -> None:
        for h in handles:
            h.release()

    try:
        for x in flat(contracts):
            handles.append(ibxl.subscribe(str(x).strip()))
    except Exception:
        release()  # a bad contract in the range: give back the lines already held
        raise
    return release


@worksheet(volatile=True, streams=True, hold=_hold_quote, args={
    "contract": CONTRACT_HELP,
    "field": "Price (default: last trade within bid/ask, else mid, else close), Bid, Ask, Last, Volume, "
             "Change, ChangePct, Mid, IV, Delta, ...",
})
def IB_QUOTE(contract: Any, field: Any = "Price") -> Any:
    """Live quote field of a contract: Price (the default: the last trade when it lies within the bid/ask,
    else the midpoint, else the close - a number for every contract), Bid, Ask, Last, BidSize, AskSize,
    LastSize, Volume, Open, High, Low, Close, Change, ChangePct, Mid, IV, Delta, Gamma, Vega, Theta,
    UndPrice."""
    text = _text(contract, "contract")
    name = field_name(_opt_text(field, "Price"))
    snap = latest(text)
    value = getattr(snap, name)
    if snap.stale:
        return DISCONNECTED
    if isinstance(value, float) and math.isnan(value):
        # no data yet: waiting; data but not this field (forex has no last trade): a blank cell
        return "" if snap.has_data else WAITING
    return value


@worksheet(volatile=True, spills=True, streams=True, hold=_hold_quotes, args={
    "contracts": "A range of contracts, one a cell",
    "fields": "A range of fields (default Price, Bid, Ask, Last, Change, ChangePct, Volume)",
})
def IB_QUOTES(contracts: Any, fields: Any = None) -> Any:
    """A table of live quotes: one row per contract (a range of contracts), one column per field
    (Price first by default)."""
    items = [str(x).strip() for x in flat(contracts)]
    if not items:
        raise ValueError("contracts is empty - select a range of contracts")
    wanted = [str(f).strip() for f in flat(fields)] or list(QUOTE_FIELDS)
    df = ibxl.quotes(items, wanted, wait=1.0)
    df.columns = wanted
    return table(df)


@worksheet(spills=True, args={
    "contract": CONTRACT_HELP,
    "duration": "How far back: 30 D, 6 M, 1 Y ... (default 1 Y)",
    "bar": "Bar size: 1 min, 5 mins, 1 hour, 1 day ... (default 1 day)",
    "what": "TRADES (default), MIDPOINT, BID, ASK, ...",
    "rth": "Regular trading hours only (default TRUE)",
})
def IB_HISTORY(contract: Any, duration: Any = "1 Y", bar: Any = "1 day", what: Any = "TRADES",
               rth: Any = True) -> Any:
    """Historical bars (date, open, high, low, close, volume) spilled with a header row."""
    df = ibxl.history(_text(contract, "contract"), duration=_opt_text(duration, "1 Y"),
                      bar_size=_opt_text(bar, "1 day"), what=_opt_text(what, "TRADES"), rth=as_bool(rth, True))
    out = df[["open", "high", "low", "close", "volume"]].copy()
    out.index.name = "date"
    return table(out)


@worksheet(spills=True, streams=True, args={
    "underlying": "The underlying as text: SPY, AAPL, ES 202612/FUT ...",
    "expiry": "An expiry as yyyymmdd (default: the nearest)",
    "right": "C or P (default both)",
    "strikes": "How many strikes each side of the money (default 10)",
})
def IB_CHAIN(underlying: Any, expiry: Any = None, right: Any = None, strikes: Any = None) -> Any:
    """An option chain with bid, ask, last, IV, delta, gamma, vega, theta and open interest (where
    known today). Fills in from the money outwards; a last row "loading n/N" shows until complete."""
    from ibxl.chains import latest_chain

    exp = None if is_blank(expiry) else str(int(expiry)) if isinstance(expiry, float) else str(expiry).strip()
    n = None if is_blank(strikes) else int(float(strikes))
    df, loaded, total = latest_chain(_text(underlying, "underlying"), expiries=exp, strikes=n,
                                     right=None if is_blank(right) else str(right).strip())
    cols = ["contract", "expiry", "strike", "right", "bid", "ask", "last", "iv", "delta", "gamma", "vega", "theta",
            "open_interest"]
    rows = table(df[cols], index=False)
    if loaded < total:
        rows.append([f"loading {loaded}/{total}"] + [""] * (len(cols) - 1))
    return rows


@worksheet(spills=True, args={
    "contract": CONTRACT_HELP,
    "field": "One field such as longName, minTick, conId (default: every field as a table)",
})
def IB_CONTRACT(contract: Any, field: Any = None) -> Any:
    """Contract details: one field (e.g. "longName", "minTick", "conId") or a two-column table."""
    details = ibxl.contract_details(_text(contract, "contract"))
    if is_blank(field):
        return [["field", "value"], *[[k, cell(v)] for k, v in details.items() if not is_blank(cell(v))]]
    key = str(field).strip()
    matches = {k.lower(): k for k in details.index}
    if key.lower() not in matches:
        raise ValueError(f"field {key!r} - expected one of {', '.join(list(details.index)[:12])}, ...")
    return cell(details[matches[key.lower()]])


@worksheet(volatile=True, spills=True, args={"account": ACCOUNT_ALL})
def IB_POSITIONS(account: Any = None) -> Any:
    """Positions of every managed account (or of one account, "DU1,DU2" or a range of ids)."""
    return table(ibxl.positions(account_arg(account, "All")), index=False)


@worksheet(volatile=True, spills=True, args={"account": ACCOUNT_ONE})
def IB_PORTFOLIO(account: Any = None) -> Any:
    """Positions marked to market, with unrealized and realized P&L (account: an id, "All" or a range)."""
    return table(ibxl.portfolio(account_arg(account)), index=False)


@worksheet(volatile=True, spills=True, args={
    "tag": "An account figure such as NetLiquidation or BuyingPower (default: the whole summary)",
    "account": ACCOUNT_ONE,
})
def IB_ACCOUNT(tag: Any = None, account: Any = None) -> Any:
    """One account figure (e.g. "NetLiquidation") or the whole account summary as a table
    (account: an id, or "All" or a range for a column per account and a Total)."""
    acct = account_arg(account)
    if is_blank(tag):
        return table(ibxl.account_summary(account=acct))
    if isinstance(acct, list) or (acct or "").lower() == "all" or "," in (acct or ""):
        return table(ibxl.account_summary([str(tag).strip()], account=acct))
    return ibxl.account_value(str(tag).strip(), account=acct or "")


@worksheet(volatile=True, spills=True, args={"account": ACCOUNT_ONE})
def IB_PNL(account: Any = None) -> Any:
    """Today's P&L: daily, unrealized and realized (account: an id, "All" or a range)."""
    return table(ibxl.pnl(account_arg(account)))


@worksheet(volatile=True, spills=True, args={"account": ACCOUNT_ALL})
def IB_ORDERS(account: Any = None) -> Any:
    """This session's orders and their live status (account: blank for all, an id or a range)."""
    return table(ibxl.orders(account=account_arg(account, "All")), index=False)


@worksheet(volatile=True, spills=True, args={"account": ACCOUNT_ALL})
def IB_EXECUTIONS(account: Any = None) -> Any:
    """This session's fills with commissions (account: blank for all, an id or a range)."""
    return table(ibxl.executions(account_arg(account, "All")), index=False)


#: a volatile IB_SCAN cell recalculates every second; its rows (a scan plus a snapshot of every row, which
#: spends IB's message allowance) are refreshed this often, as TWS refreshes a scanner's rows
SCAN_REFRESH_SECONDS = 30.0
_scans: dict[tuple[str, int, tuple[tuple[str, str], ...]], tuple[float, list[list[Any]]]] = {}
_scans_lock = threading.Lock()


def _filters(value: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in flat(value):
        for item in str(part).replace(",", ";").split(";"):
            if item.strip():
                k, sep, v = item.partition("=")
                if not sep:
                    raise ValueError(f"filter {item!r} - write tag=value, e.g. priceAbove=10")
                out[k.strip()] = v.strip()
    return out


@worksheet(volatile=True, spills=True, args={
    "code": "A scan code: TOP_PERC_GAIN, TOP_PERC_LOSE, MOST_ACTIVE, HOT_BY_VOLUME, ...",
    "rows": "How many rows (default 25, at most 50)",
    "filters": "Filters as tag=value;...: priceAbove=10;volumeAbove=1e6",
})
def IB_SCAN(code: Any, rows: Any = 25, filters: Any = None) -> Any:
    """A market scanner (e.g. TOP_PERC_GAIN, MOST_ACTIVE) with filters like "priceAbove=10;volumeAbove=1e6":
    ranked rows with last, change, % change, volume and the figure the scan ranks by. Refreshed at most
    every 30 seconds."""
    n = 25 if is_blank(rows) else int(float(rows))
    scan_code, wanted = _text(code, "scan code", "a scan code such as TOP_PERC_GAIN"), _filters(filters)
    key = (scan_code.upper(), n, tuple(sorted(wanted.items())))
    now = time.monotonic()
    with _scans_lock:
        cached = _scans.get(key)
    if cached is not None and now - cached[0] < SCAN_REFRESH_SECONDS:
        return cached[1]
    out = table(ibxl.scanner(scan_code, wanted, rows=n), index=False)
    with _scans_lock:
        _scans[key] = (now, out)
    return out


@worksheet(spills=True, args={"contract": CONTRACT_HELP, "n": "How many headlines (default 10)"})
def IB_NEWS(contract: Any, n: Any = 10) -> Any:
    """Recent headlines for a contract."""
    return table(ibxl.news(_text(contract, "contract"), 10 if is_blank(n) else int(float(n))), index=False)


@worksheet(volatile=True, spills=True)
def IB_STATUS() -> Any:
    """Connection, account, server time and whether trading is enabled."""
    st = ibxl.status()
    return [["item", "value"], *[[k, cell(v)] for k, v in st.items()]]


# ------------------------------------------------------------ orders from cells
_sent: dict[str, tuple] = {}
_sent_lock = threading.Lock()
NO_ORDER = "no order"
KEY_EXAMPLE = "a key such as buy-aapl-1 that names this order"


def _order_status(key: str) -> str:
    st = order_status(key)
    if st.status == "Unknown":
        return NO_ORDER
    text = f"{st.status} {st.filled:g}/{st.filled + st.remaining:g}"
    return text + (f" @ {st.avg_fill_price:g}" if st.filled else "")


@worksheet(volatile=True, args={
    "key": "Your name for this order: the same key never sends a second order",
    "contract": CONTRACT_HELP,
    "side": "BUY or SELL",
    "qty": "Quantity",
    "type": "LMT (default), MKT, STP or STP LMT",
    "limit": "Limit price (LMT, STP LMT)",
    "stop": "Stop price (STP, STP LMT)",
    "tif": "Time in force: DAY (default), GTC, IOC",
    "arm": "TRUE to send; FALSE (default) only shows the status",
})
def IB_ORDER(key: Any, contract: Any, side: Any, qty: Any, type: Any = "LMT", limit: Any = None,  # noqa: A002
             stop: Any = None, tif: Any = "DAY", arm: Any = False) -> Any:
    """Send an order from a cell, safely: only when trading is enabled AND arm is TRUE; the key makes it
    idempotent (recalculating never sends twice; a new price modifies the order). Shows the live status."""
    k = _text(key, "key", KEY_EXAMPLE)
    if not as_bool(arm):
        known = _order_status(k)
        return f"disarmed ({known})" if known != NO_ORDER else "disarmed - set arm to TRUE to send"
    if ibxl.trading_mode() == "off":
        return "#N/A trading is off - set IBXL_TRADING=paper to send paper orders"
    params = (_text(contract, "contract"), str(side).strip().upper(), float(qty), _opt_text(type, "LMT").upper(),
              None if is_blank(limit) else float(limit), None if is_blank(stop) else float(stop),
              _opt_text(tif, "DAY").upper())
    with _sent_lock:
        if _sent.get(k) == params:
            return _order_status(k)  # a recalculation: nothing to send
        result = ibxl.order(params[0], params[1], params[2], params[3], params[4], params[5], params[6], key=k)
        _sent[k] = params
    return _order_status(result.key)


@worksheet(args={
    "key": "The key the order was sent with",
    "arm": "TRUE to cancel; FALSE (default) only shows the status",
})
def IB_CANCEL(key: Any, arm: Any = False) -> Any:
    """Cancel the order of a key when arm is TRUE; shows the order's status."""
    k = _text(key, "key", KEY_EXAMPLE)
    if not as_bool(arm):
        return f"disarmed ({_order_status(k)})"
    ibxl.cancel(k)
    with _sent_lock:
        _sent.pop(k, None)
    return _order_status(k)


# ------------------------------------------------------------ worksheet functions declared elsewhere
# importing these modules declares their @worksheet functions into FUNCTIONS; they are imported
# last, in this order, so that FUNCTIONS (and each host's function list) keeps declaration order
from . import strategy_functions as strategy_functions  # noqa: E402

# isort: split
from . import risk_functions as risk_functions  # noqa: E402
