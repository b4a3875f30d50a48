"""An ordinary ib_async program written for TWS; only its port (argv[1]) points it elsewhere."""

import sys

from ib_async import IB, Option, Stock, util

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7497
ib = IB()
ib.connect("127.0.0.1", port, clientId=11)

spy = Stock("SPY", "SMART", "USD")
ib.qualifyContracts(spy)
ticker = ib.reqMktData(spy)
ib.sleep(1)
print("SPY", ticker.bid, ticker.ask)

bars = ib.reqHistoricalData(spy, endDateTime="", durationStr="5 D", barSizeSetting="1 hour",
                            whatToShow="TRADES", useRTH=True)
df = util.df(bars)
print(df[["date", "close"]].tail(3))

chains = ib.reqSecDefOptParams(spy.symbol, "", spy.secType, spy.conId)
chain = next(c for c in chains if c.tradingClass == "SPY" and c.exchange == "SMART")
spot = ticker.marketPrice()
strikes = [k for k in chain.strikes if abs(k - spot) < 10][:4]
expiry = sorted(chain.expirations)[0]
options = [Option("SPY", expiry, k, right, "SMART", tradingClass="SPY") for k in strikes for right in "CP"]
options = ib.qualifyContracts(*options)
for t in ib.reqTickers(*options):
    greeks = t.modelGreeks
    print(t.contract.localSymbol, t.bid, t.ask, round(greeks.impliedVol, 4), round(greeks.delta, 4))
ib.disconnect()
