"""Historical data from the embedded gateway: bar sizes, data types, date formats, RTH,
keepUpToDate, head timestamps, historical ticks, and IB's pacing rules."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, Crypto, Forex, Index, Option, Stock
from ibapi_app import RecordingApp

from ibxl.sim import SimConfig, SimGateway


@pytest.fixture
def aapl(ib):
    c = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(c)
    return c


PAST_END = "20251119 18:00:00 US/Eastern"

@pytest.mark.parametrize(("duration", "bar", "what", "min_bars"), [
    ("1 Y", "1 day", "TRADES", 245), ("2 D", "5 mins", "TRADES", 350), ("1800 S", "1 secs", "MIDPOINT", 1800),
    ("5 D", "1 hour", "BID_ASK", 75), ("2 Y", "1 week", "TRADES", 100), ("6 M", "1 month", "TRADES", 6),
    ("1 D", "1 min", "BID", 840), ("1 D", "1 min", "ASK", 840), ("1 Y", "1 day", "HISTORICAL_VOLATILITY", 245),
    ("1 Y", "1 day", "OPTION_IMPLIED_VOLATILITY", 245), ("1 M", "1 day", "ADJUSTED_LAST", 20),
])
def test_bar_sizes_and_data_types(ib, aapl, duration, bar, what, min_bars):
    # a fixed past Wednesday (18:00 New York) makes the counts independent of when the test runs;
    # bars of 30 seconds or less older than six months are refused, so those end now
    end = "" if bar == "1 secs" or what == "ADJUSTED_LAST" else PAST_END
    bars = ib.reqHistoricalData(aapl, end, duration, bar, what, False)
    assert len(bars) >= min_bars
    for b in bars:
        assert b.low <= b.open <= b.high or what == "BID_ASK"
        assert b.low <= b.close <= b.high or what == "BID_ASK"
    assert [b.date for b in bars] == sorted(b.date for b in bars)


def test_last_bar_agrees_with_live_price(ib, aapl):
    t = ib.reqMktData(aapl)
    ib.sleep(0.6)
    bars = ib.reqHistoricalData(aapl, "", "1 D", "1 min", "TRADES", False)
    daily = ib.reqHistoricalData(aapl, "", "5 D", "1 day", "TRADES", False)
    assert abs(bars[-1].close - t.last) / t.last < 0.002
    assert abs(daily[-1].close - t.last) / t.last < 0.002
    # the day's high covers every minute of that day (the last hour may reach back into yesterday)
    eastern = ZoneInfo("US/Eastern")
    today = [b.high for b in bars[-60:] if b.date.astimezone(eastern).date() == daily[-1].date]
    assert daily[-1].high >= max(today) - 0.01
    ib.cancelMktData(aapl)


def test_same_seed_same_history():
    closes = []
    for _ in range(2):
        with SimGateway(SimConfig(seed=11)) as gw:
            ib = IB()
            ib.connect(gw.host, gw.port, clientId=1)
            c = Stock("MSFT", "SMART", "USD")
            ib.qualifyContracts(c)
            bars = ib.reqHistoricalData(c, "20250601 16:00:00 US/Eastern", "3 M", "1 day", "TRADES", True)
            closes.append([b.close for b in bars])
            ib.disconnect()
    assert closes[0] == closes[1] and len(closes[0]) > 50


def test_format_date_2_and_explicit_end(ib, aapl):
    end = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    bars = ib.reqHistoricalData(aapl, end, "3600 S", "5 mins", "TRADES", False, formatDate=2)
    assert len(bars) == 12
    assert bars[-1].date.tzinfo is not None and bars[-1].date < end
    assert bars[0].date >= end - dt.timedelta(hours=1)


def test_rth_with_exchange_hours():
    with SimGateway(SimConfig(seed=5, hours="exchange")) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        c = Stock("IBM", "SMART", "USD")
        ib.qualifyContracts(c)
        end = "20260302 23:00:00 US/Eastern"  # a Monday
        rth = ib.reqHistoricalData(c, end, "1 D", "30 mins", "TRADES", True)
        full = ib.reqHistoricalData(c, end, "1 D", "30 mins", "TRADES", False)
        assert len(rth) == 13 and len(full) == 32
        assert rth[0].date.hour == 9 and rth[0].date.minute == 30
        weekly = ib.reqHistoricalData(c, end, "2 W", "1 day", "TRADES", True)
        assert all(b.date.weekday() < 5 for b in weekly) and len(weekly) == 10
        ib.disconnect()


def test_keep_up_to_date_streams_the_current_bar(ib, aapl):
    bars = ib.reqHistoricalData(aapl, "", "1800 S", "5 secs", "TRADES", False, keepUpToDate=True)
    updates = []
    bars.updateEvent += lambda b, has_new: updates.append(has_new)
    ib.sleep(3.0)
    assert updates, "keepUpToDate sends updates"
    ib.cancelHistoricalData(bars)


def test_head_timestamp_and_historical_ticks(ib, aapl):
    head = ib.reqHeadTimeStamp(aapl, "TRADES", True)
    assert head.year == 2010
    now = dt.datetime.now(dt.UTC)
    last = ib.reqHistoricalTicks(aapl, "", now, 50, "TRADES", False)
    quotes = ib.reqHistoricalTicks(aapl, "", now, 20, "BID_ASK", False)
    mids = ib.reqHistoricalTicks(aapl, now - dt.timedelta(minutes=5), "", 30, "MIDPOINT", False)
    assert len(last) == 50 and all(t.size > 0 for t in last)
    assert len(quotes) == 20 and all(q.priceBid < q.priceAsk for q in quotes)
    assert len(mids) == 30 and mids[0].time < mids[-1].time


def _errors(ib: IB) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: out.append((code, msg))
    return out


def test_bad_requests_get_tws_errors(ib, aapl):
    errors = _errors(ib)
    fx = Forex("EURUSD")
    ib.qualifyContracts(fx)
    assert len(ib.reqHistoricalData(fx, "", "1 D", "1 hour", "TRADES", True)) == 0
    assert len(ib.reqHistoricalData(aapl, "", "1 D", "1 hour", "VOLUME", True, timeout=2)) == 0
    assert len(ib.reqHistoricalData(aapl, "", "2 D", "1 secs", "TRADES", True)) == 0
    ib.sleep(0.2)
    codes = [c for c, _ in errors]
    assert codes.count(162) >= 2 and 321 in codes
    assert any("Time length exceed max" in m for _, m in errors)


def test_pacing_rules():
    with SimGateway(SimConfig(seed=9)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = _errors(ib)
        c = Stock("AMD", "SMART", "USD")
        ib.qualifyContracts(c)
        ok = ib.reqHistoricalData(c, "", "60 S", "1 secs", "TRADES", False)
        assert len(ok) == 60
        assert len(ib.reqHistoricalData(c, "", "60 S", "1 secs", "TRADES", False)) == 0  # identical within 15 s
        for n in range(6):  # six for one contract within two seconds
            ib.reqHistoricalData(c, "", f"{61 + n} S", "1 secs", "TRADES", False)
        ib.sleep(0.2)
        texts = [m for code, m in errors if code == 162]
        assert any("identical request" in t for t in texts)
        assert any("within 2 seconds" in t for t in texts)
        # daily bars are not paced by the small-bar rules
        for n in range(8):
            assert ib.reqHistoricalData(c, "", f"{n + 1} M", "1 day", "TRADES", True)
        ib.disconnect()


def test_sixty_requests_in_ten_minutes():
    cfg = SimConfig(seed=9)
    cfg.limits.hist_requests_per_10min = 5
    with SimGateway(cfg) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = _errors(ib)
        syms = ["AAPL", "MSFT", "IBM", "AMD", "INTC", "TSLA"]
        contracts = [Stock(s, "SMART", "USD") for s in syms]
        ib.qualifyContracts(*contracts)
        results = [ib.reqHistoricalData(c, "", "30 S", "1 secs", "MIDPOINT", False) for c in contracts]
        assert [len(r) for r in results[:5]] == [30] * 5 and len(results[5]) == 0
        assert any("within 10 minutes" in m for code, m in errors if code == 162)
        ib.disconnect()


# ---------------------------------------------------------------------------------------------
# one story: history against the tape, contract types, errors in TWS's words, the other clients
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_gateway():
    """A gateway of this module's own, so that pacing state from other test files cannot interfere."""
    with SimGateway(SimConfig(seed=21)) as gw:
        yield gw


@pytest.fixture
def hib(own_gateway, client_id):
    ib = IB()
    ib.connect(own_gateway.host, own_gateway.port, clientId=client_id)
    yield ib
    ib.disconnect()


def test_five_second_bars_add_up_the_tape(hib):
    c = Stock("MSFT", "SMART", "USD")
    hib.qualifyContracts(c)
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=20)
    end -= dt.timedelta(seconds=end.second % 5)
    bars = hib.reqHistoricalData(c, end, "60 S", "5 secs", "TRADES", False, formatDate=2)
    ticks = hib.reqHistoricalTicks(c, end - dt.timedelta(seconds=61), "", 1000, "TRADES", False)
    assert len(bars) == 12 and len(ticks) > 30
    by_second = {t.time: t for t in ticks}
    for b in bars:
        inside = [t for t in ticks if b.date < t.time <= b.date + dt.timedelta(seconds=5)]
        assert b.volume == sum(t.size for t in inside), b
        assert b.barCount == len(inside)
        close_tick = by_second.get(b.date + dt.timedelta(seconds=5))
        if close_tick is not None:
            assert b.close == close_tick.price
        assert all(b.low - 1e-9 <= t.price <= b.high + 1e-9 for t in inside)


def test_minute_bars_agree_with_hourly_and_daily(hib):
    c = Stock("NVDA", "SMART", "USD")
    hib.qualifyContracts(c)
    end = dt.datetime(2025, 11, 19, 20, 0, tzinfo=dt.UTC)  # 15:00 New York, inside a session
    minutes = hib.reqHistoricalData(c, end, "7200 S", "1 min", "TRADES", False, formatDate=2)
    hours = hib.reqHistoricalData(c, end, "7200 S", "1 hour", "TRADES", False, formatDate=2)
    assert len(minutes) == 120 and len(hours) == 2
    for h, chunk in zip(hours, (minutes[:60], minutes[60:]), strict=True):
        assert h.open == chunk[0].open and h.close == chunk[-1].close
        assert h.high == max(b.high for b in chunk) and h.low == min(b.low for b in chunk)
        assert h.volume == sum(b.volume for b in chunk)


def test_quote_types_are_consistent(hib):
    c = Stock("INTC", "SMART", "USD")
    hib.qualifyContracts(c)
    kinds = {w: hib.reqHistoricalData(c, "", "3600 S", "5 mins", w, False) for w in ("BID", "ASK", "MIDPOINT")}
    for bid, ask, mid in zip(kinds["BID"], kinds["ASK"], kinds["MIDPOINT"], strict=True):
        assert bid.close < ask.close and abs(mid.close - (bid.close + ask.close) / 2) < 1e-6
        assert round(bid.close * 100, 6).is_integer() and round(ask.close * 100, 6).is_integer()
        assert bid.volume == -1 and bid.barCount == -1


def test_forex_index_option_crypto(hib):
    errors = _errors(hib)
    fx, spx, btc = Forex("EURUSD"), Index("SPX", "CBOE", "USD"), Crypto("BTC", "PAXOS", "USD")
    hib.qualifyContracts(fx, spx, btc)
    mids = hib.reqHistoricalData(fx, "20251119 12:00:00 US/Eastern", "1 D", "1 hour", "MIDPOINT", False)
    assert len(mids) >= 18 and all(b.volume == -1 and 0.5 < b.close < 2 for b in mids)
    assert len(hib.reqHistoricalData(fx, "", "1 D", "1 hour", "TRADES", False)) == 0
    idx = hib.reqHistoricalData(spx, "", "5 D", "1 day", "TRADES", True)
    assert len(idx) == 5 and all(b.volume == 0 for b in idx)
    assert len(hib.reqHistoricalData(spx, "", "1 D", "1 hour", "BID", False)) == 0
    coins = hib.reqHistoricalData(btc, "", "1 D", "1 hour", "AGGTRADES", False)
    assert len(coins) >= 20 and coins[-1].close > 1000
    chain = hib.reqSecDefOptParams("SPY", "", "STK", Stock("SPY", "SMART", "USD").conId or
                                   hib.qualifyContracts(Stock("SPY", "SMART", "USD"))[0].conId)[0]
    strike = sorted(chain.strikes)[len(chain.strikes) // 2]
    opt = Option("SPY", sorted(chain.expirations)[2], strike, "C", "SMART")
    hib.qualifyContracts(opt)
    obars = hib.reqHistoricalData(opt, "", "5 D", "1 hour", "MIDPOINT", False)
    assert len(obars) >= 24 and all(0 < b.low <= b.close <= b.high for b in obars)
    hib.sleep(0.2)
    texts = [m for code, m in errors if code == 162]
    assert any("No historical market data for EUR/CASH@FXSUBPIP Last 3600" in t for t in texts)
    assert any("SPX/IND" in t and "Bid" in t for t in texts)


def test_tws_error_codes_and_texts(hib):
    errors = _errors(hib)
    c = Stock("AAPL", "SMART", "USD")
    hib.qualifyContracts(c)
    # 321 is a warning to ib_async, which then waits out the timeout: keep it short
    assert len(hib.reqHistoricalData(c, "", "1 D", "7 mins", "TRADES", False, timeout=1)) == 0
    assert len(hib.reqHistoricalData(c, "", "1 X", "1 hour", "TRADES", False, timeout=1)) == 0
    assert len(hib.reqHistoricalData(c, "2025-06-01", "1 D", "1 hour", "TRADES", False, timeout=1)) == 0
    assert len(hib.reqHistoricalData(c, "", "3 D", "1 secs", "TRADES", False)) == 0
    assert len(hib.reqHistoricalData(Stock("NOSUCH", "SMART", "USD"), "", "1 D", "1 hour", "TRADES", False)) == 0
    hib.sleep(0.2)
    assert any(code == 321 and "bar size setting is invalid" in m and "1 secs, 5 secs" in m for code, m in errors)
    assert any(code == 321 and "duration format is invalid" in m and "'1 X'" in m for code, m in errors)
    assert any(code == 321 and "'2025-06-01' is invalid" in m for code, m in errors)
    assert any(code == 162 and m.startswith("Historical Market Data Service error message:Time length exceed max")
               for code, m in errors)
    assert any(code == 200 for code, _ in errors)


def test_histogram_and_cancelled_head_timestamp(hib):
    c = Stock("AMD", "SMART", "USD")
    hib.qualifyContracts(c)
    hist = hib.reqHistogramData(c, True, "1 week")
    assert len(hist) > 3 and all(h.count > 0 for h in hist)
    assert [h.price for h in hist] == sorted(h.price for h in hist)
    errors = _errors(hib)
    req_id = hib.client.getReqId()
    hib.client.reqHeadTimeStamp(req_id, c, "TRADES", True, 2)
    hib.client.cancelHeadTimeStamp(req_id)
    hib.client.cancelHistogramData(req_id)
    hib.client.reqHistogramData(hib.client.getReqId(), c, True, "3 fortnights")
    hib.sleep(0.3)
    assert any(code == 321 and "timePeriod" in m for code, m in errors)
    assert not any(code in (320, 322) for code, _ in errors)


def test_keep_up_to_date_cancel_and_open_request_limit():
    cfg = SimConfig(seed=4)
    cfg.limits.hist_open_requests = 2
    with SimGateway(cfg) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = _errors(ib)
        c = Stock("TSLA", "SMART", "USD")
        ib.qualifyContracts(c)
        first = ib.reqHistoricalData(c, "", "300 S", "5 secs", "TRADES", False, keepUpToDate=True)
        second = ib.reqHistoricalData(c, "", "1 D", "1 min", "MIDPOINT", False, keepUpToDate=True)
        assert first and second
        assert len(ib.reqHistoricalData(c, "", "2 D", "1 hour", "TRADES", False, keepUpToDate=True)) == 0
        ib.sleep(0.2)
        assert any(code == 162 and "pacing violation" in m and "already open" in m for code, m in errors)
        ib.cancelHistoricalData(first)
        n = len(first)
        last = first[-1]
        ib.sleep(1.5)
        assert len(first) == n and first[-1] == last, "no updates after cancel"
        third = ib.reqHistoricalData(c, "", "2 D", "1 hour", "TRADES", False, keepUpToDate=True)
        assert third, "a slot is free again after the cancel"
        ib.disconnect()


def test_bid_ask_counts_twice():
    cfg = SimConfig(seed=9)
    cfg.limits.hist_requests_per_10min = 3
    with SimGateway(cfg) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = _errors(ib)
        a, m = Stock("AAPL", "SMART", "USD"), Stock("MSFT", "SMART", "USD")
        ib.qualifyContracts(a, m)
        assert ib.reqHistoricalData(a, "", "60 S", "1 secs", "BID_ASK", False)
        assert ib.reqHistoricalData(m, "", "60 S", "1 secs", "TRADES", False)
        assert len(ib.reqHistoricalData(m, "", "60 S", "1 secs", "MIDPOINT", False)) == 0
        ib.sleep(0.2)
        assert any(m.startswith("Historical Market Data Service error message:Historical data request pacing "
                                "violation") for code, m in errors if code == 162)
        ib.disconnect()


def test_ib_insync_history(own_gateway, client_id):
    import ib_insync as ibi

    ib = ibi.IB()
    ib.connect(own_gateway.host, own_gateway.port, clientId=client_id, timeout=10)
    try:
        c = ibi.Stock("IBM", "SMART", "USD")
        ib.qualifyContracts(c)
        daily = ib.reqHistoricalData(c, "", "1 M", "1 day", "TRADES", True)
        minute = ib.reqHistoricalData(c, PAST_END, "3600 S", "1 min", "TRADES", False, formatDate=2)
        secs = ib.reqHistoricalData(c, "", "120 S", "5 secs", "BID_ASK", False)
        assert len(daily) >= 20 and isinstance(daily[-1].date, dt.date)
        assert len(minute) >= 60 and minute[-1].date.tzinfo is not None
        assert len(secs) >= 24
        head = ib.reqHeadTimeStamp(c, "TRADES", True)
        assert head.year == 2010
        ticks = ib.reqHistoricalTicks(c, "", dt.datetime.now(dt.UTC), 100, "BID_ASK", False)
        assert len(ticks) == 100 and all(t.priceBid < t.priceAsk for t in ticks)
        # crypto trades around the clock, so the forming bar moves whenever this test runs
        btc = ibi.Crypto("BTC", "PAXOS", "USD")
        ib.qualifyContracts(btc)
        live = ib.reqHistoricalData(btc, "", "600 S", "5 secs", "MIDPOINT", False, keepUpToDate=True)
        seen = []
        live.updateEvent += lambda bars, new: seen.append(bars[-1].close)
        ib.sleep(3.0)
        assert seen
        ib.cancelHistoricalData(live)
    finally:
        ib.disconnect()


class _HistoryApp(RecordingApp):
    """The official client's callbacks for history, recorded like the others."""

    def historicalDataUpdate(self, reqId, bar):
        self._rec("historicalDataUpdate", reqId, bar)

    def headTimestamp(self, reqId, headTimestamp):
        self._rec("headTimestamp", reqId, headTimestamp)

    def historicalTicksLast(self, reqId, ticks, done):
        self._rec("historicalTicksLast", reqId, ticks, done)


def test_official_ibapi_history(own_gateway, client_id):
    from ibapi.contract import Contract as ApiContract

    c = ApiContract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "STK", "SMART", "USD"
    app = _HistoryApp().start(own_gateway.host, own_gateway.port, client_id)
    try:
        app.reqHistoricalData(1, c, "20251119 15:00:00 US/Eastern", "7200 S", "30 mins", "TRADES", 0, 1, False, [])
        app.wait_for("historicalDataEnd", lambda a: a[0] == 1)
        bars = [a[1] for a in app.events["historicalData"] if a[0] == 1]
        assert len(bars) >= 4
        assert re.fullmatch(r"\d{8} \d\d:\d\d:\d\d US/Eastern", bars[-1].date)
        assert all(b.low <= b.close <= b.high and b.volume > 0 and b.barCount > 0 for b in bars)

        app.reqHistoricalData(2, c, "", "1 W", "1 day", "MIDPOINT", 0, 2, False, [])
        app.wait_for("historicalDataEnd", lambda a: a[0] == 2)
        days = [a[1] for a in app.events["historicalData"] if a[0] == 2]
        assert days and all(re.fullmatch(r"\d{8}", b.date) for b in days)

        app.reqHistoricalData(3, c, "", "600 S", "5 secs", "TRADES", 0, 2, True, [])
        _, upd = app.wait_for("historicalDataUpdate", lambda a: a[0] == 3)
        assert upd.date.isdigit() and upd.low <= upd.close <= upd.high
        app.cancelHistoricalData(3)

        app.reqHeadTimeStamp(4, c, "TRADES", 1, 1)
        assert re.fullmatch(r"2010\d{4}-\d\d:\d\d:\d\d", app.wait_for("headTimestamp", lambda a: a[0] == 4)[1])

        app.reqHistoricalTicks(5, c, "", "", 10, "TRADES", 0, True, [])
        assert app.wait_for("error", lambda a: a[0] == 5)[1] == 321
        app.reqHistoricalTicks(6, c, "", dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S"), 10, "TRADES", 0,
                               True, [])
        _, ticks, done = app.wait_for("historicalTicksLast", lambda a: a[0] == 6)
        assert len(ticks) == 10 and done

        app.reqHistoricalData(7, c, "", "1 D", "1 hour", "VOLUME", 0, 1, False, [])
        code, text = app.wait_for("error", lambda a: a[0] == 7)[1:]
        assert code == 321 and "whatToShow" in text
    finally:
        app.stop()
