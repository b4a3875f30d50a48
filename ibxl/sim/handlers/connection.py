"""Session-level requests: startApi, ids, clock, market data type, managed accounts."""

from __future__ import annotations

from ..errors import NO_VALID_ID, SimError
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles

FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)


def next_order_id(session: Session) -> int:
    """The next valid order id: the broker's sequence."""
    return session.gateway.broker.next_order_id()


@handles(Req.START_API)
async def start_api(s: Session, r: FieldReader) -> None:
    r.int("version")
    client_id = r.int("clientId")
    if r.remaining:
        r.str("optionalCapabilities")
    if not s.gateway.register_client(s, client_id):
        s.error(NO_VALID_ID, 326, "Unable to connect as the client id is already in use. "
                                  f"Retry with a unique client id. (clientId {client_id})")
        s.close_reason = f"duplicate clientId {client_id}"
        await s.drain()
        s.closed = True
        return
    s.send(Msg.MANAGED_ACCTS, 1, ",".join(s.gateway.config.accounts))
    s.send(Msg.NEXT_VALID_ID, 1, next_order_id(s))
    for code, text in FARM_NOTICES:
        s.error(NO_VALID_ID, code, text)


@handles(Req.IDS)
def req_ids(s: Session, r: FieldReader) -> None:
    r.int("version")
    r.int("numIds", default=1)
    s.send(Msg.NEXT_VALID_ID, 1, next_order_id(s))


@handles(Req.CURRENT_TIME)
def req_current_time(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.CURRENT_TIME, 1, int(s.gateway.clock.time()))


@handles(Req.MANAGED_ACCTS)
def req_managed_accounts(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.MANAGED_ACCTS, 1, ",".join(s.gateway.config.accounts))


@handles(Req.MARKET_DATA_TYPE)
def req_market_data_type(s: Session, r: FieldReader) -> None:
    r.int("version")
    kind = r.int("marketDataType")
    if kind not in (1, 2, 3, 4):
        raise SimError(321, f"invalid market data type {kind}; "
                            "use 1 (live), 2 (frozen), 3 (delayed) or 4 (delayed frozen)")
    s.market_data_type = kind


@handles(Req.SET_SERVER_LOGLEVEL)
def set_server_log_level(s: Session, r: FieldReader) -> None:
    r.int("version")
    r.int("logLevel", default=0)


@handles(Req.USER_INFO)
def req_user_info(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    s.send(Msg.USER_INFO, req_id, "")
