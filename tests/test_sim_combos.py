"""Combination (BAG) contracts in the embedded gateway, through ib_async, ib_insync and ibapi:
combo quotes from the legs, combo orders filling every leg together, brackets, OCA, modify and
cancel, spread margin in what-if, and TWS's error for an unknown leg."""

from __future__ import annotations

import math
import time

import pytest
from ib_async import IB, ComboLeg, Contract, LimitOrder, MarketOrder, Option, Order

from ibxl.sim import SimConfig, SimGateway


@pytest.fixture(scope="module")
def combo_gw(tmp_path_factory):
    state = tmp_path_factory.mktemp("combo-state")
    with SimGateway(SimConfig(seed=31, tick_interval=0.05, state_dir=state)) as gw:
        yield gw


@pytest.fixture
def trader(combo_gw):
    ib = IB()
    ib.connect(combo_gw.host, combo_gw.port, clientId=next(_ids))
    yield ib
    ib.disconnect()


_ids = iter(range(40, 400))


def _calls(ib: IB, right: str = "C") -> tuple[str, list[Contract]]:
    details = ib.reqContractDetails(Option("SPY", "", 0, right, "SMART"))
    expiries = sorted({d.contract.lastTradeDateOrContractMonth for d in details})
    exp = expiries[min(2, len(expiries) - 1)]
    legs = sorted((d.contract for d in details if d.contract.lastTradeDateOrContractMonth == exp),
                  key=lambda c: c.strike)
    return exp, legs


def _atm(ib: IB, legs: list[Contract]) -> int:
    spot = ib.reqTickers(legs[len(legs) // 2])[0]  # an option ticker carries its underlying's price
    und = spot.modelGreeks.undPrice if spot.modelGreeks else legs[len(legs) // 2].strike
    return min(range(len(legs)), key=lambda i: abs(legs[i].strike - und))


def _bag(*legs: tuple[Contract, int, str]) -> Contract:
    return Contract(symbol="SPY", secType="BAG", exchange="SMART", currency="USD",
                    comboLegs=[ComboLeg(conId=c.conId, ratio=r, action=a, exchange="SMART") for c, r, a in legs])


def _vertical(ib: IB) -> tuple[Contract, Contract, Contract]:
    _, calls = _calls(ib)
    i = _atm(ib, calls)
    long_leg, short_leg = calls[i], calls[i + 2]
    return _bag((long_leg, 1, "BUY"), (short_leg, 1, "SELL")), long_leg, short_leg


def test_vertical_quote_equals_its_legs_at_every_update(trader):
    bag, long_leg, short_leg = _vertical(trader)
    # the legs subscribe first, so each pulse delivers their ticks before the combo's
    t_long, t_short = trader.reqMktData(long_leg), trader.reqMktData(short_leg)
    t_bag = trader.reqMktData(bag)
    seen: list[tuple[float, float, float, float]] = []

    def on_tickers(tickers: set) -> None:
        if t_bag in tickers:
            seen.append((t_bag.bid, t_bag.ask, t_long.bid - t_short.ask, t_long.ask - t_short.bid))

    trader.pendingTickersEvent += on_tickers
    trader.sleep(3.0)
    trader.pendingTickersEvent -= on_tickers
    assert len(seen) >= 3
    for bid, ask, want_bid, want_ask in seen:
        assert bid == pytest.approx(want_bid, abs=0.0101) and ask == pytest.approx(want_ask, abs=0.0101)
    # the combo's bid is what it sells for, below its ask, and it quotes sizes (never NaN while legs quote)
    assert t_bag.bid < t_bag.ask and t_bag.bidSize >= 1 and t_bag.askSize >= 1
    for t in (t_bag, t_long, t_short):
        trader.cancelMktData(t.contract)


def test_combo_limit_at_mid_fills_both_legs_together(trader):
    bag, long_leg, short_leg = _vertical(trader)
    t = trader.reqMktData(bag)
    trader.sleep(0.5)
    # just above the mid, on the cent grid: still inside the spread, and not missed when the mid
    # ticks up a cent while the order travels
    mid = (t.bid + t.ask) / 2
    limit = math.ceil((mid + (t.ask - mid) / 4) * 100) / 100
    assert limit < t.ask
    trade = trader.placeOrder(bag, LimitOrder("BUY", 2, limit))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (trade.orderStatus.status == "Filled" and len(trade.fills) == 2
                                               and all(f.commissionReport.commission for f in trade.fills)):
        trader.sleep(0.05)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.filled == 2
    fills = {f.contract.conId: f for f in trade.fills}
    assert set(fills) == {long_leg.conId, short_leg.conId}
    assert fills[long_leg.conId].execution.side == "BOT" and fills[short_leg.conId].execution.side == "SLD"
    assert all(f.execution.shares == 2 for f in fills.values())
    # one commission per leg execution, and the legs' prices net to the combo's fill price
    assert all(f.commissionReport.commission > 0 for f in fills.values())
    net = fills[long_leg.conId].execution.price - fills[short_leg.conId].execution.price
    assert net == pytest.approx(trade.orderStatus.avgFillPrice, abs=1e-6)
    assert trade.orderStatus.avgFillPrice == pytest.approx(limit)  # at the limit, inside the legs' spreads
    assert fills[long_leg.conId].execution.time == fills[short_leg.conId].execution.time
    trader.sleep(0.3)
    pos = {p.contract.conId: p.position for p in trader.positions()}
    assert pos[long_leg.conId] >= 2 and pos[short_leg.conId] <= -2
    trader.cancelMktData(bag)


def test_combo_limit_below_the_market_rests_then_modify_and_cancel(trader):
    bag, _, _ = _vertical(trader)
    t = trader.reqMktData(bag)
    trader.sleep(0.5)
    low = round(t.bid - 0.2, 2)  # below the mid: it waits
    trade = trader.placeOrder(bag, LimitOrder("BUY", 1, low))
    trader.sleep(0.4)
    assert trade.orderStatus.status == "Submitted" and not trade.fills
    assert trade.contract.secType == "BAG"
    trade.order.lmtPrice = round(low - 0.1, 2)
    trader.placeOrder(bag, trade.order)
    trader.sleep(0.3)
    open_ = [x.order for x in trader.reqAllOpenOrders() if x.order.orderId == trade.order.orderId]
    assert open_ and open_[0].lmtPrice == pytest.approx(low - 0.1)
    trader.cancelOrder(trade.order)
    trader.sleep(0.3)
    assert trade.orderStatus.status == "Cancelled" and not trade.fills
    trader.cancelMktData(bag)


def test_combo_per_leg_prices_set_the_combo_limit(trader):
    bag, long_leg, short_leg = _vertical(trader)
    tl, ts = trader.reqMktData(long_leg), trader.reqMktData(short_leg)
    trader.sleep(0.5)
    from ib_async import OrderComboLeg

    order = Order(action="BUY", totalQuantity=1, orderType="LMT", lmtPrice=None,
                  orderComboLegs=[OrderComboLeg(price=round(tl.ask + 0.1, 2)), OrderComboLeg(price=ts.bid)],
                  smartComboRoutingParams=[])
    trade = trader.placeOrder(bag, order)
    trader.sleep(0.5)
    assert trade.orderStatus.status == "Filled" and len(trade.fills) == 2
    for t in (tl, ts):
        trader.cancelMktData(t.contract)


def test_credit_combo_trades_at_a_negative_price(trader):
    bag, long_leg, short_leg = _vertical(trader)
    credit = _bag((long_leg, 1, "SELL"), (short_leg, 1, "BUY"))  # the same spread written as a credit
    t = trader.reqMktData(credit)
    trader.sleep(0.5)
    assert t.bid < 0 and t.ask < 0
    trade = trader.placeOrder(credit, LimitOrder("BUY", 1, round(t.ask, 2)))
    trader.sleep(0.5)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.avgFillPrice < 0
    trader.cancelMktData(credit)


def test_combo_market_and_relative_orders_fill(trader):
    bag, _, _ = _vertical(trader)
    mkt = trader.placeOrder(bag, MarketOrder("SELL", 1))
    rel = trader.placeOrder(bag, Order(action="BUY", totalQuantity=1, orderType="REL", auxPrice=0.5,
                                       lmtPrice=0.0))
    trader.sleep(0.6)
    assert mkt.orderStatus.status == "Filled" and len(mkt.fills) == 2
    assert rel.orderStatus.status == "Filled" and len(rel.fills) == 2


def test_combo_bracket_and_oca(trader):
    bag, _, _ = _vertical(trader)
    t = trader.reqMktData(bag)
    trader.sleep(0.5)
    mid = round((t.bid + t.ask) / 2, 2)
    parent, take, stop = trader.bracketOrder("BUY", 1, round(t.ask, 2), round(mid + 3.0, 2), round(mid - 3.0, 2))
    trades = [trader.placeOrder(bag, o) for o in (parent, take, stop)]
    trader.sleep(0.6)
    assert trades[0].orderStatus.status == "Filled"
    assert trades[1].orderStatus.status == "Submitted" and trades[2].orderStatus.status == "PreSubmitted"
    trader.cancelOrder(trades[1].order)
    trader.sleep(0.3)
    assert trades[1].orderStatus.status == "Cancelled"
    # one-cancels-all: the filling combo cancels its resting sibling
    a = trader.placeOrder(bag, LimitOrder("BUY", 1, round(t.bid - 0.5, 2), ocaGroup="combo-oca", ocaType=1))
    b = trader.placeOrder(bag, LimitOrder("BUY", 1, round(t.ask, 2), ocaGroup="combo-oca", ocaType=1))
    trader.sleep(0.6)
    assert b.orderStatus.status == "Filled" and a.orderStatus.status == "Cancelled"
    for tr in trades[2:]:
        if tr.orderStatus.status not in ("Filled", "Cancelled"):
            trader.cancelOrder(tr.order)
    trader.cancelMktData(bag)


def test_what_if_margin_of_a_vertical_is_below_the_naked_short_leg(trader):
    bag, long_leg, short_leg = _vertical(trader)
    credit = _bag((long_leg, 1, "SELL"), (short_leg, 1, "BUY"))
    width = (short_leg.strike - long_leg.strike) * 100
    naked = trader.whatIfOrder(long_leg, LimitOrder("SELL", 1, 1.0))
    spread = trader.whatIfOrder(credit, LimitOrder("BUY", 1, -1.0))
    debit = trader.whatIfOrder(bag, LimitOrder("BUY", 1, 1.0))
    assert float(spread.initMarginChange) < float(naked.initMarginChange)
    # a short call spread margins at most its width; the long debit spread is paid in full
    assert float(spread.initMarginChange) <= width + 1e-6
    assert float(debit.initMarginChange) <= 1e-6
    assert float(spread.commission) > 0


def test_unknown_leg_conid_gets_tws_error_321(trader):
    _, legs = _calls(trader)
    bad = Contract(symbol="SPY", secType="BAG", exchange="SMART", currency="USD",
                   comboLegs=[ComboLeg(conId=1, ratio=1, action="BUY", exchange="SMART"),
                              ComboLeg(conId=legs[0].conId, ratio=1, action="SELL", exchange="SMART")])
    errors: list[tuple] = []
    trader.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    trade = trader.placeOrder(bad, LimitOrder("BUY", 1, 1.0))
    trader.reqMktData(bad)
    trader.sleep(0.5)
    assert any(code == 321 and "combo details for leg '1' are invalid" in msg for _, code, msg in errors)
    assert sum(1 for _, code, _ in errors if code == 321) >= 2  # the order and the quote request
    assert trade.orderStatus.status != "Filled"
    empty = Contract(symbol="SPY", secType="BAG", exchange="SMART", currency="USD", comboLegs=[])
    trader.placeOrder(empty, LimitOrder("BUY", 1, 1.0))
    trader.sleep(0.3)
    assert any("requires combo leg details" in msg for _, _, msg in errors)


def test_ib_insync_combo_quote_and_order(combo_gw):
    import ib_insync as ibi

    ib = ibi.IB()
    ib.connect(combo_gw.host, combo_gw.port, clientId=next(_ids))
    try:
        details = ib.reqContractDetails(ibi.Option("SPY", "", 0, "C", "SMART"))
        exp = sorted({d.contract.lastTradeDateOrContractMonth for d in details})[2]
        calls = sorted((d.contract for d in details if d.contract.lastTradeDateOrContractMonth == exp),
                       key=lambda c: c.strike)
        a, b = calls[len(calls) // 2], calls[len(calls) // 2 + 1]
        bag = ibi.Contract(symbol="SPY", secType="BAG", exchange="SMART", currency="USD",
                           comboLegs=[ibi.ComboLeg(conId=a.conId, ratio=1, action="BUY", exchange="SMART"),
                                      ibi.ComboLeg(conId=b.conId, ratio=1, action="SELL", exchange="SMART")])
        ta, tb, t = ib.reqMktData(a), ib.reqMktData(b), ib.reqMktData(bag)
        ib.sleep(0.8)
        assert t.bid == pytest.approx(ta.bid - tb.ask, abs=0.0101)
        trade = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, round(t.ask, 2)))
        ib.sleep(0.8)
        assert trade.orderStatus.status == "Filled"
        assert {f.contract.conId for f in trade.fills} == {a.conId, b.conId}
        assert all(f.commissionReport.commission > 0 for f in trade.fills)
    finally:
        ib.disconnect()


def test_ibapi_combo_quote_and_order(combo_gw):
    from ibapi.contract import ComboLeg as ApiLeg
    from ibapi.contract import Contract as ApiContract
    from ibapi.order import Order as ApiOrder
    from ibapi_app import RecordingApp

    probe = IB()
    probe.connect(combo_gw.host, combo_gw.port, clientId=next(_ids))
    bag, long_leg, short_leg = _vertical(probe)
    probe.disconnect()
    app = RecordingApp().start(combo_gw.host, combo_gw.port, next(_ids))
    try:
        c = ApiContract()
        c.symbol, c.secType, c.exchange, c.currency = "SPY", "BAG", "SMART", "USD"
        c.comboLegs = []
        for leg, action in ((long_leg, "BUY"), (short_leg, "SELL")):
            x = ApiLeg()
            x.conId, x.ratio, x.action, x.exchange = leg.conId, 1, action, "SMART"
            c.comboLegs.append(x)
        app.reqMktData(901, c, "", False, False, [])
        bid = app.wait_for("tickPrice", lambda a: a[0] == 901 and a[1] == 1)[2]
        ask = app.wait_for("tickPrice", lambda a: a[0] == 901 and a[1] == 2)[2]
        assert bid < ask
        order_id = app.wait_for("nextValidId")[0] + 100
        o = ApiOrder()
        o.action, o.totalQuantity, o.orderType, o.lmtPrice = "BUY", 1, "LMT", round(ask + 0.3, 2)
        app.placeOrder(order_id, c, o)
        app.wait_for("orderStatus", lambda a: a[0] == order_id and a[1] == "Filled")
        execs = [a for a in app.events["execDetails"] if a[2].orderId == order_id]
        deadline = time.monotonic() + 3
        while len(execs) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            execs = [a for a in app.events["execDetails"] if a[2].orderId == order_id]
        assert {a[1].conId for a in execs} == {long_leg.conId, short_leg.conId}
        opened = app.wait_for("openOrder", lambda a: a[0] == order_id)
        assert opened[1].secType == "BAG" and len(opened[1].comboLegs) == 2
        ids = {a[2].execId for a in execs}
        app.wait_for("commission", lambda a: a[0].execId in ids)
        app.cancelMktData(901)
    finally:
        app.stop()


def test_gtc_combo_order_survives_a_restart(tmp_path):
    state = tmp_path / "state"
    with SimGateway(SimConfig(seed=31, tick_interval=0.05, state_dir=state)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=7)
        bag, long_leg, short_leg = _vertical(ib)
        t = ib.reqMktData(bag)
        ib.sleep(0.5)
        trade = ib.placeOrder(bag, LimitOrder("BUY", 1, round(t.bid - 0.5, 2), tif="GTC"))
        ib.sleep(0.3)
        assert trade.orderStatus.status == "Submitted"
        ib.disconnect()
    with SimGateway(SimConfig(seed=31, tick_interval=0.05, state_dir=state)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=7)
        again = [x for x in ib.reqAllOpenOrders() if x.order.orderId == trade.order.orderId]
        assert again and again[0].contract.secType == "BAG"
        assert [leg.conId for leg in again[0].contract.comboLegs] == [long_leg.conId, short_leg.conId]
        assert again[0].contract.comboLegs[1].action == "SELL"
        ib.disconnect()
