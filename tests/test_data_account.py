"""Account, research and reference functions: columns and values against the embedded gateway."""

from __future__ import annotations

import pandas as pd
import pytest

import ibxl
from ibxl.account import PORTFOLIO_COLUMNS, POSITION_COLUMNS


@pytest.fixture(scope="module")
def holding(ibxl_sim):
    import os

    os.environ["IBXL_TRADING"] = "paper"
    try:
        ibxl.order("JPM", "BUY", 20, "MKT", key="acct-jpm")
        ibxl.order("SPY", "BUY", 5, "MKT", key="acct-spy")
    finally:
        os.environ.pop("IBXL_TRADING", None)
    return ibxl_sim


def test_positions_and_portfolio(holding):
    pos = ibxl.positions()
    assert list(pos.columns) == POSITION_COLUMNS
    assert pos.set_index("symbol").loc["JPM", "position"] == 20
    import time

    time.sleep(3.2)  # the portfolio marks refresh every few seconds
    pf = ibxl.portfolio()
    assert list(pf.columns) == PORTFOLIO_COLUMNS
    row = pf.set_index("symbol").loc["JPM"]
    assert row.market_value == pytest.approx(row.position * row.market_price, rel=1e-3)


def test_account_summary_and_value(holding):
    s = ibxl.account_summary()
    for tag in ("NetLiquidation", "TotalCashValue", "BuyingPower", "InitMarginReq", "GrossPositionValue"):
        assert tag in s.index
    assert ibxl.account_value("NetLiquidation") > 900_000
    with pytest.raises(KeyError, match="available"):
        ibxl.account_value("NoSuchTag")
    only = ibxl.account_summary(["NetLiquidation"])
    assert list(only.index) == ["NetLiquidation"]


def test_pnl(holding):
    p = ibxl.pnl()
    assert list(p.columns) == ["daily_pnl", "unrealized_pnl", "realized_pnl"]
    assert p.iloc[0]["unrealized_pnl"] == p.iloc[0]["unrealized_pnl"]


def test_scanner_news_bulletins(holding):
    df = ibxl.scanner("MOST_ACTIVE", {"priceAbove": 50}, rows=10)
    assert list(df.columns) == ["rank", "contract", "symbol", "sec_type", "exchange", "currency", "last", "change",
                                "change_pct", "volume"]
    assert list(df["rank"]) == list(range(1, len(df) + 1)) and 1 <= len(df) <= 10
    # the figures are snapshots taken just after the scan: a price near the filter may have moved a little
    assert df.attrs["ranked_by"] == "volume" and (df["last"] > 45).all() and df["volume"].notna().all()
    params = ibxl.scanner_parameters()
    assert "TOP_PERC_GAIN" in params["scan_codes"] and "priceAbove" in params["filters"]
    with pytest.raises(ibxl.IBError) as exc:
        ibxl.scanner("NO_SUCH_SCAN")
    assert exc.value.code == 162
    news = ibxl.news("AAPL", 5)
    assert list(news.columns) == ["time", "provider", "article_id", "headline", "contract"] and len(news) == 5
    assert news["time"].dt.tz is not None
    assert news.iloc[0]["headline"] in ibxl.article(news.iloc[0]["provider"], news.iloc[0]["article_id"])
    portfolio_news = ibxl.news(n=3)
    assert set(portfolio_news["contract"]) <= {"JPM", "SPY"} and len(portfolio_news) > 0
    b = ibxl.bulletins()
    assert list(b.columns) == ["id", "type", "message", "exchange"] and "exchange available" in set(b["type"])


@pytest.mark.parametrize(("code", "column"), [("HIGH_OPT_IMP_VOLAT", "iv"), ("OPT_VOLUME_MOST_ACTIVE", "option_volume"),
                                              ("MOST_ACTIVE_USD", "dollar_volume"), ("TOP_PERC_GAIN", "change_pct")])
def test_scanner_rows_carry_the_figure_they_are_ranked_by(holding, code, column):
    from ibxl.live import registry

    before = registry().lines_open()
    df = ibxl.scanner(code, rows=6)
    assert df.attrs["ranked_by"] == column and len(df) == 6
    assert df[["last", "change", "change_pct", "volume", column]].notna().all().all(), df
    assert (df[column] > 0).all() or column == "change_pct"
    assert registry().lines_open() == before, "figures come from snapshots: no line stays open"


def test_scanner_figures_fit_the_free_market_data_lines(holding):
    from ibxl.live import registry

    lines = registry()
    saved = lines.max_lines
    lines.max_lines = lines.lines_open() + 2  # two lines free: the 7 rows are priced 2 at a time
    try:
        df = ibxl.scanner("TOP_PERC_LOSE", rows=7)
    finally:
        lines.max_lines = saved
    assert len(df) == 7 and df[["last", "change_pct", "volume"]].notna().all().all(), df


def test_reference(holding):
    d = ibxl.contract_details("AAPL")
    assert d["conId"] == 265598 and d["minTick"] == 0.01
    found = ibxl.search("MS")
    assert "MSFT" in set(found["symbol"])
    book = ibxl.depth("AAPL", rows=5)
    assert len(book) == 5 and (book["bid_price"] < book["ask_price"]).all()
    assert book["bid_price"].is_monotonic_decreasing and book["ask_price"].is_monotonic_increasing


def test_analytics_on_portfolio(holding):
    from ibxl import analytics

    pf = ibxl.portfolio()
    w = analytics.allocation(pf, by="symbol")
    assert w.sum() == pytest.approx(1.0) and set(w.index) >= {"JPM", "SPY"}
    assert analytics.margin_utilisation(ibxl.account_summary()) > 0
    assert isinstance(analytics.pnl_breakdown(pf), pd.Series)
