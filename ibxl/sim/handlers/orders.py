"""Order requests. Until the paper broker answers them, there are no orders."""

from __future__ import annotations

from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles


@handles(Req.OPEN_ORDERS, Req.ALL_OPEN_ORDERS)
def req_open_orders(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.OPEN_ORDER_END, 1)


@handles(Req.AUTO_OPEN_ORDERS)
def req_auto_open_orders(s: Session, r: FieldReader) -> None:
    r.int("version")
    r.bool("autoBind")


@handles(Req.COMPLETED_ORDERS)
def req_completed_orders(s: Session, r: FieldReader) -> None:
    r.bool("apiOnly")
    s.send(Msg.COMPLETED_ORDERS_END)


@handles(Req.EXECUTIONS)
def req_executions(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    s.send(Msg.EXECUTION_DATA_END, 1, req_id)
