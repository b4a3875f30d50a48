"""Contract requests: details, symbol search, option parameters, market rules."""

from __future__ import annotations

from ..errors import SimError
from ..protocol.contracts import contract_details_message, read_contract
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles

MAX_DETAILS = 1000  # TWS caps very broad option queries too


@handles(Req.CONTRACT_DETAILS)
def req_contract_details(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    q = read_contract(r)
    if r.remaining:
        r.bool("includeExpired")
    if r.remaining >= 2:
        r.str("secIdType")
        r.str("secId")
    matches = s.gateway.universe.match(q)
    if not matches:
        raise SimError(200, "", req_id=req_id)
    cal = s.gateway.calendar
    today = s.gateway.clock.now().date()
    for inst in matches[:MAX_DETAILS]:
        hours = cal.hours_string(inst.calendar, today, 7, rth=False)
        liquid = cal.hours_string(inst.calendar, today, 7, rth=True)
        s.send(*contract_details_message(req_id, inst, hours, liquid))
    s.send(Msg.CONTRACT_DATA_END, 1, req_id)


@handles(Req.MATCHING_SYMBOLS)
def req_matching_symbols(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    pattern = r.str("pattern")
    universe = s.gateway.universe
    found = universe.search(pattern)
    fields: list[object] = [Msg.SYMBOL_SAMPLES, req_id, len(found)]
    for inst in found:
        derivs = universe.derivative_types(inst)
        fields += [inst.conId, inst.symbol, inst.secType, inst.primaryExchange or inst.exchange, inst.currency,
                   len(derivs), *derivs, inst.longName, ""]
    s.send(*fields)


@handles(Req.SEC_DEF_OPT_PARAMS)
def req_sec_def_opt_params(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    symbol = r.str("underlyingSymbol")
    r.str("futFopExchange")
    sec_type = r.str("underlyingSecType")
    con_id = r.int("underlyingConId", default=0)
    universe = s.gateway.universe
    und = universe.get(con_id) if con_id else None
    if und is None:
        cands = [i for i in universe.underlyings()
                 if i.symbol == symbol.upper() and (not sec_type or i.secType == sec_type.upper())]
        und = cands[0] if cands else None
    if und is None:
        raise SimError(200, f"underlying {symbol or con_id} {sec_type} not found", req_id=req_id)
    for row in universe.option_params(und):
        s.send(Msg.SECURITY_DEFINITION_OPTION_PARAMETER, req_id, row.exchange, row.underlyingConId,
               row.tradingClass, row.multiplier, len(row.expirations), *row.expirations,
               len(row.strikes), *row.strikes)
    s.send(Msg.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id)


@handles(Req.MARKET_RULE)
def req_market_rule(s: Session, r: FieldReader) -> None:
    rule_id = r.int("marketRuleId")
    increments = s.gateway.universe.market_rules.get(rule_id)
    if increments is None:
        raise SimError(321, f"unknown market rule id {rule_id}")
    fields: list[object] = [Msg.MARKET_RULE, rule_id, len(increments)]
    for low, inc in increments:
        fields += [low, inc]
    s.send(*fields)
