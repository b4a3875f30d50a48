"""The gateway answers as TWS does, seen from ib_async, ib_insync 0.9.86 and the official ibapi:
calendar-true history, one coherent market, option parameters with SMART rows, order validation
before lookup, ISLAND as NASDAQ, IDEALPRO sizes and per-order commissions, history limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections import Counter

import numpy as np
import pytest
from ib_async import IB, Crypto, Forex, Future, Index, MarketOrder, Stock
from ibapi.contract import Contract as ApiContract
from ibapi.order import Order as ApiOrder
from ibapi_app import RecordingApp

from ibxl.sim import SimConfig, SimGateway

#: a normal past Wednesday (18:00 New York), so bar counts do not depend on when tests run
PAST_END = "20251119 18:00:00 US/Eastern"


def _errors(ib) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: found.append((code, msg))
    return found


@pytest.fixture
def exchange_gateway():
    """A gateway that follows exchange hours throughout (``--hours exchange``)."""
    with SimGateway(SimConfig(seed=42, hours="exchange")) as gw:
        yield gw


@pytest.fixture
def insync(gateway, client_id):
    import ib_insync

    ib = ib_insync.IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id + 500, timeout=10)
    yield ib
    ib.disconnect()


def _api_stock(symbol: str, exchange: str = "SMART") -> ApiContract:
    c = ApiContract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", exchange, "USD"
    return c


# ------------------------------------------------------------------ calendar-true history
def test_a_year_of_daily_bars_has_about_252_sessions_in_both_hour_modes(ib, exchange_gateway, client_id):
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    always = ib.reqHistoricalData(aapl, PAST_END, "1 Y", "1 day", "TRADES", True)
    other = IB()
    other.connect(exchange_gateway.host, exchange_gateway.port, clientId=client_id, timeout=10)
    try:
        exchange = other.reqHistoricalData(aapl, PAST_END, "1 Y", "1 day", "TRADES", True)
    finally:
        other.disconnect()
    for bars in (always, exchange):
        assert 248 <= len(bars) <= 254
        days = [b.date for b in bars]
        assert all(d.weekday() < 5 for d in days), "no weekend bars"
        assert dt.date(2024, 12, 25) not in days and dt.date(2025, 7, 4) not in days, "no NYSE holidays"
    assert [b.date for b in always] == [b.date for b in exchange]


def test_sixty_days_of_hourly_rth_bars_are_seven_a_session(ib):
    tsla = Stock("TSLA", "SMART", "USD")
    ib.qualifyContracts(tsla)
    bars = ib.reqHistoricalData(tsla, PAST_END, "60 D", "1 hour", "TRADES", True, formatDate=1)
    per_day = Counter(b.date.date() for b in bars)
    assert len(per_day) == 60
    assert set(per_day.values()) == {7}
    first = [b.date for b in bars if b.date.date() == dt.date(2025, 11, 19)]
    assert [d.strftime("%H:%M") for d in first] == ["09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]


def test_early_close_on_the_day_after_thanksgiving(ib, insync):
    end = "20251128 20:00:00 US/Eastern"
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    hours = ib.reqHistoricalData(aapl, end, "1 D", "1 hour", "TRADES", True)
    assert [b.date.strftime("%Y%m%d %H:%M") for b in hours] == [
        "20251128 09:30", "20251128 10:00", "20251128 11:00", "20251128 12:00"]
    import ib_insync as ibi

    c = ibi.Stock("AAPL", "SMART", "USD")
    insync.qualifyContracts(c)
    daily = insync.reqHistoricalData(c, end, "5 D", "1 day", "TRADES", True)
    assert dt.date(2025, 11, 27) not in [b.date for b in daily]  # Thanksgiving: closed
    assert daily[-1].date == dt.date(2025, 11, 28)
    # the details' liquid hours show the 13:00 close too
    details = ib.reqContractDetails(aapl)[0]
    assert details.timeZoneId == "US/Eastern"


def test_bars_are_strictly_increasing_across_the_dst_change(ib, gateway, client_id):
    btc = Crypto("BTC", "PAXOS", "USD")
    ib.qualifyContracts(btc)
    end = "20251102 12:00:00 UTC"  # New York left daylight time at 02:00 that morning
    for fmt in (1, 2):
        bars = ib.reqHistoricalData(btc, end, "1 D", "1 hour", "MIDPOINT", False, formatDate=fmt)
        moments = [b.date.timestamp() for b in bars]
        assert len(bars) == 24 and all(b > a for a, b in zip(moments, moments[1:], strict=False))
    # the official client sees the text: the repeated 01:00 names its fixed offset
    app = RecordingApp().start(gateway.host, gateway.port, client_id + 2000)
    try:
        c = ApiContract()
        c.symbol, c.secType, c.exchange, c.currency = "BTC", "CRYPTO", "PAXOS", "USD"
        app.reqHistoricalData(1, c, end, "1 D", "1 hour", "MIDPOINT", 0, 1, False, [])
        app.wait_for("historicalDataEnd", lambda a: a[0] == 1)
        texts = [a[1].date for a in app.events["historicalData"] if a[0] == 1]
    finally:
        app.stop()
    assert len(texts) == len(set(texts)) == 24
    assert "20251102 01:00:00 US/Eastern" in texts and "20251102 01:00:00 Etc/GMT+5" in texts


# ------------------------------------------------------------------ one market
def test_spy_is_a_tenth_of_spx_and_qqq_tracks_ndx(ib):
    spx, spy = Index("SPX", "CBOE", "USD"), Stock("SPY", "SMART", "USD")
    ndx, qqq = Index("NDX", "NASDAQ", "USD"), Stock("QQQ", "SMART", "USD")
    ib.qualifyContracts(spx, spy, ndx, qqq)
    for a, b, ratio in ((spy, spx, 10.0), (qqq, ndx, 41.0)):
        ea = ib.reqHistoricalData(a, PAST_END, "1 Y", "1 day", "TRADES", True)
        eb = ib.reqHistoricalData(b, PAST_END, "1 Y", "1 day", "TRADES", True)
        assert [x.date for x in ea] == [x.date for x in eb]
        assert all(abs(x.close * ratio / y.close - 1) < 0.005 for x, y in zip(ea, eb, strict=True))
        ia = ib.reqHistoricalData(a, PAST_END, "2 D", "5 mins", "TRADES", False)
        ib_ = {x.date: x for x in ib.reqHistoricalData(b, PAST_END, "2 D", "5 mins", "TRADES", False)}
        shared = [(x, ib_[x.date]) for x in ia if x.date in ib_]
        assert len(shared) > 100
        assert all(abs(x.close * ratio / y.close - 1) < 0.005 for x, y in shared)
    tickers = ib.reqTickers(spy, spx)
    assert abs(tickers[0].marketPrice() * 10 / tickers[1].marketPrice() - 1) < 0.005
    # the E-mini future follows SPX with its carry (a small premium that shrinks to expiry)
    es = ib.reqContractDetails(Future("ES", exchange="CME"))[0].contract
    es_bars = ib.reqHistoricalData(es, PAST_END, "5 D", "1 day", "TRADES", True)
    spx_bars = {b.date: b for b in ib.reqHistoricalData(spx, PAST_END, "5 D", "1 day", "TRADES", True)}
    shared = [(b, spx_bars[b.date]) for b in es_bars if b.date in spx_bars]
    assert shared and all(0 <= b.close / s.close - 1 < 0.08 for b, s in shared)


def test_daily_returns_show_the_market_factor(ib):
    syms = {s: Stock(s, "SMART", "USD") for s in ("SPY", "QQQ", "KO", "NVDA")}
    vix = Index("VIX", "CBOE", "USD")
    ib.qualifyContracts(*syms.values(), vix)

    def returns(c) -> np.ndarray:
        closes = np.array([b.close for b in ib.reqHistoricalData(c, PAST_END, "1 Y", "1 day", "TRADES", True)])
        return np.diff(np.log(closes))

    r = {s: returns(c) for s, c in syms.items()}
    assert np.corrcoef(r["SPY"], r["QQQ"])[0, 1] > 0.6
    beta = {s: np.cov(r[s], r["SPY"])[0, 1] / r["SPY"].var() for s in ("KO", "NVDA")}
    assert beta["NVDA"] > 1.2 and beta["KO"] < 0.9, beta
    assert np.corrcoef(r["SPY"], returns(vix))[0, 1] < -0.4


def test_index_ticker_has_no_bid_or_ask(ib):
    spx = Index("SPX", "CBOE", "USD")
    ib.qualifyContracts(spx)
    t = ib.reqMktData(spx)
    ib.sleep(1.0)
    ib.cancelMktData(spx)
    assert not t.hasBidAsk() and t.bidSize in (0, 0.0) or math.isnan(t.bidSize)
    assert t.last > 1000
    assert t.marketPrice() == t.last


# ------------------------------------------------------------------ option parameters
def test_spx_option_parameters_have_the_four_rows(ib, insync, gateway, client_id):
    spx = Index("SPX", "CBOE", "USD")
    ib.qualifyContracts(spx)
    rows = {(c.exchange, c.tradingClass) for c in ib.reqSecDefOptParams("SPX", "", "IND", spx.conId)}
    assert rows == {("SMART", "SPX"), ("CBOE", "SPXW"), ("SMART", "SPXW"), ("CBOE", "SPX")}
    aapl = insync.qualifyContracts(__import__("ib_insync").Stock("AAPL", "SMART", "USD"))[0]
    exchanges = {c.exchange for c in insync.reqSecDefOptParams("AAPL", "", "STK", aapl.conId)}
    assert "SMART" in exchanges and "CBOE" in exchanges
    app = RecordingApp().start(gateway.host, gateway.port, client_id + 2000)
    try:
        app.reqSecDefOptParams(7, "SPX", "", "IND", spx.conId)
        app.wait_for("secDefOptParamsEnd", lambda a: a[0] == 7)
        got = {(a[1], a[2]) for a in app.events["secDefOptParams"] if a[0] == 7}
    finally:
        app.stop()
    assert ("SMART", "SPX") in got and len(got) == 4


# ------------------------------------------------------------------ orders
def test_order_and_what_if_without_exchange_get_321(ib, insync, gateway, client_id):
    errors = _errors(ib)
    ib.placeOrder(Stock("XXX"), MarketOrder("BUY", 1))
    # ib_async waits for a what-if's openOrder, which a refused order never gets: bound the wait
    with pytest.raises(asyncio.TimeoutError):
        ib.run(asyncio.wait_for(ib.whatIfOrderAsync(Stock("XXX"), MarketOrder("BUY", 1)), 1.0))
    ib.sleep(0.3)
    assert [code for code, _ in errors].count(321) >= 2
    assert any("Missing order exchange" in msg for code, msg in errors if code == 321)
    import ib_insync as ibi

    ierrors = _errors(insync)
    insync.placeOrder(ibi.Stock("XXX"), ibi.MarketOrder("BUY", 1))
    insync.sleep(0.3)
    assert 321 in [code for code, _ in ierrors]
    app = RecordingApp().start(gateway.host, gateway.port, client_id + 2000)
    try:
        c = ApiContract()
        c.symbol, c.secType, c.currency = "XXX", "STK", "USD"
        order = ApiOrder()
        order.action, order.orderType, order.totalQuantity, order.whatIf = "BUY", "MKT", 1, True
        oid = app.events["nextValidId"][0][0]
        app.placeOrder(oid, c, order)
        args = app.wait_for("error", lambda a: a[0] == oid)
    finally:
        app.stop()
    assert args[1] == 321 and "Missing order exchange" in args[2]


def test_island_is_nasdaq(ib, insync):
    plain = Stock("MSFT", "SMART", "USD", primaryExchange="NASDAQ")
    island = Stock("MSFT", "SMART", "USD", primaryExchange="ISLAND")
    ib.qualifyContracts(plain, island)
    assert island.conId == plain.conId == 272093
    import ib_insync as ibi

    c = ibi.Stock("MSFT", "SMART", "USD", primaryExchange="ISLAND")
    assert insync.qualifyContracts(c) and c.conId == 272093


def test_forex_market_order_fills_at_once_with_one_commission(tmp_path, client_id):
    with SimGateway(SimConfig(seed=42, tick_interval=0.05, state_dir=tmp_path / "state")) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=client_id, timeout=10)
        try:
            eur = Forex("EURUSD")
            ib.qualifyContracts(eur)
            t = ib.reqMktData(eur)
            ib.sleep(0.5)
            assert t.bidSize >= 100_000 and t.askSize >= 100_000
            start = time.monotonic()
            trade = ib.placeOrder(eur, MarketOrder("BUY", 20_000))
            while not trade.isDone() and time.monotonic() - start < 10.0:
                ib.sleep(0.02)
            assert trade.orderStatus.status == "Filled"
            ib.sleep(0.3)
            assert len(trade.fills) == 1
            assert sum(f.commissionReport.commission for f in trade.fills) == pytest.approx(2.0)
        finally:
            ib.disconnect()


# ------------------------------------------------------------------ history limits
def test_small_bars_older_than_six_months_get_162(ib, insync, gateway, client_id):
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    errors = _errors(ib)
    assert len(ib.reqHistoricalData(aapl, "20250102 16:00:00 US/Eastern", "1800 S", "1 secs", "TRADES", True,
                                    timeout=3)) == 0
    ib.sleep(0.2)
    assert any(code == 162 and "six months" in msg for code, msg in errors)
    import ib_insync as ibi

    ierrors = _errors(insync)
    c = ibi.Stock("AAPL", "SMART", "USD")
    insync.qualifyContracts(c)
    assert len(insync.reqHistoricalData(c, "20250102 16:00:00 US/Eastern", "600 S", "5 secs", "MIDPOINT", True,
                                        timeout=3)) == 0
    assert 162 in [code for code, _ in ierrors]
    app = RecordingApp().start(gateway.host, gateway.port, client_id + 2000)
    try:
        app.reqHistoricalData(3, _api_stock("AAPL"), "20250102 16:00:00 US/Eastern", "300 S", "30 secs",
                              "TRADES", 1, 1, False, [])
        args = app.wait_for("error", lambda a: a[0] == 3)
    finally:
        app.stop()
    assert args[1] == 162 and "Historical Market Data Service error message:" in args[2]
