"""ibxl's worksheet functions, host-neutral: Excel-shaped arguments in, Excel-shaped values out.

Each function is named as in Excel and its docstring is its help text. They call only the ibxl
data layer. A cell never shows a traceback: problems come back as text that names them
("unknown contract 'APPL' - did you mean AAPL?"), waiting shows "#N/A waiting", and a lost
connection shows "#N/A disconnected" rather than a silently frozen price.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from typing import Any

import ibxl
from ibxl.errors import ContractNotFound, IBXLError

from .shapes import as_bool, cell, flat, is_blank, table

WAITING = "#N/A waiting"
DISCONNECTED = "#N/A disconnected"


def excel_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into cell text that names the problem."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ContractNotFound as exc:
            hint = f" - did you mean {' or '.join(exc.candidates[:3])}?" if exc.candidates else ""
            return f"#N/A {exc.message}{hint}"
        except IBXLError as exc:
            return f"#N/A {exc.message}" + (f" - {exc.hint}" if exc.hint else "")
        except (ValueError, KeyError, TypeError) as exc:
            return f"#VALUE! {str(exc).strip(chr(39))}"
        except Exception as exc:  # a cell shows text, never a traceback
            return f"#N/A {type(exc).__name__}: {exc}"

    return wrapper


def _text(value: Any, what: str) -> str:
    if is_blank(value):
        raise ValueError(f"{what} is empty - give a contract such as AAPL or EUR.USD/CASH")
    return str(value).strip()


def _opt_text(value: Any, default: str) -> str:
    return default if is_blank(value) else str(value).strip()


@excel_safe
def IB_QUOTE(contract: Any, field: Any = "Last") -> Any:  # noqa: N802 - Excel's name
    """Live quote field of a contract (Bid, Ask, Last, BidSize, AskSize, LastSize, Volume, Open, High,
    Low, Close, Change, ChangePct, Mid, IV, Delta, Gamma, Vega, Theta, UndPrice). Streams in the cell."""
    from ibxl.live import _field_name, registry

    text = _text(contract, "contract")
    name = _field_name(_opt_text(field, "Last"))
    snap = registry().cached(text)
    if snap is None:
        snap = registry().line(text).snapshot
    value = getattr(snap, name)
    if snap.stale:
        return DISCONNECTED
    if isinstance(value, float) and math.isnan(value):
        # no data yet: waiting; data but not this field (forex has no last trade): a blank cell
        return "" if snap.has_data else WAITING
    return value


@excel_safe
def IB_QUOTES(contracts: Any, fields: Any = None) -> Any:  # noqa: N802
    """A table of live quotes: one row per contract (a range of contracts), one column per field."""
    items = [str(x).strip() for x in flat(contracts)]
    if not items:
        raise ValueError("contracts is empty - select a range of contracts")
    wanted = [str(f).strip() for f in flat(fields)] or ["Bid", "Ask", "Last", "Change", "ChangePct", "Volume"]
    df = ibxl.quotes(items, wanted, wait=1.0)
    df.columns = wanted
    return table(df)


@excel_safe
def IB_HISTORY(contract: Any, duration: Any = "1 Y", bar: Any = "1 day", what: Any = "TRADES",  # noqa: N802
               rth: Any = True) -> Any:
    """Historical bars (date, open, high, low, close, volume) spilled with a header row."""
    df = ibxl.history(_text(contract, "contract"), duration=_opt_text(duration, "1 Y"), bar_size=_opt_text(bar, "1 day"),
                      what=_opt_text(what, "TRADES"), rth=as_bool(rth, True))
    out = df[["open", "high", "low", "close", "volume"]].copy()
    out.index.name = "date"
    return table(out)


@excel_safe
def IB_CHAIN(underlying: Any, expiry: Any = None, right: Any = None, strikes: Any = None) -> Any:  # noqa: N802
    """An option chain with bid, ask, last, IV, delta, gamma, vega, theta and open interest."""
    exp = None if is_blank(expiry) else str(int(expiry)) if isinstance(expiry, float) else str(expiry).strip()
    n = None if is_blank(strikes) else int(float(strikes))
    df = ibxl.option_chain(_text(underlying, "underlying"), expiries=exp, strikes=n,
                           right=None if is_blank(right) else str(right).strip())
    cols = ["contract", "expiry", "strike", "right", "bid", "ask", "last", "iv", "delta", "gamma", "vega", "theta",
            "open_interest"]
    return table(df[cols], index=False)


@excel_safe
def IB_CONTRACT(contract: Any, field: Any = None) -> Any:  # noqa: N802
    """Contract details: one field (e.g. "longName", "minTick", "conId") or a two-column table."""
    details = ibxl.contract_details(_text(contract, "contract"))
    if is_blank(field):
        return [["field", "value"], *[[k, cell(v)] for k, v in details.items() if not is_blank(cell(v))]]
    key = str(field).strip()
    matches = {k.lower(): k for k in details.index}
    if key.lower() not in matches:
        raise ValueError(f"field {key!r} - expected one of {', '.join(list(details.index)[:12])}, ...")
    return cell(details[matches[key.lower()]])


@excel_safe
def IB_POSITIONS() -> Any:  # noqa: N802
    """Positions of every managed account."""
    return table(ibxl.positions(), index=False)


@excel_safe
def IB_PORTFOLIO() -> Any:  # noqa: N802
    """Positions marked to market, with unrealized and realized P&L."""
    return table(ibxl.portfolio(), index=False)


@excel_safe
def IB_ACCOUNT(tag: Any = None) -> Any:  # noqa: N802
    """One account figure (e.g. "NetLiquidation") or the whole account summary as a table."""
    if is_blank(tag):
        return table(ibxl.account_summary())
    return ibxl.account_value(str(tag).strip())


@excel_safe
def IB_PNL() -> Any:  # noqa: N802
    """Today's P&L: daily, unrealized and realized."""
    return table(ibxl.pnl())


@excel_safe
def IB_ORDERS() -> Any:  # noqa: N802
    """This session's orders and their live status."""
    return table(ibxl.orders(), index=False)


@excel_safe
def IB_EXECUTIONS() -> Any:  # noqa: N802
    """This session's fills with commissions."""
    return table(ibxl.executions(), index=False)


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


@excel_safe
def IB_SCAN(code: Any, rows: Any = 25, filters: Any = None) -> Any:  # noqa: N802
    """A market scanner (e.g. TOP_PERC_GAIN, MOST_ACTIVE) with filters like "priceAbove=10;volumeAbove=1e6"."""
    n = 25 if is_blank(rows) else int(float(rows))
    return table(ibxl.scanner(_text(code, "scan code"), _filters(filters), rows=n), index=False)


@excel_safe
def IB_NEWS(contract: Any, n: Any = 10) -> Any:  # noqa: N802
    """Recent headlines for a contract."""
    return table(ibxl.news(_text(contract, "contract"), 10 if is_blank(n) else int(float(n))), index=False)


@excel_safe
def IB_STATUS() -> Any:  # noqa: N802
    """Connection, account, server time and whether trading is enabled."""
    st = ibxl.status()
    return [["item", "value"], *[[k, cell(v)] for k, v in st.items()]]


# ------------------------------------------------------------ orders from cells
_sent: dict[str, tuple] = {}
_sent_lock = threading.Lock()


def _order_status(key: str) -> str:
    from ibxl.trading import order_status

    r = order_status(key)
    if r.status == "Unknown":
        return "no order"
    text = f"{r.status} {r.filled:g}/{r.filled + r.remaining:g}"
    return text + (f" @ {r.avg_fill_price:g}" if r.filled else "")


@excel_safe
def IB_ORDER(key: Any, contract: Any, side: Any, qty: Any, type: Any = "LMT", limit: Any = None,  # noqa: N802, A002
             stop: Any = None, tif: Any = "DAY", arm: Any = False) -> Any:
    """Send an order from a cell, safely: only when trading is enabled AND arm is TRUE; the key makes it
    idempotent (recalculating never sends twice; a new price modifies the order). Shows the live status."""
    k = _text(key, "key")
    if not as_bool(arm):
        known = _order_status(k)
        return f"disarmed ({known})" if known != "no order" else "disarmed - set arm to TRUE to send"
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


@excel_safe
def IB_CANCEL(key: Any, arm: Any = False) -> Any:  # noqa: N802
    """Cancel the order of a key when arm is TRUE; shows the order's status."""
    k = _text(key, "key")
    if not as_bool(arm):
        return f"disarmed ({_order_status(k)})"
    ibxl.cancel(k)
    with _sent_lock:
        _sent.pop(k, None)
    return _order_status(k)


#: every worksheet function, by its Excel name
FUNCTIONS: dict[str, Callable[..., Any]] = {name: obj for name, obj in globals().items()
                                            if name.startswith("IB_") and callable(obj)}
