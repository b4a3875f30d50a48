"""Notebook panels against the embedded gateway: models update, redraws are throttled, lines are released."""

from __future__ import annotations

import time

import pytest
from waiting import until as _until

from ibxl.live import registry


def test_quote_board_updates_and_releases(ibxl_sim):
    from ibxl.widgets import QuoteBoard

    board = QuoteBoard(["AAPL", "MSFT", "EUR.USD/CASH"])
    assert _until(lambda: len(board.contracts) == 3)
    assert _until(lambda: all(r["bid"] == r["bid"] for r in board.rows()))
    first = {r["contract"]: r["bid"] for r in board.rows()}
    assert _until(lambda: board.redraws >= 2) and "ibxl-quote-price" in board.table.value
    assert board.table.value.index(">price</th>") < board.table.value.index(">bid</th>"), "Price is the first column"
    assert _until(lambda: all(r["price"] > 0 for r in board.rows())), "a price for every row, forex too"
    fx = next(r for r in board.rows() if r["contract"] == "EUR.USD/CASH")
    assert fx["last"] != fx["last"] and fx["bid"] <= fx["price"] <= fx["ask"], fx
    assert _until(lambda: {r["contract"]: r["bid"] for r in board.rows()} != first), "prices move"
    board.add("APPL")
    assert _until(lambda: "did you mean AAPL" in board.status.value)
    board.remove("MSFT")
    assert board.contracts == ["AAPL", "EUR.USD/CASH"]
    line = registry().line("AAPL")
    held = line.refs
    board.close()
    assert line.refs == held - 1, "closing the panel released its lines"


def test_fifty_contracts_redraw_at_most_four_times_a_second(ibxl_sim):
    from ibxl.widgets import QuoteBoard

    universe = ibxl_sim.sim_gateway.gateway.universe
    symbols = sorted(i.symbol for i in universe.underlyings() if i.secType == "STK")[:50]
    board = QuoteBoard(symbols)
    try:
        assert _until(lambda: len(board.contracts) == 50, timeout=30)
        time.sleep(5.2)
        assert board.redraw_rate(5.0) <= 4.0 + 1e-9
        assert board.redraws > 0
    finally:
        board.close()
    assert all(registry().line(s).refs == 0 for s in symbols[:5])


def _png(out) -> bool:
    """Whether an Output widget holds a real PNG image."""
    import base64

    data = out.outputs[0]["data"] if out.outputs else {}
    return base64.b64decode(data.get("image/png", "")).startswith(b"\x89PNG")


def test_history_chart_and_indicators(ibxl_sim):
    import pandas as pd

    from ibxl.widgets import HistoryChart
    from ibxl.widgets import indicators as ind

    chart = HistoryChart("IBM", duration="6 M")
    assert _until(lambda: chart.data is not None and not chart.data.empty)
    chart.chosen = {"SMA", "Bollinger", "RSI", "MACD"}
    chart.render()
    assert _png(chart.out), "the figure was drawn as a PNG every front end shows"
    close = pd.Series([1.0, 2, 3, 4, 5, 6])
    assert ind.sma(close, 3).iloc[-1] == 5.0
    assert ind.rsi(close, 3).iloc[-1] == 100.0
    assert list(ind.bollinger(close, 3).columns) == ["mid", "upper", "lower"]
    chart.close()


def test_option_chain_panel(ibxl_sim):
    from ibxl.widgets import OptionChainPanel

    panel = OptionChainPanel("SPY", strikes=3)
    assert _until(lambda: panel.chain is not None and 0 < panel.loaded == panel.total, timeout=30)
    side = panel.rows()
    assert len(side) == 7 and {"call_delta", "put_delta", "call_open_interest"} <= set(side.columns)
    assert _until(lambda: "ibxl-chain-row" in panel.table.value)
    assert _until(lambda: bool(panel.plot.outputs))
    assert _png(panel.plot)
    panel.show_payoff()
    assert _png(panel.payoff_out)
    panel.close()


def test_account_panel_and_ticket(ibxl_sim, monkeypatch):
    from ibxl.widgets import AccountPanel, OrderTicket

    ticket = OrderTicket("KO")
    ticket.qty.value, ticket.kind.value = 10, "MKT"
    ticket.do_preview()
    assert _until(lambda: "commission" in ticket.preview.value)
    ticket.send()
    assert "confirm" in ticket.status.value
    monkeypatch.setenv("IBXL_TRADING", "paper")
    ticket.confirm.value = True
    ticket.send()
    assert _until(lambda: "Filled" in ticket.result.value or "Submitted" in ticket.result.value)
    panel = AccountPanel()
    assert _until(lambda: "NetLiquidation" in panel.summary.value and "ibxl-figure-value" in panel.summary.value)
    assert panel.figures["NetLiquidation"] > 0
    risk = panel.risk("KO")
    assert set(risk.index) >= {"volatility", "sharpe", "sortino", "max_drawdown"}
    panel.close()
    ticket.close()


def test_scanner_and_news_panels(ibxl_sim):
    from ibxl.widgets import NewsPanel, ScannerPanel

    scan = ScannerPanel("MOST_ACTIVE", rows=5, refresh_seconds=1)
    assert _until(lambda: not scan.results.empty, timeout=20)
    first = scan.results
    assert _until(lambda: scan.results is not first, timeout=10), "the ranked rows refresh on their own"
    assert _until(lambda: "ibxl-scan-row" in scan.table.value)
    for col in ("last", "change", "change_pct", "volume"):
        assert scan.results[col].notna().all(), (col, scan.results)
    assert scan.results.attrs["ranked_by"] == "volume" and "ibxl-scan-ranked" in scan.table.value
    assert "ibxl-scan-change-pct" in scan.table.value
    assert "#1a7f37" in scan.table.value or "#cf222e" in scan.table.value, "changes in the QuoteBoard's colours"
    scan.pick.value = scan.pick.options[1]
    assert len(scan.detail.children) == 2
    news = NewsPanel("AAPL", n=5)
    assert _until(lambda: len(news.pick.options) == 5)
    news.pick.value = news.pick.options[0][1]
    assert _until(lambda: len(news.article.value) > 100)
    assert "available for trading" in news.bulletins.value
    scan.close()
    news.close()


@pytest.mark.parametrize("name", ["QuoteBoard", "ScannerPanel", "OptionChainPanel", "AccountPanel", "OrderTicket",
                                  "HistoryChart", "NewsPanel"])
def test_every_panel_is_exported_with_help(name):
    import ibxl.widgets as w

    assert getattr(w, name).__doc__
