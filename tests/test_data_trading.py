"""Orders through ibxl: the trading switch, limits, price band, idempotent keys, brackets."""

from __future__ import annotations

import threading

import pytest

import ibxl
from ibxl import trading


@pytest.fixture
def paper(ibxl_sim, monkeypatch):
    monkeypatch.setenv("IBXL_TRADING", "paper")
    return ibxl_sim


def test_trading_is_off_by_default(ibxl_sim):
    assert ibxl.trading_mode() == "off"
    with pytest.raises(ibxl.TradingDisabled, match="IBXL_TRADING=paper"):
        ibxl.order("AAPL", "BUY", 1, "MKT", key="off-1")
    assert ibxl.orders().query("key == 'off-1'").empty


def test_live_mode_needs_allow_live(ibxl_sim, monkeypatch):
    monkeypatch.setenv("IBXL_TRADING", "live")
    assert ibxl.trading_mode() == "off"
    with pytest.raises(ibxl.TradingDisabled, match="IBXL_ALLOW_LIVE"):
        ibxl.order("AAPL", "BUY", 1, "MKT")


def test_live_account_refused_in_paper_mode(paper, monkeypatch):
    monkeypatch.setattr(type(paper), "account", property(lambda self: "U7654321"))
    with pytest.raises(ibxl.TradingDisabled, match="live account"):
        ibxl.order("AAPL", "BUY", 1, "MKT")


def test_paper_order_fills_and_key_is_idempotent(paper):
    r = ibxl.order("MSFT", "BUY", 10, "MKT", key="t-mkt")
    assert r.status == "Filled" and r.filled == 10
    again = ibxl.order("MSFT", "BUY", 10, "MKT", key="t-mkt")
    assert again.order_id == r.order_id and again.status == "Filled"
    assert len(ibxl.orders().query("key == 't-mkt'")) == 1
    ex = ibxl.executions()
    assert ex.query("key == 't-mkt'")["shares"].sum() == 10


def test_same_key_from_sixteen_threads_places_one_order(paper):
    bid = ibxl.quotes("INTC").loc["INTC", "bid"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        ibxl.order("INTC", "BUY", 5, "LMT", limit=round(bid * 0.97, 2), key="t-threads"))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 16 and len({r.order_id for r in results}) == 1
    assert len(ibxl.orders().query("key == 't-threads'")) == 1


def test_changed_price_modifies_and_cancel(paper):
    bid = ibxl.quotes("IBM").loc["IBM", "bid"]
    first = ibxl.order("IBM", "BUY", 3, "LMT", limit=round(bid * 0.97, 2), key="t-mod")
    moved = ibxl.order("IBM", "BUY", 3, "LMT", limit=round(bid * 0.96, 2), key="t-mod")
    assert moved.order_id == first.order_id
    rows = ibxl.orders().query("key == 't-mod'")
    assert len(rows) == 1 and rows.iloc[0]["limit"] == round(bid * 0.96, 2)
    with pytest.raises(ibxl.OrderRejected, match="belongs to a BUY order"):
        ibxl.order("IBM", "SELL", 3, "LMT", limit=round(bid * 0.96, 2), key="t-mod")
    assert ibxl.cancel("t-mod").status == "Cancelled"


def test_key_survives_a_new_connection(paper):
    bid = ibxl.quotes("AMD").loc["AMD", "bid"]
    r = ibxl.order("AMD", "BUY", 2, "LMT", limit=round(bid * 0.97, 2), tif="GTC", key="t-restart")
    paper.call(paper.ib.disconnect)  # the connection drops; ibxl reconnects and recovers orders
    import time

    deadline = time.monotonic() + 15
    while not paper.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    again = ibxl.order("AMD", "BUY", 2, "LMT", limit=round(bid * 0.97, 2), tif="GTC", key="t-restart")
    assert again.order_id == r.order_id
    all_orders = paper.run(lambda: paper.ib.reqAllOpenOrdersAsync())
    assert sum(1 for t in all_orders if t.order.orderRef == "t-restart") == 1
    ibxl.cancel("t-restart")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"qty": 0}, "must be positive"), ({"qty": 1e9}, "over the limit"),
    ({"type": "LMT", "limit": None}, "needs a limit"), ({"side": "HOLD"}, "BUY or SELL"),
    ({"type": "FANCY"}, "order type"), ({"type": "LMT", "limit": 1.0}, "from the market"),
])
def test_limits_and_bad_orders(paper, kwargs, match):
    args = {"contract": "AAPL", "side": "BUY", "qty": 1, "type": "MKT", "limit": None}
    args.update(kwargs)
    with pytest.raises(ibxl.OrderRejected, match=match):
        ibxl.order(**args)


def test_bracket_and_what_if(paper):
    ask = ibxl.quotes("KO").loc["KO", "ask"]
    r = ibxl.order("KO", "BUY", 10, "LMT", limit=round(ask * 1.005, 2), bracket=(round(ask * 1.03, 2),
                                                                                     round(ask * 0.97, 2)),
                   key="t-bracket")
    assert r.status in ("Filled", "Submitted", "PreSubmitted")
    legs = ibxl.orders().query("key.str.startswith('t-bracket')", engine="python")
    assert len(legs) == 3
    w = ibxl.what_if("KO", "BUY", 100, "MKT")
    assert w["commission"] > 0 and w["init_margin_change"] > 0


def test_trading_settings_from_config_file(ibxl_sim, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('trading = "paper"\nmax_order_quantity = 5\n')
    monkeypatch.setenv("IBXL_CONFIG", str(cfg))
    assert trading.trading_mode() == "paper"
    with pytest.raises(ibxl.OrderRejected, match="over the limit of 5"):
        ibxl.order("AAPL", "BUY", 6, "MKT")
    cfg.write_text('tradng = "paper"\n')
    with pytest.raises(ValueError, match="unknown setting"):
        trading.trading_mode()
