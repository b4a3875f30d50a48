"""ibxl.sim scanners and news: request latency beside a trivial request, and the pulse time that
refreshing scanner subscriptions costs, measured side by side in one run.

Latencies are medians of round trips from one ib_async client over a real socket; the ratio is
to reqCurrentTime, which does no work in the gateway, so it shows what ranking the universe or
writing headlines adds to the bare round trip.

    .venv/bin/python benchmarks/bench_scanner_news.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _support import median_ms
from ib_async import IB, ScannerSubscription, Stock

from ibxl.sim import SimConfig, SimGateway
from ibxl.sim.models.scanner import MAX_SUBSCRIPTIONS, ScanRequest


def main() -> None:
    """Run the measurements and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    with SimGateway(SimConfig(seed=42)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        aapl = Stock("AAPL", "SMART", "USD")
        ib.qualifyContracts(aapl)
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=90)
        news = ib.reqHistoricalNews(aapl.conId, "BRFG+BRFUPDN+DJNL", start, now, 10)
        symbols = iter(["MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL", "JPM", "XOM", "KO", "PEP", "WMT", "DIS",
                        "INTC", "AMD", "IBM", "CSCO", "ORCL", "ADBE", "CRM", "QCOM", "TXN", "AVGO", "MU", "UBER",
                        "PLTR", "COIN", "NFLX", "BAC", "WFC", "GS", "V", "MA", "PYPL", "COST", "MCD", "NKE"])
        cold_ids = []
        for _ in range(min(args.repeat, 30)):
            c = Stock(next(symbols), "SMART", "USD")
            ib.qualifyContracts(c)
            cold_ids.append(c.conId)
        cold = iter(cold_ids)

        rows = [
            ("reqCurrentTime (baseline)", median_ms(ib.reqCurrentTime, args.repeat)),
            ("reqScannerData MOST_ACTIVE, 50 rows", median_ms(lambda: ib.reqScannerData(ScannerSubscription(
                instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE", numberOfRows=50)),
                args.repeat)),
            ("reqScannerData HIGH_VS_13W_HL, 10 rows", median_ms(lambda: ib.reqScannerData(ScannerSubscription(
                instrument="STK", locationCode="STK.US.MAJOR", scanCode="HIGH_VS_13W_HL", numberOfRows=10)),
                args.repeat)),
            ("reqHistoricalNews 90 days, new contract", median_ms(lambda: ib.reqHistoricalNews(
                next(cold), "BRFG+BRFUPDN+DJNL", start, now, 300), min(args.repeat, 30))),
            ("reqHistoricalNews 90 days, same contract", median_ms(lambda: ib.reqHistoricalNews(
                aapl.conId, "BRFG+BRFUPDN+DJNL", start, now, 300), args.repeat)),
            ("reqNewsArticle", median_ms(lambda: ib.reqNewsArticle(news[0].providerCode, news[0].articleId),
                                         args.repeat)),
        ]
        base = rows[0][1]
        print(f"{'request':44} {'median ms':>10} {'x baseline':>11}")
        for name, ms in rows:
            print(f"{name:44} {ms:10.2f} {ms / base:11.1f}")

        def refresh_cost(g) -> tuple[float, float]:  # noqa: ANN001
            """Seconds one pulse spends refreshing the most subscriptions a client may hold."""
            scanner = g.scanner
            owner = object()
            stops = [scanner.subscribe(owner, i, ScanRequest(scan_code=code, rows=50), lambda rows: None)
                     for i, code in enumerate(["MOST_ACTIVE", "TOP_PERC_GAIN", "TOP_PERC_LOSE", "HOT_BY_VOLUME",
                                               "HOT_BY_PRICE", "TOP_TRADE_COUNT", "HIGH_OPT_IMP_VOLAT",
                                               "HIGH_VS_13W_HL", "LOW_VS_13W_HL", "OPT_VOLUME_MOST_ACTIVE"]
                                              [:MAX_SUBSCRIPTIONS])]
            t0 = time.perf_counter()
            scanner.refresh(g.clock.time() + scanner.refresh_seconds + 1)
            spent = time.perf_counter() - t0
            for stop in stops:
                stop()
            return spent, g.config.tick_interval

        spent, tick = gw.call(refresh_cost)
        print(f"\n{MAX_SUBSCRIPTIONS} scanner subscriptions refreshed in one pulse: {spent * 1000:.1f} ms, "
              f"{spent / tick * 100:.1f}% of the {tick * 1000:.0f} ms tick (refresh is due every "
              f"{gw.call(lambda g: g.scanner.refresh_seconds):.0f} s)")
        ib.disconnect()


if __name__ == "__main__":
    main()
