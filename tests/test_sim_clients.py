"""ib_insync 0.9.86 and the official ibapi against the embedded gateway: connect, qualify,
stream quotes, fetch history, option parameters and the documented error for bad input."""

from __future__ import annotations

import pytest
from ibapi.contract import Contract as ApiContract
from ibapi_app import RecordingApp


@pytest.fixture
def insync(gateway, client_id):
    import ib_insync

    ib = ib_insync.IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id, timeout=10)
    yield ib
    ib.disconnect()


def test_ib_insync_end_to_end(insync):
    import ib_insync as ibi

    assert insync.managedAccounts() == ["DU1234567"]
    c = ibi.Stock("AAPL", "SMART", "USD")
    insync.qualifyContracts(c)
    assert c.conId == 265598
    t = insync.reqMktData(c)
    insync.sleep(1.0)
    assert 0 < t.bid < t.ask and t.last > 0
    bars = insync.reqHistoricalData(c, "", "5 D", "1 hour", "TRADES", True)
    assert len(bars) > 20 and bars[-1].close > 0
    params = insync.reqSecDefOptParams("AAPL", "", "STK", c.conId)
    assert params and params[0].expirations and params[0].strikes
    errors = []
    insync.errorEvent += lambda *a: errors.append(a[1])
    assert insync.qualifyContracts(ibi.Stock("NOSUCH", "SMART", "USD")) == []
    insync.sleep(0.2)
    assert 200 in errors
    insync.cancelMktData(c)


def _stock(symbol: str) -> ApiContract:
    c = ApiContract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def test_official_ibapi_end_to_end(gateway, client_id):
    app = RecordingApp().start(gateway.host, gateway.port, client_id)
    try:
        assert app.wait_for("managedAccounts")[0] == "DU1234567"
        app.reqContractDetails(1, _stock("MSFT"))
        _, details = app.wait_for("contractDetails", lambda a: a[0] == 1)
        assert details.contract.conId == 272093 and details.minTick == 0.01
        app.wait_for("contractDetailsEnd", lambda a: a[0] == 1)

        app.reqMktData(2, _stock("MSFT"), "", False, False, [])
        _, _, bid = app.wait_for("tickPrice", lambda a: a[0] == 2 and a[1] == 1)
        _, _, ask = app.wait_for("tickPrice", lambda a: a[0] == 2 and a[1] == 2)
        assert 0 < bid < ask
        app.wait_for("tickSize", lambda a: a[0] == 2 and a[1] == 8)  # volume
        app.cancelMktData(2)

        app.reqHistoricalData(3, _stock("MSFT"), "", "2 D", "30 mins", "MIDPOINT", 1, 1, False, [])
        app.wait_for("historicalDataEnd", lambda a: a[0] == 3)
        bars = [a[1] for a in app.events["historicalData"] if a[0] == 3]
        assert len(bars) >= 13 and all(b.low <= b.close <= b.high for b in bars)

        app.reqSecDefOptParams(4, "MSFT", "", "STK", 272093)
        app.wait_for("secDefOptParamsEnd", lambda a: a[0] == 4)
        _, exch, tclass, expirations, strikes = app.wait_for("secDefOptParams", lambda a: a[0] == 4)
        assert exch == "SMART" and expirations and strikes

        app.reqContractDetails(5, _stock("ZZZZZ"))
        assert app.wait_for("error", lambda a: a[0] == 5)[1] == 200
    finally:
        app.stop()


def test_ib_insync_trades_on_the_paper_broker(tmp_path):
    import ib_insync as ibi

    from ibxl.sim import SimConfig, SimGateway

    with SimGateway(SimConfig(seed=8, tick_interval=0.05, state_dir=tmp_path)) as gw:
        ib = ibi.IB()
        ib.connect(gw.host, gw.port, clientId=3)
        c = ibi.Stock("AMD", "SMART", "USD")
        ib.qualifyContracts(c)
        t = ib.reqMktData(c)
        ib.sleep(0.5)
        resting = ib.placeOrder(c, ibi.LimitOrder("BUY", 10, round(t.bid * 0.9, 2)))
        ib.sleep(0.3)
        assert resting.orderStatus.status == "Submitted"
        resting.order.lmtPrice = round(t.bid * 0.92, 2)
        ib.placeOrder(c, resting.order)
        ib.sleep(0.3)
        ib.cancelOrder(resting.order)
        ib.sleep(0.3)
        assert resting.orderStatus.status == "Cancelled"
        filled = ib.placeOrder(c, ibi.MarketOrder("BUY", 50))
        ib.sleep(0.6)
        assert filled.orderStatus.status == "Filled"
        assert sum(f.commissionReport.commission for f in filled.fills) > 0
        assert {p.contract.symbol: p.position for p in ib.positions()}["AMD"] == 50
        pnl = ib.reqPnL("DU1234567")
        ib.sleep(1.2)
        assert pnl.unrealizedPnL == pnl.unrealizedPnL  # a number, not NaN
        nlv = [v for v in ib.accountValues() if v.tag == "NetLiquidation" and v.currency == "USD"]
        assert nlv and float(nlv[0].value) > 0
        ib.disconnect()


def test_official_ibapi_trades_on_the_paper_broker(tmp_path):
    from ibapi.order import Order as ApiOrder

    from ibxl.sim import SimConfig, SimGateway

    with SimGateway(SimConfig(seed=8, tick_interval=0.05, state_dir=tmp_path)) as gw:
        app = RecordingApp().start(gw.host, gw.port, 4)
        try:
            oid = app.wait_for("nextValidId")[0]
            app.reqAccountUpdates(True, "DU1234567")
            app.reqPositions()
            app.reqPnL(70, "DU1234567", "")
            order = ApiOrder()
            order.action, order.orderType, order.totalQuantity, order.lmtPrice = "BUY", "LMT", 20, 1.0
            app.placeOrder(oid, _stock("CSCO"), order)
            app.wait_for("orderStatus", lambda a: a[0] == oid and a[1] == "Submitted")
            order.lmtPrice = 2.0  # modify by re-placing the same id
            app.placeOrder(oid, _stock("CSCO"), order)
            app.wait_for("openOrder", lambda a: a[0] == oid and a[2].lmtPrice == 2.0)
            from ibapi.order_cancel import OrderCancel

            app.cancelOrder(oid, OrderCancel())
            app.wait_for("orderStatus", lambda a: a[0] == oid and a[1] == "Cancelled")
            mkt = ApiOrder()
            mkt.action, mkt.orderType, mkt.totalQuantity = "BUY", "MKT", 30
            app.placeOrder(oid + 1, _stock("CSCO"), mkt)
            app.wait_for("orderStatus", lambda a: a[0] == oid + 1 and a[1] == "Filled")
            _, contract, execution = app.wait_for("execDetails", lambda a: a[2].orderId == oid + 1)
            assert contract.symbol == "CSCO" and execution.shares > 0
            report = app.wait_for("commission")[0]
            assert report.commissionAndFees > 0
            app.wait_for("position", lambda a: a[1] == "CSCO" and a[2] == 30)
            app.wait_for("accountValue", lambda a: a[0] == "NetLiquidation")
            app.wait_for("pnl", lambda a: a[0] == 70)
        finally:
            app.stop()
