"""Scanners, news, bulletins and display groups from the embedded gateway."""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET

import pytest
from ib_async import IB, ScannerSubscription, Stock, TagValue

from ibxl.sim import SimConfig, SimGateway
from ibxl.sim.clock import FrozenClock


def test_scanner_parameters_parse_and_list_the_scan_codes(ib):
    root = ET.fromstring(ib.reqScannerParameters())
    codes = {e.text for e in root.iter("scanCode")}
    assert {"TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME", "HOT_BY_PRICE", "TOP_TRADE_COUNT",
            "HIGH_OPT_IMP_VOLAT", "LOW_OPT_IMP_VOLAT", "TOP_OPEN_PERC_GAIN", "HIGH_VS_13W_HL", "LOW_VS_13W_HL",
            "OPT_VOLUME_MOST_ACTIVE"} <= codes
    assert {e.text for e in root.iter("locationCode")} >= {"STK.US.MAJOR"}
    assert any(e.text == "priceAbove" for e in root.iter("code"))


@pytest.fixture(scope="module")
def frozen():
    """A gateway whose clock stands still, so its answers can be checked against its model."""
    with SimGateway(SimConfig(seed=5), clock=FrozenClock(time.time())) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        yield gw, ib
        ib.disconnect()


@pytest.mark.parametrize("code", ["TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HIGH_VS_13W_HL"])
def test_scanner_ranks_rows_by_the_market(frozen, code):
    gateway, ib = frozen
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode=code, numberOfRows=10)
    rows = ib.reqScannerData(sub)
    assert 1 <= len(rows) <= 10
    assert [r.rank for r in rows] == list(range(len(rows)))
    conids = [r.contractDetails.contract.conId for r in rows]

    def figures(g):
        scanner = g.models["scanner"]
        now = g.clock.time()
        return [scanner.figures(g.universe.get(c), now) for c in conids]

    figs = gateway.call(figures)
    key = {"TOP_PERC_GAIN": "change_pct", "TOP_PERC_LOSE": "change_pct", "MOST_ACTIVE": "volume",
           "HIGH_VS_13W_HL": "vs_13w"}[code]
    values = [f[key] for f in figs]
    assert values == sorted(values, reverse=code != "TOP_PERC_LOSE")


def test_scanner_filters_and_refresh(ib):
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE",
                              numberOfRows=50, abovePrice=100)
    rows = ib.reqScannerSubscription(sub, [], [TagValue("volumeAbove", "1000")])
    ib.sleep(5.6)
    assert rows, "rows arrive"
    contracts = [r.contractDetails.contract for r in rows][:5]
    t = ib.reqTickers(*contracts)
    assert all(x.marketPrice() > 99 for x in t)
    ib.cancelScannerSubscription(rows)


def test_unknown_scan_code_gets_an_error(ib):
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    rows = ib.reqScannerData(ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="NOPE"))
    assert len(rows) == 0
    assert any(code == 162 and "NOPE" in msg for code, msg in errors)


def test_news_providers_history_and_article(ib):
    codes = [p.code for p in ib.reqNewsProviders()]
    assert "BRFG" in codes
    c = Stock("TSLA", "SMART", "USD")
    ib.qualifyContracts(c)
    now = dt.datetime.now(dt.UTC)
    news = ib.reqHistoricalNews(c.conId, "BRFG+BRFUPDN+DJNL", now - dt.timedelta(days=30), now, 20)
    assert len(news) >= 10
    assert all(n.headline for n in news) and news[0].time >= news[-1].time
    article = ib.reqNewsArticle(news[0].providerCode, news[0].articleId)
    assert article.articleType == 0 and news[0].headline in article.articleText


def test_news_ticks_on_market_data(ib):
    c = Stock("NVDA", "SMART", "USD")
    ib.qualifyContracts(c)
    ib.reqMktData(c, "292")
    ib.sleep(0.6)
    assert ib.newsTicks(), "generic tick 292 delivers headlines"


def test_bulletins_arrive(ib):
    ib.reqNewsBulletins(True)
    ib.sleep(0.4)
    bulletins = ib.newsBulletins()
    assert any("available for trading" in b.message for b in bulletins)
    assert {b.msgType for b in bulletins} >= {1, 2, 3}
    ib.cancelNewsBulletins()


def test_display_groups_round_trip(gateway):
    a, b = IB(), IB()
    a.connect(gateway.host, gateway.port, clientId=901)
    b.connect(gateway.host, gateway.port, clientId=902)
    seen = []
    b.wrapper.displayGroupUpdated = lambda req_id, info: seen.append(info)
    a.client.queryDisplayGroups(1)
    a.client.subscribeToGroupEvents(2, 4)
    b.client.subscribeToGroupEvents(3, 4)
    a.sleep(0.3)
    a.client.updateDisplayGroup(2, "265598@SMART")
    b.sleep(0.5)
    assert "265598@SMART" in seen
    a.disconnect()
    b.disconnect()


def test_ib_insync_scanner_and_news(gateway, client_id):
    import ib_insync as ibi

    ib = ibi.IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    rows = ib.reqScannerData(ibi.ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR",
                                                     scanCode="HOT_BY_VOLUME", numberOfRows=5))
    assert len(rows) == 5
    c = ibi.Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(c)
    now = dt.datetime.now(dt.UTC)
    assert ib.reqHistoricalNews(c.conId, "BRFG", now - dt.timedelta(days=20), now, 5)
    ib.reqNewsBulletins(False)
    ib.sleep(0.3)
    assert ib.newsBulletins()
    ib.disconnect()
