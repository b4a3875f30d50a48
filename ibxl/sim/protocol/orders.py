"""Orders on the wire at server version 176: reading placeOrder, writing openOrder,
orderStatus, execDetails and commissionReport (field order as the clients decode them)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..models.broker.orders import Condition, Fill, SimOrder
from ..models.combos import Leg, legs_description
from ..models.instruments import Instrument
from ..models.universe import ContractQuery
from .contracts import read_combo_legs, read_contract
from .fields import BadField, FieldReader
from .ids import Msg

UNSET = 1.7976931348623157e308

#: fields each condition type carries after its type and conjunction
_COND_FIELDS = {1: ("isMore", "price", "conId", "exch", "triggerMethod"), 3: ("isMore", "time"),
                4: ("isMore", "percent"), 5: ("secType", "exch", "symbol"), 6: ("isMore", "volume", "conId", "exch"),
                7: ("isMore", "changePercent", "conId", "exch")}


def _price(r: FieldReader, name: str) -> float | None:
    """An optional price: empty or IB's UNSET_DOUBLE mean none."""
    raw = r.str(name).strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        raise BadField(f"place_order: field {name!r}={raw[:30]!r} is not a number") from None
    return None if v >= UNSET * 0.99 else v


def read_place_order(r: FieldReader, client_id: int, default_account: str) -> tuple[SimOrder, ContractQuery]:
    """Decode a placeOrder message (after the message id) into an order and its contract."""
    order_id = r.int("orderId")
    q = read_contract(r)
    r.str("secIdType")
    r.str("secId")
    action = r.str("action").upper()
    quantity = _price(r, "totalQuantity") or 0.0
    order_type = r.str("orderType").upper()
    lmt = _price(r, "lmtPrice")
    aux = _price(r, "auxPrice")
    tif = r.str("tif").upper() or "DAY"
    oca_group = r.str("ocaGroup")
    account = r.str("account") or default_account
    r.str("openClose")
    r.int("origin", default=0)
    order_ref = r.str("orderRef")
    transmit = r.bool("transmit")
    parent_id = r.int("parentId", default=0)
    r.bool("blockOrder")
    r.bool("sweepToFill")
    display_size = r.int("displaySize", default=0)
    r.int("triggerMethod", default=0)
    outside_rth = r.bool("outsideRth")
    r.bool("hidden")
    combo_legs: list[dict] = []
    leg_prices: list[float | None] = []
    if q.secType == "BAG":
        combo_legs = [leg.to_json() for leg in read_combo_legs(r, order_fields=True)]
        leg_prices = [_price(r, "legPrice") for _ in range(r.int("orderComboLegsCount", default=0))]
        for _ in range(r.int("smartComboRoutingParamsCount", default=0)):
            r.str("tag"), r.str("value")
    r.str("sharesAllocation")
    r.float("discretionaryAmt", default=0.0)
    good_after = r.str("goodAfterTime")
    good_till = r.str("goodTillDate")
    for name in ("faGroup", "faMethod", "faPercentage", "faProfile", "modelCode"):
        r.str(name)
    r.int("shortSaleSlot", default=0)
    r.str("designatedLocation")
    r.int("exemptCode", default=-1)
    oca_type = r.int("ocaType", default=0)
    for name in ("rule80A", "settlingFirm", "allOrNone", "minQty", "percentOffset", "eTradeOnly", "firmQuoteOnly",
                 "nbboPriceCap", "auctionStrategy", "startingPrice", "stockRefPrice", "delta", "stockRangeLower",
                 "stockRangeUpper", "overridePercentageConstraints", "volatility", "volatilityType"):
        r.str(name)
    dn_type = r.str("deltaNeutralOrderType")
    r.str("deltaNeutralAuxPrice")
    if dn_type:
        for _ in range(8):
            r.str("deltaNeutral")
    r.str("continuousUpdate")
    r.str("referencePriceType")
    trail_stop = _price(r, "trailStopPrice")
    trailing_pct = _price(r, "trailingPercent")
    r.str("scaleInitLevelSize")
    r.str("scaleSubsLevelSize")
    increment = _price(r, "scalePriceIncrement")
    if increment and increment > 0:
        for _ in range(7):
            r.str("scale")
    r.str("scaleTable")
    r.str("activeStartTime")
    r.str("activeStopTime")
    if r.str("hedgeType"):
        r.str("hedgeParam")
    for name in ("optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld"):
        r.str(name)
    if r.bool("deltaNeutralContract"):
        r.str("dncConId"), r.str("dncDelta"), r.str("dncPrice")
    if r.str("algoStrategy"):
        for _ in range(r.int("algoParamsCount", default=0)):
            r.str("tag"), r.str("value")
    r.str("algoId")
    what_if = r.bool("whatIf")
    r.str("orderMiscOptions")
    r.str("solicited")
    r.str("randomizeSize")
    r.str("randomizePrice")
    if order_type in ("PEG BENCH", "PEGBENCH"):
        for _ in range(5):
            r.str("peg")
    conditions: list[Condition] = []
    n_cond = r.int("conditionsCount", default=0)
    for _ in range(n_cond):
        kind = r.int("conditionType")
        if kind not in _COND_FIELDS:
            raise BadField(f"order condition type {kind} is unknown")
        conj = r.str("conjunction") or "a"
        vals = {name: r.str(name) for name in _COND_FIELDS[kind]}
        conditions.append(Condition(
            kind=kind, conjunction=conj.lower()[:1], is_more=vals.get("isMore", "1") in ("1", "True", "true"),
            value=float(vals.get("price") or vals.get("percent") or vals.get("volume") or vals.get("changePercent")
                        or 0.0),
            time=vals.get("time", ""), con_id=int(float(vals.get("conId") or 0)), exchange=vals.get("exch", ""),
            sec_type=vals.get("secType", ""), symbol=vals.get("symbol", ""),
            trigger_method=int(float(vals.get("triggerMethod") or 0))))
    ignore_rth = cancel_on_condition = False
    if n_cond:
        ignore_rth = r.bool("conditionsIgnoreRth")
        cancel_on_condition = r.bool("conditionsCancelOrder")
    # the remaining fields (adjusted orders, soft dollar tier, cash quantity, MiFID II...) do not
    # change how the paper broker works an order
    order = SimOrder(
        order_id=order_id, client_id=client_id, perm_id=0, account=account, con_id=q.conId, action=action,
        quantity=quantity, order_type=order_type, lmt_price=lmt, aux_price=aux, tif=tif, oca_group=oca_group,
        oca_type=oca_type, order_ref=order_ref, transmit=transmit, parent_id=parent_id, outside_rth=outside_rth,
        good_till_date=good_till, good_after_time=good_after, trailing_percent=trailing_pct,
        trail_stop_price=trail_stop, display_size=display_size, conditions=conditions,
        conditions_cancel=cancel_on_condition, conditions_ignore_rth=ignore_rth, what_if=what_if,
        combo_legs=combo_legs, leg_prices=leg_prices)
    return order, q


def _contract_block(inst: Instrument, exchange: str | None = None) -> list[object]:
    return [inst.conId, inst.symbol, inst.secType, inst.lastTradeDateOrContractMonth, inst.strike or 0.0,
            inst.right, inst.multiplier, exchange if exchange is not None else inst.exchange, inst.currency,
            inst.localSymbol, inst.tradingClass]


def _opt(v: float | None) -> object:
    return "" if v is None else v


def open_order(o: SimOrder, inst: Instrument, state: dict[str, float] | None = None,
               warning: str = "") -> list[object]:
    """An openOrder message for one order (with what-if figures when ``state`` is given).

    The layout follows the clients' openOrder decoders for server version 176, group by group.
    """
    st = state or {}
    status = "PreSubmitted" if o.what_if else o.status

    def num(key: str) -> object:
        return f"{st[key]:.2f}" if key in st else ""

    f: list[object] = [Msg.OPEN_ORDER, o.order_id, *_contract_block(inst)]
    # action .. faProfile (22)
    f += [o.action, o.quantity, o.order_type, _opt(o.lmt_price), _opt(o.aux_price), o.tif, o.oca_group, o.account,
          "O", 0, o.order_ref, o.client_id, o.perm_id, o.outside_rth, False, 0, o.good_after_time, "", "", "", "", ""]
    # modelCode .. deltaNeutralAuxPrice (29)
    f += ["", o.good_till_date, "", "", "", 0, "", -1, 0, "", "", "", "", "", o.display_size, False, False, False,
          "", o.oca_type, False, False, "", o.parent_id, 0, "", 0, "", ""]
    # continuousUpdate .. comboLegsDescrip (7), combo legs, order combo legs, smart combo params
    f += [False, 0, _opt(o.trail_stop_price), _opt(o.trailing_percent), "", "",
          legs_description(Leg(**leg) for leg in o.combo_legs)]
    f += [len(o.combo_legs)]
    for leg in o.combo_legs:
        f += [leg["con_id"], leg["ratio"], leg["action"], leg["exchange"], 0, 0, "", -1]
    f += [len(o.leg_prices), *(_opt(p) for p in o.leg_prices), 0]
    # scale (3), hedgeType, optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc present, algo
    f += ["", "", "", "", False, "", "", False, False, ""]
    # solicited, whatIf, order state (15), randomizeSize, randomizePrice
    f += [False, o.what_if, status, num("initMarginBefore"), num("maintMarginBefore"), num("equityWithLoanBefore"),
          num("initMarginChange"), num("maintMarginChange"), num("equityWithLoanChange"), num("initMarginAfter"),
          num("maintMarginAfter"), num("equityWithLoanAfter"), st.get("commission", "") if st else "", "", "",
          inst.currency if st else "", warning, False, False]
    f += [len(o.conditions)]
    for c in o.conditions:
        f += _condition_fields(c)
    if o.conditions:
        f += [o.conditions_ignore_rth, o.conditions_cancel]
    # adjusted order params (8), soft dollar tier (3), cashQty, 4 flags, duration, postToAts,
    # autoCancelParent, and the v170 peg fields (5)
    f += ["None", "", _opt(o.trail_stop_price), "", "", "", "", 0, "", "", "", "", False, False, False, False,
          "", "", False, "", "", "", "", ""]
    return f


def _condition_fields(c: Condition) -> list[object]:
    head: list[object] = [c.kind, c.conjunction]
    if c.kind == 1:
        return head + [c.is_more, c.value, c.con_id, c.exchange, c.trigger_method]
    if c.kind == 3:
        return head + [c.is_more, c.time]
    if c.kind == 4:
        return head + [c.is_more, int(c.value)]
    if c.kind == 5:
        return head + [c.sec_type, c.exchange, c.symbol]
    if c.kind == 6:
        return head + [c.is_more, int(c.value), c.con_id, c.exchange]
    return head + [c.is_more, c.value, c.con_id, c.exchange]


def order_status(o: SimOrder) -> list[object]:
    """An orderStatus message."""
    return [Msg.ORDER_STATUS, o.order_id, o.status, o.filled, o.remaining, o.avg_fill_price, o.perm_id,
            o.parent_id, o.last_fill_price, o.client_id, o.why_held, 0.0]


def exec_time(ts: float) -> str:
    """An execution time as TWS writes it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d %H:%M:%S UTC")


def exec_details(req_id: int, f: Fill, inst: Instrument) -> list[object]:
    """An execDetails message."""
    return [Msg.EXECUTION_DATA, req_id, f.order_id, *_contract_block(inst, f.exchange), f.exec_id,
            exec_time(f.time), f.account, f.exchange, f.side, f.shares, f.price, f.perm_id, f.client_id, 0,
            f.cum_qty, f.avg_price, f.order_ref, "", "", "", 1]


def commission_report(f: Fill) -> list[object]:
    """A commissionReport message (realized P&L only on closing fills, as TWS sends it)."""
    return [Msg.COMMISSION_REPORT, 1, f.exec_id, f.commission, f.currency,
            f.realized_pnl if f.realized_pnl else UNSET, UNSET, ""]
