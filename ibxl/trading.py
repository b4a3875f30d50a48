"""Orders from Python, Excel cells and notebook tickets, with ibxl's safety rules.

Trading is off until the user turns it on (``IBXL_TRADING=paper`` or ``trading = "paper"`` in the
config file); ``live`` also needs ``IBXL_ALLOW_LIVE=1``, and a live (non-paper) account is
refused unless both are set. Every order passes quantity and notional limits and a price band
around the market. A ``key`` makes an order idempotent across calls, threads and restarts: the
key travels in the order's ``orderRef``, so it is found again after a reconnect, and the same key
never sends a second order - a changed price or quantity modifies the working order instead.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from ib_async import LimitOrder, MarketOrder, Order, StopLimitOrder, StopOrder, Trade

from .config import load
from .connection import client as _client
from .contracts import combo_legs, contract_text, resolve
from .errors import OrderRejected, TradingDisabled
from .order_keys import OrderKeys
from .remote import on_hub

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
DONE = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}


@dataclass
class OrderResult:
    """Where an order stands."""

    key: str
    order_id: int
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    message: str = ""


def is_paper_account(account: str) -> bool:
    """IB paper accounts start with 'D' (DU..., DF...)."""
    return account.upper().startswith("D")


def trading_mode() -> str:
    """'off', 'paper' or 'live' (live only when IBXL_ALLOW_LIVE=1 too)."""
    s = load()
    if s.trading == "live" and not s.allow_live:
        return "off"
    return s.trading


_keys: OrderKeys | None = None


def keys() -> OrderKeys:
    """The order-key record (in IBXL_DATA_DIR or the user data directory)."""
    global _keys
    path = load().data_path / "order-keys.sqlite3"
    if _keys is None or _keys.path != path:
        _keys = OrderKeys(path)
    return _keys


def _check_mode(account: str) -> None:
    s = load()
    if s.trading == "off":
        raise TradingDisabled("trading is off", hint="set IBXL_TRADING=paper (or trading = \"paper\" in the config "
                                                     "file) to send paper orders")
    if s.trading == "live" and not s.allow_live:
        raise TradingDisabled("live trading needs IBXL_ALLOW_LIVE=1 as well as IBXL_TRADING=live")
    if not is_paper_account(account) and not (s.trading == "live" and s.allow_live):
        raise TradingDisabled(f"account {account} is a live account and ibxl is in {s.trading} mode",
                              hint="live accounts need both IBXL_TRADING=live and IBXL_ALLOW_LIVE=1")


def _build(side: str, qty: float, kind: str, limit: float | None, stop: float | None, tif: str,
           outside_rth: bool) -> Order:
    # _validate has checked that each order type has the prices it needs
    if kind == "MKT":
        o: Order = MarketOrder(side, qty)
    elif kind == "LMT" and limit is not None:
        o = LimitOrder(side, qty, limit)
    elif kind == "STP" and stop is not None:
        o = StopOrder(side, qty, stop)
    elif kind == "STP LMT" and limit is not None and stop is not None:
        o = StopLimitOrder(side, qty, limit, stop)
    else:
        raise ValueError(f"order type {kind} needs {'a limit' if 'LMT' in kind else 'a stop'} price")
    o.tif, o.outsideRth = tif, outside_rth
    return o


def _validate(side: str, qty: float, kind: str, limit: float | None, stop: float | None, ref: float,
              multiplier: float, *, scale: float | None = None, combo: bool = False) -> None:
    """Refuse what ibxl's limits refuse. For a combo, ``ref`` is its mid (zero or negative for a
    credit) and ``scale`` the legs' gross premium, which the price band and notional are measured on."""
    s = load()
    if side not in ("BUY", "SELL"):
        raise OrderRejected(f"side {side!r} - expected BUY or SELL")
    if kind not in ORDER_TYPES:
        raise OrderRejected(f"order type {kind!r} - expected one of {', '.join(ORDER_TYPES)}")
    if not qty or qty <= 0 or math.isnan(qty):
        raise OrderRejected(f"quantity {qty!r} must be positive")
    if qty > s.max_order_quantity:
        raise OrderRejected(f"quantity {qty:g} is over the limit of {s.max_order_quantity:g}",
                            hint="raise max_order_quantity in the config file if this is intended")
    if kind in ("LMT", "STP LMT") and (limit is None or limit != limit if combo else not limit):
        raise OrderRejected(f"a {kind} order needs a limit price")
    if kind in ("STP", "STP LMT") and (stop is None if combo else not stop):
        raise OrderRejected(f"a {kind} order needs a stop price")
    if combo:
        _validate_combo_prices(qty, limit, stop, ref, multiplier, scale if scale is not None else abs(ref))
        return
    price = limit or stop or ref
    if ref == ref and ref > 0:
        for name, p in (("limit", limit), ("stop", stop)):
            if p and abs(p - ref) / ref > s.price_band:
                raise OrderRejected(f"{name} price {p:g} is more than {s.price_band:.0%} from the market ({ref:g})",
                                    hint="check the price, or widen price_band in the config file")
    if price == price and price and qty * price * multiplier > s.max_order_notional:
        raise OrderRejected(f"order value {qty * price * multiplier:,.0f} is over the limit of "
                            f"{s.max_order_notional:,.0f}", hint="raise max_order_notional in the config file")


def _validate_combo_prices(qty: float, limit: float | None, stop: float | None, ref: float, multiplier: float,
                           scale: float) -> None:
    s = load()
    if ref == ref and scale == scale and scale > 0:
        for name, p in (("limit", limit), ("stop", stop)):
            if p is not None and abs(p - ref) > s.price_band * scale:
                raise OrderRejected(f"{name} price {p:g} is more than {s.price_band:.0%} of the legs' premium "
                                    f"({scale:g}) from the combo's mid ({ref:g})",
                                    hint="check the price (negative is a credit), or widen price_band in the "
                                         "config file")
    if scale == scale and qty * scale * multiplier > s.max_order_notional:
        raise OrderRejected(f"order value {qty * scale * multiplier:,.0f} (the legs' gross premium) is over the "
                            f"limit of {s.max_order_notional:,.0f}", hint="raise max_order_notional in the config file")


def _combo_reference(con: Any) -> tuple[float, float, float]:
    """A combo's mid, its legs' gross premium per combo unit, and its multiplier."""
    from .live import first_snapshot

    legs = combo_legs(con)
    snap = first_snapshot(con, wait=2)
    gross = 0.0
    mult = 1.0
    for leg, ratio in legs:
        px = _reference_price(leg)
        gross += abs(ratio) * abs(px) * (float(leg.multiplier) if leg.multiplier else 1.0)
        mult = max(mult, float(leg.multiplier) if leg.multiplier else 1.0)
    mid = next((float(v) for v in (snap.mid, snap.last) if v == v), float("nan"))
    # the premium is per share of the largest multiplier, as the combo's price is
    return mid, gross / mult, mult


def _reference_price(contract: Any) -> float:
    from .live import first_snapshot

    snap = first_snapshot(contract, wait=2)
    for v in (snap.mid, snap.last, snap.close):
        if v == v:
            return float(v)
    return float("nan")


def _find_by_ref(c, key: str) -> Trade | None:  # noqa: ANN001
    trades = c.call(lambda: [t for t in c.ib.trades() if t.order.orderRef == key])
    return trades[-1] if trades else None


def _result(key: str, trade: Trade | None, message: str = "") -> OrderResult:
    if trade is None:
        return OrderResult(key, 0, "Unknown", 0.0, 0.0, 0.0, message or "no order found for this key")
    st = trade.orderStatus
    msg = message or (trade.log[-1].message if trade.log else "")
    return OrderResult(key, trade.order.orderId, st.status, float(st.filled), float(st.remaining),
                       float(st.avgFillPrice), msg)


def _settle(trade: Trade, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and trade.orderStatus.status in ("PendingSubmit", "ApiPending", ""):
        time.sleep(0.02)


@on_hub
def order(contract: str, side: str, qty: float, type: str = "LMT", limit: float | None = None,  # noqa: A002
          stop: float | None = None, tif: str = "DAY", *, bracket: tuple[float, float] | None = None,
          key: str | None = None, outside_rth: bool = False, wait: float = 2.0) -> OrderResult:
    """Send (or, for a known key, modify or report) an order; refused unless trading is on.

    The same ``key`` never yields a second order: repeating it returns the existing order's status,
    and a changed limit, stop or quantity modifies the working order.
    """
    c = _client()
    account = c.account
    _check_mode(account)
    side, kind, tif = side.strip().upper(), type.strip().upper(), tif.strip().upper()
    con = resolve(contract)
    combo = con.secType == "BAG"
    if combo:
        ref, scale, mult = _combo_reference(con)
    else:
        mult = float(con.multiplier) if con.multiplier else 1.0
        ref = _reference_price(con)
        scale = None
    _validate(side, qty, kind, limit, stop, ref, mult, scale=scale, combo=combo)
    if bracket is not None:
        tp, sl = bracket
        _validate("SELL" if side == "BUY" else "BUY", qty, "LMT", tp, None, ref, mult, scale=scale, combo=combo)
        _validate("SELL" if side == "BUY" else "BUY", qty, "STP", None, sl, ref, mult, scale=scale, combo=combo)
    key = key or f"ibxl-{uuid.uuid4().hex[:12]}"
    if len(key) > 60:
        raise OrderRejected("order key is longer than 60 characters")
    params = {"contract": contract_text(con), "side": side, "qty": qty, "type": kind, "limit": limit, "stop": stop,
              "tif": tif, "bracket": list(bracket) if bracket else None}
    store = keys()
    with store.lock(key):
        record = store.get(key)
        existing = _find_by_ref(c, key)
        if record is None and existing is None:
            if not store.reserve(key, account, params, time.time()):
                return _result(key, _find_by_ref(c, key), "this key is being sent by another process")
            if bracket is not None:
                parent_limit = limit if kind == "LMT" else None
                entry = parent_limit if parent_limit is not None else ref
                orders = c.call(lambda: c.ib.bracketOrder(side, qty, entry, bracket[0], bracket[1]))
                for suffix, o in zip(("", ":tp", ":sl"), orders, strict=True):
                    o.orderRef = key + suffix
                    o.tif = tif
                trades = [c.call(lambda o=o: c.ib.placeOrder(con, o)) for o in orders]
                trade = trades[0]
            else:
                o = _build(side, qty, kind, limit, stop, tif, outside_rth)
                o.orderRef = key
                trade = c.call(lambda: c.ib.placeOrder(con, o))
            store.update(key, order_id=trade.order.orderId, state="sent")
            _settle(trade, wait)
            return _result(key, trade)
        if existing is None:
            # recorded but not (yet) visible: never resend; the user can look in TWS or cancel the key
            return _result(key, None, "order key already used; its order is not visible on this connection, "
                                      "so nothing was sent")
        if record is not None and record["params"] != params and existing.orderStatus.status not in DONE:
            if (record["params"]["contract"], record["params"]["side"]) != (params["contract"], params["side"]):
                raise OrderRejected(f"order key {key!r} belongs to a {record['params']['side']} order for "
                                    f"{record['params']['contract']}; use a new key")
            o = existing.order
            o.totalQuantity, o.lmtPrice = qty, limit if limit is not None else o.lmtPrice
            if stop is not None:
                o.auxPrice = stop
            c.call(lambda: c.ib.placeOrder(con, o))
            store.update(key, params=params)
            time.sleep(min(wait, 0.3))
        return _result(key, existing)


@on_hub
def order_status(key: str) -> OrderResult:
    """Where the order of a key stands (status ``Unknown`` when no order carries the key)."""
    c = _client()
    return _result(key, _find_by_ref(c, key))


@on_hub
def cancel(key: str, wait: float = 2.0) -> OrderResult:
    """Cancel the working order of a key (and its bracket legs)."""
    c = _client()
    trade = _find_by_ref(c, key)
    if trade is None:
        raise OrderRejected(f"no order with key {key!r} on this connection")
    legs = c.call(lambda: [t for t in c.ib.trades() if t.order.orderRef in (key, key + ":tp", key + ":sl")])
    for t in legs:
        if t.orderStatus.status not in DONE:
            c.call(lambda t=t: c.ib.cancelOrder(t.order))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and trade.orderStatus.status not in DONE:
        time.sleep(0.02)
    return _result(key, trade)


@on_hub
def what_if(contract: str, side: str, qty: float, type: str = "LMT", limit: float | None = None,  # noqa: A002
            stop: float | None = None, tif: str = "DAY") -> dict[str, float]:
    """Commission and margin impact of an order, without sending it (allowed with trading off)."""
    c = _client()
    con = resolve(contract)
    o = _build(side.upper(), qty, type.upper(), limit, stop, tif.upper(), False)
    state = c.run(lambda: c.ib.whatIfOrderAsync(con, o))
    if not state or not state.initMarginChange:
        raise OrderRejected("TWS returned no what-if figures for this order")

    def f(x: Any) -> float:
        try:
            return float(x)
        except (TypeError, ValueError):
            return float("nan")

    return {"commission": f(state.commission), "init_margin_change": f(state.initMarginChange),
            "maint_margin_change": f(state.maintMarginChange), "equity_with_loan_after": f(state.equityWithLoanAfter),
            "init_margin_after": f(state.initMarginAfter)}


ORDER_COLUMNS = ["key", "order_id", "perm_id", "contract", "side", "quantity", "order_type", "limit", "stop", "tif",
                 "status", "filled", "remaining", "avg_fill_price", "account"]


@on_hub
def orders(open_only: bool = False, account: str | list[str] | None = "All") -> pd.DataFrame:
    """This session's orders (and open ones recovered at connect).

    ``account``: "All" (default), one account id or a list; the ``account`` column says whose.
    """
    from .account import account_ids

    ids, _ = account_ids(account)
    c = _client()
    default = c.account

    def rows() -> list[tuple]:
        out = []
        for t in c.ib.trades():
            o, st = t.order, t.orderStatus
            if open_only and st.status in DONE:
                continue
            # an order sent without an account goes to the login's default account
            acct = o.account or default
            if acct not in ids:
                continue
            out.append((o.orderRef, o.orderId, o.permId, contract_text(t.contract), o.action, float(o.totalQuantity),
                        o.orderType, _price(o.lmtPrice), _price(o.auxPrice), o.tif, st.status, float(st.filled),
                        float(st.remaining), float(st.avgFillPrice), acct))
        return out

    return pd.DataFrame(c.call(rows), columns=ORDER_COLUMNS)


@on_hub
def executions(account: str | list[str] | None = "All") -> pd.DataFrame:
    """Fills of this session: exec_id, time, contract, side, shares, price, commission, order_id,
    key, account. ``account``: "All" (default), one account id or a list."""
    from .account import account_ids

    ids, _ = account_ids(account)
    c = _client()
    rows = c.call(lambda: [(f.execution.execId, pd.Timestamp(f.execution.time), contract_text(f.contract),
                            f.execution.side, float(f.execution.shares), f.execution.price,
                            f.commissionReport.commission if f.commissionReport else float("nan"),
                            f.execution.orderId, f.execution.orderRef, f.execution.acctNumber)
                           for f in c.ib.fills() if f.execution.acctNumber in ids])
    return pd.DataFrame(rows, columns=["exec_id", "time", "contract", "side", "shares", "price", "commission",
                                       "order_id", "key", "account"])


def _price(v: float | Decimal | None) -> float:
    return float("nan") if v is None or v >= 1e300 else float(v)
