"""Broker events to clients: the one place that tells sessions what the broker did.

The broker model announces orders, executions and account changes; this module, installed once
when the gateway starts, sends each to the clients TWS would tell: orderStatus/openOrder and
execDetails/commissionReport to the order's own client, to client 0 (which sees every order) and to
clients bound with reqAutoOpenOrders; account and position updates to their subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol import orders as P
from .account import push_account

if TYPE_CHECKING:
    from ..models.broker import Fill, SimOrder
    from ..server import Gateway
    from ..session import Session


def audience(gateway: Gateway, client_id: int) -> list[Session]:
    """The live sessions told about an order of ``client_id``: its own, client 0 and auto-bound ones."""
    return [x for x in gateway.sessions if not x.closed and x.client_id is not None
            and (x.client_id == client_id or x.client_id == 0 or x.state.get("auto_bind"))]


def install(gateway: Gateway) -> Callable[[], None]:
    """Route the gateway's broker events to its sessions; returns the function that stops it."""
    broker = gateway.broker

    def on_event(kind: str, payload: object) -> None:
        if kind == "order":
            order: SimOrder = payload  # type: ignore[assignment]
            inst = broker.instrument_of(order)
            if inst is None or order.what_if:
                return
            for sess in audience(gateway, order.client_id):
                sess.send(*P.open_order(order, inst))
                sess.send(*P.order_status(order))
        elif kind == "execution":
            fill: Fill = payload  # type: ignore[assignment]
            inst = gateway.universe.get(fill.con_id)
            if inst is None:
                return
            for sess in audience(gateway, fill.client_id):
                sess.send(*P.exec_details(-1, fill, inst))
                sess.send(*P.commission_report(fill))
        elif kind == "account":
            push_account(gateway, str(payload))

    broker.listeners.append(on_event)

    def stop() -> None:
        if on_event in broker.listeners:
            broker.listeners.remove(on_event)

    return stop
