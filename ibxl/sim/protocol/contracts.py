"""Contracts on the wire: reading a client's contract, writing contract details."""

from __future__ import annotations

from ..models.combos import Leg
from ..models.instruments import Instrument
from ..models.universe import ContractQuery
from .fields import FieldReader
from .ids import Msg


def read_contract(r: FieldReader, *, with_conid: bool = True, with_primary: bool = True,
                  with_local: bool = True, with_trading_class: bool = True,
                  with_multiplier: bool = True) -> ContractQuery:
    """Read the common contract block most requests carry (12 fields for server version 176)."""
    con_id = r.int("conId", default=0) if with_conid else 0
    symbol = r.str("symbol")
    sec_type = r.str("secType")
    expiry = r.str("lastTradeDateOrContractMonth")
    strike = r.float("strike", default=0.0)
    right = r.str("right")
    multiplier = r.str("multiplier") if with_multiplier else ""
    exchange = r.str("exchange")
    primary = r.str("primaryExchange") if with_primary else ""
    currency = r.str("currency")
    local = r.str("localSymbol") if with_local else ""
    trading_class = r.str("tradingClass") if with_trading_class else ""
    right = {"CALL": "C", "PUT": "P"}.get(right.upper(), right.upper())
    if right == "?":
        right = ""
    return ContractQuery(
        conId=con_id, symbol=symbol.strip(), secType=sec_type.strip().upper(),
        lastTradeDateOrContractMonth=expiry.strip(), strike=strike if strike < 1e300 else 0.0,
        right=right, multiplier=multiplier.strip(), exchange=exchange.strip().upper(),
        primaryExchange=primary.strip().upper(), currency=currency.strip().upper(),
        localSymbol=local.strip(), tradingClass=trading_class.strip(),
    )


def read_combo_legs(r: FieldReader, *, order_fields: bool = False) -> list[Leg]:
    """The combo legs a BAG contract carries (count, then conId, ratio, action, exchange per leg;
    placeOrder adds openClose, shortSaleSlot, designatedLocation and exemptCode)."""
    legs = []
    for _ in range(r.int("comboLegsCount", default=0)):
        con_id = r.int("legConId", default=0)
        ratio = r.int("legRatio", default=0)
        action = r.str("legAction").strip().upper()
        exchange = r.str("legExchange").strip().upper() or "SMART"
        if order_fields:
            r.str("legOpenClose"), r.str("legShortSaleSlot"), r.str("legDesignatedLocation"), r.str("legExemptCode")
        legs.append(Leg(con_id, ratio, action, exchange))
    return legs


def contract_fields(inst: Instrument) -> list[object]:
    """The 12-field contract block (as in portfolio, position and open-order messages)."""
    return [inst.conId, inst.symbol, inst.secType, inst.lastTradeDateOrContractMonth,
            inst.strike, inst.right, inst.multiplier, inst.exchange, inst.primaryExchange,
            inst.currency, inst.localSymbol, inst.tradingClass]


def contract_details_message(req_id: int, inst: Instrument, trading_hours: str, liquid_hours: str) -> list[object]:
    """CONTRACT_DATA for server version 176 (no version field since v164)."""
    return [
        Msg.CONTRACT_DATA, req_id,
        inst.symbol, inst.secType, inst.lastTradeDateOrContractMonth, inst.strike, inst.right,
        inst.exchange, inst.currency, inst.localSymbol, inst.marketName, inst.tradingClass,
        inst.conId, inst.minTick, inst.multiplier,
        ",".join(inst.orderTypes), ",".join(inst.validExchanges), 1,  # priceMagnifier
        inst.underConId, inst.longName, inst.primaryExchange,
        inst.contractMonth, inst.industry, inst.category, inst.subcategory,
        inst.timeZoneId, trading_hours, liquid_hours,
        "", "",  # evRule, evMultiplier
        0,  # secIdList count
        1,  # aggGroup
        inst.underSymbol, inst.underSecType,
        ",".join([str(inst.marketRuleId)] * max(1, len(inst.validExchanges))),
        inst.lastTradeDateOrContractMonth if inst.secType in ("OPT", "FUT", "FOP") else "",  # realExpirationDate
        inst.stockType,
        _size_rule(inst), _size_rule(inst), _size_rule(inst),  # minSize, sizeIncrement, suggestedSizeIncrement
    ]


def _size_rule(inst: Instrument) -> str:
    if inst.secType == "CRYPTO":
        return "0.0001"
    if inst.secType == "CASH":
        return "1"
    return "1"
