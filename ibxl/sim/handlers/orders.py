"""Order requests: place, modify, cancel, open and completed orders, executions.

The broker model decides; this module decodes requests and answers them. The broker's events
(fills, status changes) reach the clients through :mod:`.broker_events`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SimError
from ..protocol import orders as P
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles
from .market_data import resolve

if TYPE_CHECKING:
    from ..models.broker import SimOrder


@handles(Req.PLACE_ORDER)
def place_order(s: Session, r: FieldReader) -> None:
    broker = s.gateway.broker
    order, q = P.read_place_order(r, s.client_id or 0, s.gateway.config.accounts[0])
    if not q.exchange.strip():
        # TWS validates the order before looking the contract up (ib_insync and ib_async test this)
        raise SimError(321, "-'bN' : cause - Missing order exchange", req_id=order.order_id)
    if q.secType == "BAG":
        if not order.combo_legs:
            raise SimError(321, "-'bN' : cause - Security type 'BAG' requires combo leg details.",
                           req_id=order.order_id)
        combo = broker.combo_of(order)  # a leg TWS does not know gets its error 321 here
        assert combo is not None
        inst = combo.instrument()
    else:
        inst = resolve(s, q, order.order_id)
        order.con_id = inst.conId
    state = broker.place(order, inst)
    if state is not None:  # whatIf: the figures ride an openOrder, nothing is placed
        s.send(*P.open_order(order, inst, state))


@handles(Req.CANCEL_ORDER)
def cancel_order(s: Session, r: FieldReader) -> None:
    r.int("version")
    order_id = r.int("orderId")
    if r.remaining:
        r.str("manualOrderCancelTime")
    broker = s.gateway.broker
    broker.cancel(order_id, s.client_id)
    s.error(order_id, 202, "Order Canceled - reason:")


@handles(Req.GLOBAL_CANCEL)
def global_cancel(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.gateway.broker.global_cancel()


def _send_open_orders(s: Session, orders: list[SimOrder]) -> None:
    broker = s.gateway.broker
    for order in orders:
        inst = broker.instrument_of(order)
        if inst is not None:
            s.send(*P.open_order(order, inst))
            s.send(*P.order_status(order))
    s.send(Msg.OPEN_ORDER_END, 1)


@handles(Req.OPEN_ORDERS)
def req_open_orders(s: Session, r: FieldReader) -> None:
    r.int("version")
    broker = s.gateway.broker
    _send_open_orders(s, broker.open_orders(None if s.client_id == 0 else s.client_id))


@handles(Req.ALL_OPEN_ORDERS)
def req_all_open_orders(s: Session, r: FieldReader) -> None:
    r.int("version")
    _send_open_orders(s, s.gateway.broker.open_orders())


@handles(Req.AUTO_OPEN_ORDERS)
def req_auto_open_orders(s: Session, r: FieldReader) -> None:
    r.int("version")
    bind = r.bool("autoBind")
    if s.client_id != 0:
        raise SimError(321, "reqAutoOpenOrders can only be called from client id 0")
    s.state["auto_bind"] = bind


@handles(Req.COMPLETED_ORDERS)
def req_completed_orders(s: Session, r: FieldReader) -> None:
    r.bool("apiOnly")
    # completed orders are reported through openOrder/orderStatus and executions; the
    # completedOrder message itself is not produced (see README: simplified)
    s.send(Msg.COMPLETED_ORDERS_END)


@handles(Req.EXECUTIONS)
def req_executions(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    client = r.int("clientId", default=0) if r.remaining else 0
    account = r.str("acctCode") if r.remaining else ""
    since = r.str("time") if r.remaining else ""
    symbol = r.str("symbol").upper() if r.remaining else ""
    sec_type = r.str("secType").upper() if r.remaining else ""
    exchange = r.str("exchange").upper() if r.remaining else ""
    side = r.str("side").upper() if r.remaining else ""
    broker = s.gateway.broker
    t0 = 0.0
    if since.strip():
        from ..models.history import parse_end

        t0 = parse_end(since.replace("-", " ", 1) if "-" in since[:9] else since, float("inf"))
    for fill in broker.fills:
        inst = s.gateway.universe.get(fill.con_id)
        if inst is None:
            continue
        if (client and fill.client_id != client) or (account and fill.account != account) \
                or (symbol and inst.symbol != symbol) or (sec_type and inst.secType != sec_type) \
                or (exchange and fill.exchange != exchange) or (side and fill.side != {"BUY": "BOT", "SELL": "SLD"}
                                                                .get(side, side)) or fill.time < t0:
            continue
        s.send(*P.exec_details(req_id, fill, inst))
        s.send(*P.commission_report(fill))
    s.send(Msg.EXECUTION_DATA_END, 1, req_id)
