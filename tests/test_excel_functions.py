"""The host-neutral worksheet functions with Excel-shaped inputs, against the embedded gateway."""

from __future__ import annotations

import time

import pytest

from ibxl.excel import functions as F
from ibxl.excel.shapes import EXCEL_EPOCH


def _wait_value(fn, *args, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    value = fn(*args)
    while value == F.WAITING and time.monotonic() < deadline:
        time.sleep(0.05)
        value = fn(*args)
    return value


def test_quote_values_defaults_and_waiting(ibxl_sim):
    first = F.IB_QUOTE("AMZN", "Bid")
    assert first == F.WAITING or isinstance(first, float)
    bid = _wait_value(F.IB_QUOTE, "AMZN", "Bid")
    ask = _wait_value(F.IB_QUOTE, "AMZN", "ask")
    assert 0 < bid < ask
    price = _wait_value(F.IB_QUOTE, "AMZN", None)
    assert isinstance(price, float) and bid <= price <= ask or price == F.IB_QUOTE("AMZN", "Last"), \
        "an empty field cell means Price"
    assert _wait_value(F.IB_QUOTE, "AMZN", "ChangePct") == pytest.approx(
        _wait_value(F.IB_QUOTE, "AMZN", "Change") / _wait_value(F.IB_QUOTE, "AMZN", "Close") * 100, rel=0.05)


@pytest.mark.parametrize(("args", "text"), [
    (("APPL", "Bid"), "did you mean AAPL"),
    (("AAPL", "bidd"), "field 'bidd' - expected one of Price, Bid"),
    ((None, "Bid"), "contract is empty"),
    (("", "Bid"), "contract is empty"),
    (("AAPL 2026 X", "Bid"), "cannot read contract"),
])
def test_quote_errors_name_the_problem(ibxl_sim, args, text):
    out = F.IB_QUOTE(*args)
    assert isinstance(out, str) and out.startswith("#") and text in out and "Traceback" not in out


def _option(underlying: str) -> str:
    import ibxl

    return str(ibxl.option_chain(underlying, strikes=1)["contract"].iloc[0])


KINDS = {"stock": "AAPL", "forex": "EUR.USD/CASH", "index": "SPX@CBOE//IND", "future": "ES 202612",
         "option": None, "crypto": "BTC.USD/CRYPTO"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_quote_without_a_field_is_a_price_for_every_kind_of_contract(ibxl_sim, kind):
    contract = KINDS[kind] or _option("AAPL")
    price = _wait_value(F.IB_QUOTE, contract, None, timeout=5.0)
    assert isinstance(price, float) and price > 0, (kind, contract, price)
    assert isinstance(F.IB_QUOTE(contract, "price"), float)
    from ibxl.live import latest

    snap = latest(contract)  # one snapshot, so bid, ask and last are of the same moment
    two_sided = snap.bid == snap.bid and snap.ask == snap.ask
    if snap.last == snap.last and (not two_sided or snap.bid <= snap.last <= snap.ask):
        assert snap.price == snap.last  # the last trade, when it lies within the bid/ask (an index has none)
    else:
        assert snap.price == pytest.approx((snap.bid + snap.ask) / 2)  # else the midpoint
    if kind == "forex":
        assert F.IB_QUOTE(contract, "Last") == "", "no last trade on IDEALPRO: the Last cell is blank"


def test_quotes_table_starts_with_price(ibxl_sim):
    out = F.IB_QUOTES([["AAPL"], ["EUR.USD/CASH"]], None)
    assert out[0] == ["contract", *F.QUOTE_FIELDS] and F.QUOTE_FIELDS[0] == "Price"
    assert all(isinstance(r[1], float) and r[1] > 0 for r in out[1:]), out


def test_quotes_table_spills_with_header(ibxl_sim):
    out = F.IB_QUOTES([["AAPL"], ["MSFT"], [None]], [["Bid", "Ask", "Last"]])
    assert out[0] == ["contract", "Bid", "Ask", "Last"]
    assert [r[0] for r in out[1:]] == ["AAPL", "MSFT"]
    assert all(isinstance(v, float) for r in out[1:] for v in r[1:])


def test_history_spills_dated_ohlcv(ibxl_sim):
    out = F.IB_HISTORY("IBM", "3 M", None, None, None)
    assert out[0] == ["date", "open", "high", "low", "close", "volume"]
    assert len(out) > 60
    serial = out[-1][0]
    assert isinstance(serial, float) and 46000 < serial < 47000  # an Excel date in 2026
    assert (EXCEL_EPOCH.toordinal() + int(serial)) > 0
    assert F.IB_HISTORY("IBM", "3 M", "7 parsecs").startswith("#VALUE! bar size")


def test_chain_contract_account_tables(ibxl_sim):
    chain = F.IB_CHAIN("SPY", None, "C", 3)
    assert chain[0][:4] == ["contract", "expiry", "strike", "right"] and len(chain) == 8
    assert F.IB_CONTRACT("AAPL", "conId") == 265598
    assert F.IB_CONTRACT("AAPL", "longname") == "APPLE INC"
    assert F.IB_CONTRACT("AAPL", "colour").startswith("#VALUE! field 'colour'")
    assert F.IB_CONTRACT("AAPL")[0] == ["field", "value"]
    assert F.IB_ACCOUNT("NetLiquidation") > 0
    assert F.IB_ACCOUNT(None)[0] == ["tag", "value", "currency", "account"]
    assert F.IB_PNL()[0] == ["account", "daily_pnl", "unrealized_pnl", "realized_pnl"]
    assert F.IB_POSITIONS()[0][:3] == ["account", "contract", "symbol"]
    assert F.IB_PORTFOLIO()[0][:3] == ["account", "contract", "symbol"]
    assert F.IB_ORDERS()[0][:2] == ["key", "order_id"]
    assert F.IB_EXECUTIONS()[0][:2] == ["exec_id", "time"]
    status = dict(map(tuple, F.IB_STATUS()[1:]))
    assert status["connected"] is True and status["trading"] == "off"


def test_scan_and_news(ibxl_sim):
    rows = F.IB_SCAN("TOP_PERC_GAIN", 5, "priceAbove=20")
    assert rows[0][:3] == ["rank", "contract", "symbol"] and len(rows) == 6
    head = rows[0]
    for name in ("last", "change", "change_pct", "volume"):
        assert all(isinstance(r[head.index(name)], float) for r in rows[1:]), (name, rows)
    assert F.IB_SCAN(None).startswith("#VALUE! scan code is empty - give a scan code such as TOP_PERC_GAIN")
    again = F.IB_SCAN("top_perc_gain", 5, "priceAbove = 20")
    assert again is rows, "recalculations within SCAN_REFRESH_SECONDS reuse the rows (no new scan, no snapshots)"
    assert F.IB_SCAN("TOP_PERC_GAIN", 4, "priceAbove=20") is not rows, "other arguments: another scan"
    assert F.IB_SCAN("TOP_PERC_GAIN", 5, "priceAbove").startswith("#VALUE! filter")
    news = F.IB_NEWS("AAPL", 3)
    assert news[0][:4] == ["time", "provider", "article_id", "headline"] and len(news) == 4


def test_order_needs_arm_and_trading(ibxl_sim, monkeypatch):
    assert F.IB_ORDER("x-1", "AAPL", "BUY", 1, "MKT", None, None, None, False).startswith("disarmed")
    assert "trading is off" in F.IB_ORDER("x-1", "AAPL", "BUY", 1, "MKT", None, None, None, True)
    monkeypatch.setenv("IBXL_TRADING", "paper")
    assert F.IB_ORDER("x-1", "AAPL", "BUY", 1, "MKT", None, None, None, "FALSE").startswith("disarmed")
    import ibxl

    assert ibxl.orders().query("key == 'x-1'").empty, "nothing was sent while disarmed"


def test_ten_thousand_recalculations_send_one_order(ibxl_sim, monkeypatch):
    import ibxl

    monkeypatch.setenv("IBXL_TRADING", "paper")
    bid = _wait_value(F.IB_QUOTE, "ORCL", "Bid")
    limit = round(bid * 0.97, 2)
    statuses = {F.IB_ORDER("recalc", "ORCL", "BUY", 3, "LMT", limit, None, "DAY", True) for _ in range(10_000)}
    assert len(ibxl.orders().query("key == 'recalc'")) == 1
    assert all(s.startswith(("Submitted", "PreSubmitted", "PendingSubmit")) for s in statuses), statuses
    moved = F.IB_ORDER("recalc", "ORCL", "BUY", 3, "LMT", round(bid * 0.96, 2), None, "DAY", True)
    assert moved.startswith("Submitted")
    rows = ibxl.orders().query("key == 'recalc'")
    assert len(rows) == 1 and rows.iloc[0]["limit"] == round(bid * 0.96, 2)
    assert F.IB_CANCEL("recalc", False).startswith("disarmed")
    assert F.IB_CANCEL("recalc", True).startswith("Cancelled")
    again = F.IB_ORDER("recalc", "ORCL", "BUY", 3, "LMT", limit, None, "DAY", True)
    assert again.startswith("Cancelled") and len(ibxl.orders().query("key == 'recalc'")) == 1
