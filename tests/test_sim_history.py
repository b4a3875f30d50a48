"""Historical data from the embedded gateway: bar sizes, data types, date formats, RTH,
keepUpToDate, head timestamps, historical ticks, and IB's pacing rules."""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import IB, Forex, Stock

from ibxl.sim import SimConfig, SimGateway


@pytest.fixture
def aapl(ib):
    c = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(c)
    return c


@pytest.mark.parametrize(("duration", "bar", "what", "min_bars"), [
    ("1 Y", "1 day", "TRADES", 250), ("2 D", "5 mins", "TRADES", 500), ("1800 S", "1 secs", "MIDPOINT", 1800),
    ("5 D", "1 hour", "BID_ASK", 100), ("2 Y", "1 week", "TRADES", 100), ("6 M", "1 month", "TRADES", 6),
    ("1 D", "1 min", "BID", 1000), ("1 D", "1 min", "ASK", 1000), ("1 Y", "1 day", "HISTORICAL_VOLATILITY", 250),
    ("1 Y", "1 day", "OPTION_IMPLIED_VOLATILITY", 250), ("1 M", "1 day", "ADJUSTED_LAST", 28),
])
def test_bar_sizes_and_data_types(ib, aapl, duration, bar, what, min_bars):
    bars = ib.reqHistoricalData(aapl, "", duration, bar, what, False)
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
    assert daily[-1].high >= max(b.high for b in bars[-60:]) - 0.01
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
