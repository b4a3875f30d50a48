"""The paper broker through ib_async: orders, fills, commissions, positions, account values,
P&L, brackets, OCA groups, conditions, rejects, persistence and read-only mode."""

from __future__ import annotations

import socket
import subprocess
import sys
import time as _time

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Order, PriceCondition, Stock, StopOrder

from ibxl.sim import SimConfig, SimGateway


@pytest.fixture
def broker_gw(tmp_path):
    with SimGateway(SimConfig(seed=21, tick_interval=0.05, state_dir=tmp_path / "state")) as gw:
        yield gw


@pytest.fixture
def trader(broker_gw):
    ib = IB()
    ib.connect(broker_gw.host, broker_gw.port, clientId=1)
    yield ib
    ib.disconnect()


def _stock(ib: IB, symbol: str) -> Stock:
    c = Stock(symbol, "SMART", "USD")
    ib.qualifyContracts(c)
    return c


def _value(ib: IB, tag: str) -> float:
    return float(next(v.value for v in ib.accountValues() if v.tag == tag and v.currency == "USD"))


def test_market_order_fills_and_the_account_moves_consistently(trader, broker_gw):
    c = _stock(trader, "MSFT")
    cash0 = _value(trader, "TotalCashValue")
    trade = trader.placeOrder(c, MarketOrder("BUY", 200))
    trader.sleep(0.6)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.filled == 200
    statuses = [e.status for e in trade.log]
    assert statuses[0] == "PendingSubmit" and "Filled" in statuses
    # large orders fill in parts against the displayed size; IB's tiered rate and its minimum apply
    # to the order as a whole, however many executions it takes
    fees = sum(f.commissionReport.commission for f in trade.fills)
    assert fees == pytest.approx(max(0.0035 * 200, 0.35))
    assert sum(f.execution.shares for f in trade.fills) == 200
    price = trade.orderStatus.avgFillPrice
    trader.sleep(3.2)  # account updates refresh every 3 s
    cash1 = _value(trader, "TotalCashValue")
    assert cash1 == pytest.approx(cash0 - 200 * price - fees, abs=0.02)
    pos = {p.contract.conId: p for p in trader.positions()}
    assert pos[c.conId].position == 200
    assert pos[c.conId].avgCost == pytest.approx(price + fees / 200, rel=1e-6)
    item = next(p for p in trader.portfolio() if p.contract.conId == c.conId)
    nlv = _value(trader, "NetLiquidation")
    assert nlv == pytest.approx(cash1 + item.marketValue, abs=1.0)
    assert _value(trader, "GrossPositionValue") == pytest.approx(abs(item.marketValue), rel=0.01)
    pnl = trader.reqPnL("DU1234567")
    trader.sleep(1.3)
    # P&L streams every second, the portfolio every 3 s: compare them when both are fresh, since
    # the price moves in between
    deadline = _time.monotonic() + 7
    while abs(pnl.unrealizedPnL - item.unrealizedPNL) > 30 and _time.monotonic() < deadline:
        trader.sleep(0.2)
        item = next(p for p in trader.portfolio() if p.contract.conId == c.conId)
    assert pnl.unrealizedPnL == pytest.approx(item.unrealizedPNL, abs=30)
    # selling half realizes P&L net of commissions
    sell = trader.placeOrder(c, MarketOrder("SELL", 100))
    trader.sleep(0.6)
    realized = sum(f.commissionReport.realizedPNL for f in sell.fills)
    sell_fees = sum(f.commissionReport.commission for f in sell.fills)
    expected = (sell.orderStatus.avgFillPrice - pos[c.conId].avgCost) * 100 - sell_fees
    assert realized == pytest.approx(expected, abs=0.05)


def test_limit_order_rests_then_is_modified_and_cancelled(trader):
    c = _stock(trader, "IBM")
    t = trader.reqMktData(c)
    trader.sleep(0.5)
    trade = trader.placeOrder(c, LimitOrder("BUY", 10, round(t.bid * 0.9, 2)))
    trader.sleep(0.4)
    assert trade.orderStatus.status == "Submitted"
    trade.order.lmtPrice = round(t.bid * 0.91, 2)
    trader.placeOrder(c, trade.order)
    trader.sleep(0.3)
    assert trader.openTrades()[0].order.lmtPrice == trade.order.lmtPrice
    assert len([x for x in trader.openTrades() if x.order.orderId == trade.order.orderId]) == 1
    trader.cancelOrder(trade.order)
    trader.sleep(0.3)
    assert trade.orderStatus.status == "Cancelled"


def test_bracket_fills_parent_and_one_child_and_cancels_the_other(trader):
    c = _stock(trader, "AAPL")
    t = trader.reqMktData(c)
    trader.sleep(0.5)
    ask = t.ask
    bracket = trader.bracketOrder("BUY", 100, round(ask * 1.01, 2), takeProfitPrice=round(ask * 0.999, 2),
                                  stopLossPrice=round(ask * 0.9, 2))
    trades = [trader.placeOrder(c, o) for o in bracket]
    trader.sleep(1.5)
    parent, take, stop = (x.orderStatus.status for x in trades)
    assert parent == "Filled"
    assert take == "Filled" and stop == "Cancelled"
    assert not any(p.contract.conId == c.conId and p.position for p in trader.positions())


def test_oca_group_cancels_siblings(trader):
    c = _stock(trader, "AMD")
    t = trader.reqMktData(c)
    trader.sleep(0.5)
    a = LimitOrder("BUY", 5, round(t.ask * 1.01, 2), ocaGroup="g1", ocaType=1)
    b = LimitOrder("BUY", 5, round(t.bid * 0.8, 2), ocaGroup="g1", ocaType=1)
    ta, tb = trader.placeOrder(c, a), trader.placeOrder(c, b)
    trader.sleep(0.8)
    assert ta.orderStatus.status == "Filled" and tb.orderStatus.status == "Cancelled"


def test_price_condition_triggers_when_the_market_crosses(trader):
    c = _stock(trader, "INTC")
    t = trader.reqMktData(c)
    trader.sleep(0.5)
    order = MarketOrder("BUY", 10)
    order.conditions = [PriceCondition(price=round(t.last * 0.5, 2), conId=c.conId, exch="SMART", isMore=True)]
    trade = trader.placeOrder(c, order)
    trader.sleep(0.6)
    assert trade.orderStatus.status == "Filled"
    never = MarketOrder("BUY", 10)
    never.conditions = [PriceCondition(price=round(t.last * 3, 2), conId=c.conId, exch="SMART", isMore=True)]
    waiting = trader.placeOrder(c, never)
    trader.sleep(0.6)
    assert waiting.orderStatus.status == "PreSubmitted"


def test_stop_order_waits_for_its_trigger(trader):
    c = _stock(trader, "TSLA")
    t = trader.reqMktData(c)
    trader.sleep(0.5)
    far = trader.placeOrder(c, StopOrder("BUY", 1, round(t.last * 1.5, 2)))
    near = trader.placeOrder(c, StopOrder("BUY", 1, round(t.last * 0.5, 2)))
    trader.sleep(0.6)
    assert far.orderStatus.status == "PreSubmitted"
    assert near.orderStatus.status == "Filled"


def test_what_if_reports_margin_and_commission(trader):
    c = _stock(trader, "NVDA")
    state = trader.whatIfOrder(c, MarketOrder("BUY", 100))
    assert float(state.commission) == pytest.approx(0.35)
    assert float(state.initMarginChange) > 0 and float(state.initMarginAfter) >= float(state.initMarginBefore)
    assert not trader.openTrades()


@pytest.mark.parametrize(("order", "code"), [
    (MarketOrder("BUY", 0), 201),
    (MarketOrder("BUY", 50_000_000), 201),
    (LimitOrder("BUY", 10, 9999.0), 201),
    (Order(action="BUY", totalQuantity=1, orderType="FANCY"), 201),
])
def test_bad_orders_are_rejected_and_leave_the_account_untouched(trader, order, code):
    c = _stock(trader, "SPY")
    cash = _value(trader, "TotalCashValue")
    errors = []
    trader.errorEvent += lambda req_id, err, msg, contract: errors.append((err, msg))
    trade = trader.placeOrder(c, order)
    trader.sleep(0.4)
    assert trade.orderStatus.status == "Cancelled"
    assert any(e == code for e, _ in errors), errors
    assert _value(trader, "TotalCashValue") == cash
    assert not trader.positions() or all(p.contract.conId != c.conId for p in trader.positions())


def test_unknown_contract_order_gets_200(trader):
    errors = []
    trader.errorEvent += lambda req_id, err, msg, contract: errors.append(err)
    trader.placeOrder(Stock("NOPE", "SMART", "USD", conId=42), MarketOrder("BUY", 1))
    trader.sleep(0.3)
    assert 200 in errors


def test_restart_keeps_position_cash_and_gtc_order(tmp_path):
    state = tmp_path / "acct"
    with SimGateway(SimConfig(seed=3, tick_interval=0.05, state_dir=state)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        c = _stock(ib, "KO")
        ib.placeOrder(c, MarketOrder("BUY", 300))
        t = ib.reqMktData(c)
        ib.sleep(0.6)
        gtc = LimitOrder("BUY", 7, round(t.bid * 0.7, 2), tif="GTC")
        ib.placeOrder(c, gtc)
        ib.sleep(0.3)
        cash = _value(ib, "TotalCashValue")
        ib.disconnect()
    with SimGateway(SimConfig(seed=3, tick_interval=0.05, state_dir=state)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        ib.sleep(0.3)
        assert {p.contract.symbol: p.position for p in ib.positions()}["KO"] == 300
        assert _value(ib, "TotalCashValue") == pytest.approx(cash, abs=0.01)
        open_ids = [x.order.orderId for x in ib.openTrades()]
        assert gtc.orderId in open_ids
        assert ib.client.getReqId() > gtc.orderId  # the id sequence survived too
        ib.disconnect()
    with SimGateway(SimConfig(seed=3, state_dir=state, reset=True)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        assert not ib.positions() and not ib.openTrades()
        ib.disconnect()


def test_read_only_mode_rejects_orders(tmp_path):
    with SimGateway(SimConfig(seed=3, read_only=True)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = []
        ib.errorEvent += lambda req_id, err, msg, contract: errors.append((err, msg))
        trade = ib.placeOrder(_stock(ib, "F"), MarketOrder("BUY", 1))
        ib.sleep(0.3)
        # ib_async marks a 321 on an order as a validation error, as it does with TWS
        assert trade.orderStatus.status == "ValidationError"
        assert any(code == 321 and "Read-Only" in msg for code, msg in errors)
        assert not ib.reqAllOpenOrders()  # nothing reached the paper broker
        ib.disconnect()


def test_account_summary_tags_and_executions_filter(trader):
    c = _stock(trader, "PEP")
    trader.placeOrder(c, MarketOrder("BUY", 10))
    trader.sleep(0.5)
    summary = {v.tag: v for v in trader.accountSummary()}
    for tag in ("NetLiquidation", "TotalCashValue", "BuyingPower", "AvailableFunds", "ExcessLiquidity",
                "InitMarginReq", "MaintMarginReq", "GrossPositionValue"):
        assert tag in summary, tag
    from ib_async import ExecutionFilter

    fills = trader.reqExecutions(ExecutionFilter(symbol="PEP"))
    assert fills and all(f.contract.symbol == "PEP" for f in fills)
    assert not trader.reqExecutions(ExecutionFilter(symbol="ZZZ"))


def test_in_the_money_option_is_exercised_at_expiry():
    from ib_async import Option

    from ibxl.sim.clock import FrozenClock

    clock = FrozenClock(_time.time())
    with SimGateway(SimConfig(seed=4, tick_interval=0.05), clock=clock) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        und = _stock(ib, "AAPL")
        chain = ib.reqSecDefOptParams("AAPL", "", "STK", und.conId)[0]
        expiry = sorted(chain.expirations)[0]
        spot = ib.reqTickers(und)[0].marketPrice()
        strike = max(k for k in chain.strikes if k < spot * 0.9)
        opt = Option("AAPL", expiry, strike, "C", "SMART", tradingClass=chain.tradingClass)
        ib.qualifyContracts(opt)
        ib.placeOrder(opt, MarketOrder("BUY", 1))
        ib.sleep(0.5)
        nlv_before = _value(ib, "NetLiquidation")
        assert {p.contract.conId: p.position for p in ib.positions()}[opt.conId] == 1
        # move time past the expiry (16:00 New York on the last trading day)
        exp_ts = gw.call(lambda g: g.market.years_to_expiry(g.universe.get(opt.conId), clock.at) * 365 * 86400)
        clock.at += exp_ts + 60
        ib.sleep(1.0)
        positions = {p.contract.conId: p.position for p in ib.positions()}
        assert positions.get(opt.conId, 0) == 0
        assert positions[und.conId] == 100
        ib.sleep(3.2)
        assert _value(ib, "NetLiquidation") == pytest.approx(nlv_before, rel=0.01)
        ib.disconnect()


def _spawn_gateway(port: int, state_dir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "ibxl.sim", "--port", str(port), "--state-dir", str(state_dir),
                             "--tick-interval", "0.05", "--seed", "6"])
    deadline = _time.monotonic() + 20
    while _time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc
        except OSError:
            _time.sleep(0.1)
    proc.kill()
    raise TimeoutError("gateway did not start")


def test_killed_gateway_keeps_position_cash_and_gtc_order(tmp_path):
    import signal

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _spawn_gateway(port, tmp_path)
    try:
        ib = IB()
        ib.connect("127.0.0.1", port, clientId=1)
        c = _stock(ib, "WMT")
        ib.placeOrder(c, MarketOrder("BUY", 40))
        t = ib.reqMktData(c)
        ib.sleep(0.6)
        gtc = ib.placeOrder(c, LimitOrder("SELL", 40, round(t.ask * 1.5, 2), tif="GTC"))
        ib.sleep(0.3)
        cash = _value(ib, "TotalCashValue")
        ib.disconnect()
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown
        proc.wait(10)
    proc = _spawn_gateway(port, tmp_path)
    try:
        ib = IB()
        ib.connect("127.0.0.1", port, clientId=1)
        assert {p.contract.symbol: p.position for p in ib.positions()}["WMT"] == 40
        assert _value(ib, "TotalCashValue") == pytest.approx(cash, abs=0.01)
        assert gtc.order.orderId in [x.order.orderId for x in ib.openTrades()]
        ib.disconnect()
    finally:
        proc.kill()
        proc.wait(10)
