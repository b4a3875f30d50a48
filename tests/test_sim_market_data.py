"""Streaming market data from the embedded gateway, seen through ib_async."""

from __future__ import annotations

import pytest
from ib_async import IB, Forex, Option, Stock

from ibxl.sim import SimConfig, SimGateway


def _stock(ib: IB, symbol: str = "AAPL") -> Stock:
    c = Stock(symbol, "SMART", "USD")
    ib.qualifyContracts(c)
    return c


def test_quotes_stream_and_agree_with_the_market(ib, gateway):
    c = _stock(ib)
    t = ib.reqMktData(c)
    ib.sleep(1.2)
    assert 0 < t.bid < t.ask, (t.bid, t.ask)
    assert t.bid <= t.last <= t.ask or abs(t.last - (t.bid + t.ask) / 2) < 0.05
    assert t.bidSize > 0 and t.askSize > 0 and t.volume > 0
    assert t.close > 0 and t.open > 0 and t.low <= t.last <= t.high
    mid = gateway.call(lambda g: g.market.price(g.universe.get(c.conId)))
    assert abs(mid - (t.bid + t.ask) / 2) / mid < 0.002
    seen = []
    t.updateEvent += lambda tk: seen.append(tk.bid)
    ib.sleep(1.0)
    assert len(seen) >= 2, "quotes keep streaming"
    ib.cancelMktData(c)


def test_generic_ticks(ib):
    c = _stock(ib, "MSFT")
    t = ib.reqMktData(c, "100,101,104,106,165,221,233,236,258,293,294,411")
    ib.sleep(1.0)
    assert t.low52week < t.high52week
    assert t.avVolume > 0 and 0 < t.histVolatility < 2 and 0 < t.impliedVolatility < 2
    assert t.markPrice > 0 and t.shortableShares > 0 and t.tradeCount > 0
    assert t.callOpenInterest > 0 and t.putOpenInterest > 0
    assert t.fundamentalRatios is not None and t.fundamentalRatios.MKTCAP > 0
    assert t.rtHistVolatility > 0
    ib.cancelMktData(c)


def test_bad_generic_tick_is_refused(ib):
    errors = []
    ib.errorEvent += lambda *a: errors.append(a)
    ib.reqMktData(_stock(ib), "999")
    ib.sleep(0.5)
    assert any(e[1] == 321 and "generic tick" in e[2] for e in errors)


def test_snapshot_ends_and_forex_has_no_last(ib):
    fx = Forex("EURUSD")
    ib.qualifyContracts(fx)
    t = ib.reqMktData(fx, snapshot=True)
    ib.sleep(0.6)
    assert t.bid > 0 and t.ask > t.bid
    assert t.last != t.last  # NaN: forex quotes carry no trades


def test_option_greeks_through_reqtickers(ib):
    und = _stock(ib, "SPY")
    chain = ib.reqSecDefOptParams("SPY", "", "STK", und.conId)[0]
    expiry = sorted(chain.expirations)[1]
    spot = ib.reqTickers(und)[0].marketPrice()
    strikes = sorted(chain.strikes, key=lambda k: abs(k - spot))[:2]
    opts = ib.qualifyContracts(*[Option("SPY", expiry, k, r, "SMART", tradingClass=chain.tradingClass)
                                 for k in strikes for r in "CP"])
    tickers = ib.reqTickers(*opts)
    for tk in tickers:
        g = tk.modelGreeks
        assert g is not None, tk.contract.localSymbol
        assert 0.03 < g.impliedVol < 2 and g.undPrice > 0 and g.gamma > 0 and g.vega > 0
        if tk.contract.right == "C":
            assert 0 < g.delta < 1
        else:
            assert -1 < g.delta < 0
        assert tk.bidGreeks is not None and tk.askGreeks is not None
        assert 0 < tk.bid <= tk.ask


def test_delayed_market_data_types(ib):
    c = _stock(ib, "IBM")
    ib.reqMarketDataType(3)
    t = ib.reqMktData(c)
    ib.sleep(0.8)
    assert t.marketDataType == 3 and t.bid > 0
    ib.cancelMktData(c)
    ib.reqMarketDataType(1)


def test_unknown_contract_and_line_limit():
    with SimGateway(SimConfig(seed=3)) as gw:
        gw.gateway.config.limits.market_data_lines = 3
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors = []
        ib.errorEvent += lambda *a: errors.append(a[1])
        syms = ["AAPL", "MSFT", "IBM", "AMD"]
        contracts = [Stock(s, "SMART", "USD") for s in syms]
        ib.qualifyContracts(*contracts)
        for c in contracts:
            ib.reqMktData(c)
        bogus = Stock("NOPE", "SMART", "USD", conId=1)
        ib.reqMktData(bogus)
        ib.sleep(0.6)
        assert 101 in errors and 200 in errors
        ib.disconnect()


def test_tick_by_tick_depth_and_realtime_bars(ib):
    c = _stock(ib, "NVDA")
    got = []
    ib.pendingTickersEvent += lambda ts: [got.extend(t.tickByTicks) for t in ts]
    ib.reqTickByTickData(c, "AllLast")
    ib.reqTickByTickData(c, "BidAsk")
    depth = ib.reqMktDepth(c, 5, isSmartDepth=True)
    bars = ib.reqRealTimeBars(c, 5, "TRADES", False)
    ib.sleep(6.5)
    kinds = {type(x).__name__ for x in got}
    assert {"TickByTickAllLast", "TickByTickBidAsk"} <= kinds
    assert len(depth.domBids) == 5 and len(depth.domAsks) == 5
    assert depth.domBids[0].price < depth.domAsks[0].price
    assert all(a.price < b.price for a, b in zip(depth.domAsks, depth.domAsks[1:], strict=False))
    assert len(bars) >= 1 and bars[-1].low <= bars[-1].close <= bars[-1].high
    ib.cancelTickByTickData(c, "AllLast")
    ib.cancelTickByTickData(c, "BidAsk")
    ib.cancelMktDepth(c, isSmartDepth=True)
    ib.cancelRealTimeBars(bars)
    assert ib.reqMktDepthExchanges()


@pytest.mark.parametrize("symbol", ["ES", "BTC"])
def test_futures_and_crypto_stream(ib, symbol):
    from ib_async import Contract

    if symbol == "ES":
        details = ib.reqContractDetails(Contract(symbol="ES", secType="FUT", exchange="CME"))
        c = sorted(details, key=lambda d: d.contract.lastTradeDateOrContractMonth)[0].contract
    else:
        c = Contract(symbol="BTC", secType="CRYPTO", exchange="PAXOS", currency="USD")
        ib.qualifyContracts(c)
    t = ib.reqMktData(c)
    ib.sleep(0.8)
    assert 0 < t.bid < t.ask and t.volume > 0, (symbol, t.bid, t.ask, t.volume)
    ib.cancelMktData(c)
