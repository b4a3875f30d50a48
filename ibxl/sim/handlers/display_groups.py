"""Display groups on the wire: queryDisplayGroups, subscribe/unsubscribe, updateDisplayGroup."""

from __future__ import annotations

from ..errors import SimError
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles


@handles(Req.QUERY_DISPLAY_GROUPS)
def query_display_groups(s: Session, r: FieldReader) -> None:
    """The list of display groups, "1|2|...|7"."""
    r.int("version", default=1)
    s.send(Msg.DISPLAY_GROUP_LIST, 1, r.int("reqId"), s.gateway.display_groups.group_list())


@handles(Req.SUBSCRIBE_TO_GROUP_EVENTS)
def subscribe_to_group_events(s: Session, r: FieldReader) -> None:
    """Listen to a group: its current contract now, then every change another client makes."""
    r.int("version", default=1)
    req_id = r.int("reqId")
    group = r.int("groupId")
    groups = s.gateway.display_groups

    def send(info: str) -> None:
        s.send(Msg.DISPLAY_GROUP_UPDATED, 1, req_id, info)

    try:
        current, stop = groups.subscribe(s, req_id, group, send)
    except SimError as exc:
        exc.req_id = req_id
        raise
    s.add_subscription("display_group", req_id, stop)
    send(current)


@handles(Req.UPDATE_DISPLAY_GROUP)
def update_display_group(s: Session, r: FieldReader) -> None:
    """Show a contract ("conId@exchange", or "none") in the subscribed group."""
    r.int("version", default=1)
    req_id = r.int("reqId")
    info = r.str("contractInfo")
    try:
        s.gateway.display_groups.update(s, req_id, info)
    except SimError as exc:
        exc.req_id = req_id
        raise


@handles(Req.UNSUBSCRIBE_FROM_GROUP_EVENTS)
def unsubscribe_from_group_events(s: Session, r: FieldReader) -> None:
    """Stop listening to a group."""
    r.int("version", default=1)
    s.cancel_subscription("display_group", r.int("reqId"))
