"""Account requests. Until the paper broker answers them, the account is empty."""

from __future__ import annotations

from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles


@handles(Req.POSITIONS)
def req_positions(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.POSITION_END, 1)


@handles(Req.CANCEL_POSITIONS)
def cancel_positions(s: Session, r: FieldReader) -> None:
    r.int("version")


@handles(Req.ACCOUNT_UPDATES)
def req_account_updates(s: Session, r: FieldReader) -> None:
    r.int("version")
    subscribe = r.bool("subscribe")
    account = r.str("acctCode") or s.gateway.config.accounts[0]
    if subscribe:
        s.send(Msg.ACCT_DOWNLOAD_END, 1, account)


@handles(Req.ACCOUNT_UPDATES_MULTI)
def req_account_updates_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    s.send(Msg.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


@handles(Req.CANCEL_ACCOUNT_UPDATES_MULTI)
def cancel_account_updates_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    r.int("reqId")
