"""The flows of ib_async's own example notebooks (option_chain and bar_data), restated step by
step, run unchanged against the embedded gateway as they would against TWS."""

from __future__ import annotations

import datetime as dt

from ib_async import Forex, Index, Option, Stock, util


def test_option_chain_notebook_flow(ib):
    # the underlying, qualified, with a delayed-frozen quote as the notebook asks for
    spx = Index("SPX", "CBOE")
    ib.qualifyContracts(spx)
    ib.reqMarketDataType(4)
    [ticker] = ib.reqTickers(spx)
    spx_value = ticker.marketPrice()
    assert spx_value > 1000

    # the option parameters: the notebook picks the SMART row of trading class SPX
    chains = ib.reqSecDefOptParams(spx.symbol, "", spx.secType, spx.conId)
    table = util.df(chains)
    assert {"exchange", "tradingClass", "expirations", "strikes"} <= set(table.columns)
    chain = next(c for c in chains if c.tradingClass == "SPX" and c.exchange == "SMART")

    # strikes near the money and the next three expirations, both rights
    strikes = [k for k in chain.strikes if k % 5 == 0 and spx_value - 40 < k < spx_value + 40]
    expirations = sorted(chain.expirations)[:3]
    assert strikes and len(expirations) == 3
    contracts = [Option("SPX", exp, k, right, "SMART", tradingClass="SPX")
                 for right in ("P", "C") for exp in expirations for k in strikes]
    contracts = ib.qualifyContracts(*contracts)
    assert len(contracts) == 2 * len(expirations) * len(strikes)
    assert all(c.conId for c in contracts)

    # the tickers come with prices and model greeks
    tickers = ib.reqTickers(*contracts)
    assert len(tickers) == len(contracts)
    assert all(t.modelGreeks is not None and t.modelGreeks.impliedVol > 0 for t in tickers)
    ib.reqMarketDataType(1)


def test_bar_data_notebook_flow(ib):
    contract = Stock("TSLA", "SMART", "USD")
    ib.qualifyContracts(contract)

    # the earliest available data
    head = ib.reqHeadTimeStamp(contract, whatToShow="TRADES", useRTH=True)
    assert isinstance(head, dt.datetime) and head.year == 2010

    # 60 days of hourly bars in regular hours: seven a session, the first at 09:30
    bars = ib.reqHistoricalData(contract, endDateTime="", durationStr="60 D", barSizeSetting="1 hour",
                                whatToShow="TRADES", useRTH=True, formatDate=1)
    df = util.df(bars)
    assert list(df.columns[:5]) == ["date", "open", "high", "low", "close"]
    today = dt.datetime.now(bars[-1].date.tzinfo).date()
    per_session = df[df.date.map(lambda d: d.date() != today)].groupby(df.date.map(lambda d: d.date())).size()
    assert len(per_session) >= 59 and set(per_session) <= {4, 7}  # 4 on an early close
    assert all(d.strftime("%H:%M") in ("09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00")
               for d in df.date if d.date() != today)

    # bars kept up to date, then cancelled
    fx = Forex("EURUSD")
    ib.qualifyContracts(fx)
    live = ib.reqHistoricalData(fx, endDateTime="", durationStr="900 S", barSizeSetting="10 secs",
                                whatToShow="MIDPOINT", useRTH=True, formatDate=1, keepUpToDate=True)
    updates = []
    live.updateEvent += lambda bars, has_new_bar: updates.append(bars[-1].close)
    for _ in range(40):  # the forming bar is resent whenever it changes (checked every 0.25 s)
        if updates:
            break
        ib.sleep(0.25)
    ib.cancelHistoricalData(live)
    assert len(live) >= 80 and updates

    # real-time 5-second bars, then cancelled
    rt = ib.reqRealTimeBars(fx, 5, "MIDPOINT", False)
    ib.sleep(6.0)
    ib.cancelRealTimeBars(rt)
    assert len(rt) >= 1 and 0.5 < rt[-1].close < 2
