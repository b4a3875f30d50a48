"""Market scanners of the embedded gateway, driven over a real socket by ib_async, ib_insync and ibapi."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from ib_async import IB, ScannerSubscription, TagValue
from ibapi_app import RecordingApp

from ibxl.sim import SimConfig, SimGateway
from ibxl.sim.clock import FrozenClock
from ibxl.sim.models.scanner import MAX_SUBSCRIPTIONS, SCAN_CODES, ScanRequest

REQUIRED = ("TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME", "HOT_BY_PRICE", "TOP_TRADE_COUNT",
            "HIGH_OPT_IMP_VOLAT", "LOW_OPT_IMP_VOLAT", "TOP_OPEN_PERC_GAIN", "HIGH_VS_13W_HL", "LOW_VS_13W_HL",
            "OPT_VOLUME_MOST_ACTIVE")


def sub(code: str, rows: int = 10, **kw) -> ScannerSubscription:
    """A US stock scanner subscription."""
    return ScannerSubscription(instrument=kw.pop("instrument", "STK"), locationCode=kw.pop("location", "STK.US.MAJOR"),
                               scanCode=code, numberOfRows=rows, **kw)


@pytest.fixture(scope="module")
def frozen():
    """A gateway whose clock stands still, so its rows can be checked against its own model."""
    with SimGateway(SimConfig(seed=5), clock=FrozenClock(time.time())) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        errors: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
        yield gw, ib, errors
        ib.disconnect()


def model_figures(gw: SimGateway, code: str, **req_fields) -> list[tuple[int, dict]]:
    """(conId, figures) of every contract the scan code could rank, from the gateway's own model."""

    def run(g):
        scanner = g.scanner
        req = ScanRequest(scan_code=code, **req_fields)
        now = g.clock.time()
        return [(inst.conId, scanner.figures(inst, now)) for inst in scanner.candidates(req)]

    return gw.call(run)


def test_parameters_xml_parses_and_lists_every_scan_code(ib):
    root = ET.fromstring(ib.reqScannerParameters())
    assert root.tag == "ScanParameterResponse"
    codes = [e.text for e in root.iter("scanCode")]
    assert set(REQUIRED) <= set(codes) and len(codes) == len(set(codes))
    assert [e.text for e in root.findall("./InstrumentList/Instrument/type")] == ["STK", "ETF.EQ.US"]
    assert {e.text for e in root.iter("locationCode")} >= {"STK.US", "STK.US.MAJOR", "STK.NASDAQ", "STK.NYSE"}
    for st in root.iter("ScanType"):
        assert st.findtext("displayName") and st.findtext("instruments")
    range_codes = [e.text for e in root.findall("./FilterList/RangeFilter/AbstractField/code")]
    assert {"priceAbove", "priceBelow", "volumeAbove", "changePercAbove", "marketCapAbove1e6"} <= set(range_codes)
    assert root.findall("./FilterList/SimpleFilter/AbstractField/code")[0].text == "stkTypes"


def test_every_listed_scan_code_answers(ib):
    root = ET.fromstring(ib.reqScannerParameters())
    for code in [e.text for e in root.iter("scanCode")]:
        rows = ib.reqScannerData(sub(code, 3))
        assert len(rows) == 3, code
        assert [r.rank for r in rows] == [0, 1, 2]
        c = rows[0].contractDetails.contract
        assert c.conId > 0 and c.secType == "STK" and c.currency == "USD" and c.exchange == "SMART"


@pytest.mark.parametrize("code", REQUIRED)
def test_rows_are_the_top_of_the_models_ranking(frozen, code):
    gw, ib, _ = frozen
    rows = ib.reqScannerData(sub(code, 10))
    spec = SCAN_CODES[code]
    figures = dict(model_figures(gw, code))
    keys = {con: spec.key(fig) for con, fig in figures.items()}
    got = [r.contractDetails.contract.conId for r in rows]
    assert len(got) == min(10, len(keys))
    assert [r.rank for r in rows] == list(range(len(got)))
    values = [keys[c] for c in got]
    assert values == sorted(values, reverse=spec.descending)
    # nothing better was left out: the 10th row beats (or ties) every contract not listed
    rest = [v for c, v in keys.items() if c not in got]
    if rest:
        assert (values[-1] >= max(rest)) if spec.descending else (values[-1] <= min(rest))


def test_option_scans_only_list_optionable_stocks(frozen):
    gw, ib, _ = frozen
    conids = {r.contractDetails.contract.conId for r in ib.reqScannerData(sub("OPT_VOLUME_MOST_ACTIVE", 50))}
    optionable = gw.call(lambda g: {i.conId for i in g.universe.underlyings() if i.optionable})
    assert conids and conids <= optionable


def test_subscription_filters_are_honoured(frozen):
    gw, ib, _ = frozen
    figures = dict(model_figures(gw, "MOST_ACTIVE"))
    prices = sorted(f["last"] for f in figures.values())
    lo, hi = prices[len(prices) // 4], prices[3 * len(prices) // 4]
    rows = ib.reqScannerData(sub("MOST_ACTIVE", 50, abovePrice=lo, belowPrice=hi, aboveVolume=1000))
    got = [figures[r.contractDetails.contract.conId] for r in rows]
    expected = [f for f in figures.values() if lo < f["last"] < hi and f["volume"] > 1000]
    assert got and len(got) == len(expected)
    assert all(lo < f["last"] < hi for f in got)
    caps = sorted(f["mcap_m"] for f in figures.values())
    cap_mid = caps[len(caps) // 2]
    big = ib.reqScannerData(sub("TOP_PERC_GAIN", 50, marketCapAbove=cap_mid))
    small = ib.reqScannerData(sub("TOP_PERC_GAIN", 50, marketCapBelow=cap_mid))
    assert big and small
    assert all(figures[r.contractDetails.contract.conId]["mcap_m"] > cap_mid for r in big)
    assert all(figures[r.contractDetails.contract.conId]["mcap_m"] < cap_mid for r in small)


def test_filter_tag_values_are_honoured(frozen):
    gw, ib, _ = frozen
    figures = dict(model_figures(gw, "TOP_PERC_GAIN"))
    changes = sorted(f["change_pct"] for f in figures.values())
    cut = changes[len(changes) // 3]
    tags = [TagValue("priceAbove", "20"), TagValue("changePercAbove", f"{cut}"), TagValue("volumeAbove", "100")]
    rows = ib.reqScannerData(sub("TOP_PERC_GAIN", 50), [], tags)
    expected = {c for c, f in figures.items() if f["last"] > 20 and f["change_pct"] > cut and f["volume"] > 100}
    assert {r.contractDetails.contract.conId for r in rows} == expected
    below = ib.reqScannerData(sub("TOP_PERC_LOSE", 50), [], [TagValue("changePercBelow", f"{cut}"),
                                                             TagValue("marketCapAbove1e6", "1000")])
    assert below and all(figures[r.contractDetails.contract.conId]["change_pct"] < cut
                         and figures[r.contractDetails.contract.conId]["mcap_m"] > 1000 for r in below)


def test_etfs_by_instrument_and_by_stock_type(frozen):
    gw, ib, _ = frozen
    etfs = gw.call(lambda g: {i.conId for i in g.universe.underlyings() if i.stockType == "ETF"})
    by_instrument = {r.contractDetails.contract.conId
                     for r in ib.reqScannerData(sub("MOST_ACTIVE", 50, instrument="ETF.EQ.US"))}
    by_tag = {r.contractDetails.contract.conId
              for r in ib.reqScannerData(sub("MOST_ACTIVE", 50), [], [TagValue("stkTypes", "ETF")])}
    assert by_instrument == by_tag == etfs
    nasdaq = ib.reqScannerData(sub("MOST_ACTIVE", 50, location="STK.NASDAQ"))
    primaries = gw.call(lambda g: {i.conId: i.primaryExchange for i in g.universe.underlyings()})
    assert nasdaq and all(primaries[r.contractDetails.contract.conId] == "NASDAQ" for r in nasdaq)


def test_number_of_rows_is_capped_at_50(frozen):
    _, ib, _ = frozen
    assert len(ib.reqScannerData(sub("MOST_ACTIVE", 80))) == 50
    assert len(ib.reqScannerData(sub("MOST_ACTIVE", -1))) == 50
    assert len(ib.reqScannerData(sub("MOST_ACTIVE", 7))) == 7


@pytest.mark.parametrize(("kwargs", "tags", "needle"), [
    ({"code": "NOPE"}, [], "'NOPE' is not defined"),
    ({"code": "MOST_ACTIVE", "location": "STK.EU.MARS"}, [], "location 'STK.EU.MARS'"),
    ({"code": "MOST_ACTIVE", "instrument": "BOND"}, [], "instrument 'BOND'"),
    ({"code": "MOST_ACTIVE"}, [TagValue("colourAbove", "3")], "filter 'colourAbove'"),
    ({"code": "MOST_ACTIVE"}, [TagValue("priceAbove", "ten")], "priceAbove='ten' is not a number"),
    ({"code": "MOST_ACTIVE"}, [TagValue("stkTypes", "BONDS")], "stkTypes='BONDS'"),
])
def test_bad_scanner_requests_get_error_162(frozen, kwargs, tags, needle):
    _, ib, errors = frozen
    code = kwargs.pop("code")
    rows = ib.reqScannerData(sub(code, 5, **kwargs), [], tags)
    assert len(rows) == 0
    req_id, err, msg = errors[-1]
    assert err == 162 and needle in msg and req_id == rows.reqId
    assert msg.startswith("Historical Market Data Service error message:")


def test_rows_refresh_while_subscribed_and_stop_on_cancel(fresh_gateway):
    gw = fresh_gateway
    gw.call(lambda g: setattr(g.scanner, "refresh_seconds", 0.5))
    ib = IB()
    ib.connect(gw.host, gw.port, clientId=3)
    updates: list[int] = []
    data = ib.reqScannerSubscription(sub("TOP_PERC_GAIN", 5))
    data.updateEvent += lambda rows: updates.append(len(rows))
    ib.sleep(2.2)
    assert len(updates) >= 3 and all(n == 5 for n in updates)
    ib.cancelScannerSubscription(data)
    ib.sleep(0.3)
    seen = len(updates)
    ib.sleep(1.2)
    assert len(updates) == seen, "no rows after cancelScannerSubscription"
    assert gw.call(lambda g: g.scanner.subscription_count(next(iter(g.sessions)))) == 0
    ib.disconnect()


def test_more_than_ten_subscriptions_is_refused_and_cancel_frees_a_slot(gateway, client_id):
    ib = IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    lists = [ib.reqScannerSubscription(sub("MOST_ACTIVE", 2)) for _ in range(MAX_SUBSCRIPTIONS)]
    ib.sleep(0.5)
    assert all(len(x) == 2 for x in lists)
    extra = ib.reqScannerSubscription(sub("TOP_PERC_GAIN", 2))
    ib.sleep(0.4)
    assert any(r == extra.reqId and c == 162 and "Maximum number of scanner subscriptions (10)" in m
               for r, c, m in errors)
    assert len(extra) == 0
    ib.cancelScannerSubscription(lists[0])
    again = ib.reqScannerData(sub("TOP_PERC_GAIN", 2))
    assert len(again) == 2
    ib.disconnect()


def test_disconnect_drops_the_subscriptions(gateway, client_id):
    ib = IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    ib.reqScannerSubscription(sub("MOST_ACTIVE", 2))
    ib.sleep(0.3)
    ib.disconnect()
    time.sleep(0.3)
    left = gateway.call(lambda g: [k for k in g.scanner._subs if k[0].client_id == client_id])  # noqa: SLF001
    assert left == []


def test_ib_insync_scanner(gateway, client_id):
    import ib_insync as ibi

    ib = ibi.IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    root = ET.fromstring(ib.reqScannerParameters())
    assert "HOT_BY_VOLUME" in {e.text for e in root.iter("scanCode")}
    rows = ib.reqScannerData(ibi.ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR",
                                                     scanCode="HOT_BY_VOLUME", numberOfRows=5, abovePrice=10),
                             [], [ibi.TagValue("volumeAbove", "1000")])
    assert [r.rank for r in rows] == [0, 1, 2, 3, 4]
    assert all(r.contractDetails.contract.symbol for r in rows)
    ib.disconnect()


class ScannerApp(RecordingApp):
    """The official client's scanner callbacks, recorded."""

    def scannerParameters(self, xml):
        self._rec("scannerParameters", xml)

    def scannerData(self, reqId, rank, contractDetails, distance, benchmark, projection, legsStr):
        self._rec("scannerData", reqId, rank, contractDetails.contract.symbol, contractDetails.contract.conId)

    def scannerDataEnd(self, reqId):
        self._rec("scannerDataEnd", reqId)


def test_official_ibapi_scanner(gateway, client_id):
    from ibapi.scanner import ScannerSubscription as ApiSubscription
    from ibapi.tag_value import TagValue as ApiTagValue

    app = ScannerApp().start(gateway.host, gateway.port, client_id)
    try:
        app.reqScannerParameters()
        (xml,) = app.wait_for("scannerParameters")
        assert "TOP_PERC_LOSE" in {e.text for e in ET.fromstring(xml).iter("scanCode")}
        s = ApiSubscription()
        s.instrument, s.locationCode, s.scanCode, s.numberOfRows = "STK", "STK.US.MAJOR", "TOP_PERC_LOSE", 4
        app.reqScannerSubscription(7, s, [], [ApiTagValue("priceAbove", "5")])
        app.wait_for("scannerDataEnd", lambda a: a[0] == 7)
        app.cancelScannerSubscription(7)
        ranks = [a[1] for a in app.events["scannerData"] if a[0] == 7][:4]
        assert ranks == [0, 1, 2, 3]
        s.scanCode = "NOT_A_SCAN"
        app.reqScannerSubscription(8, s, [], [])
        app.wait_for("error", lambda a: a[0] == 8 and a[1] == 162)
    finally:
        app.stop()


def test_reusing_a_req_id_replaces_the_subscription(gateway, client_id):
    from ibapi.scanner import ScannerSubscription as ApiSubscription

    app = ScannerApp().start(gateway.host, gateway.port, client_id)

    def live(g):
        return [(k[1], v.req.scan_code) for k, v in g.scanner._subs.items()  # noqa: SLF001
                if k[0].client_id == client_id]

    try:
        s = ApiSubscription()
        s.instrument, s.locationCode, s.scanCode, s.numberOfRows = "STK", "STK.US.MAJOR", "MOST_ACTIVE", 2
        app.reqScannerSubscription(3, s, [], [])
        app.wait_for("scannerDataEnd", lambda a: a[0] == 3)
        s.scanCode = "TOP_PERC_GAIN"
        app.reqScannerSubscription(3, s, [], [])
        time.sleep(0.4)
        assert gateway.call(live) == [(3, "TOP_PERC_GAIN")]
        app.cancelScannerSubscription(3)
        time.sleep(0.3)
        assert gateway.call(live) == []
    finally:
        app.stop()
