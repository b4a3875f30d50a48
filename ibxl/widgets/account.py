"""AccountPanel: the account at a glance, positions, allocation and risk metrics."""

from __future__ import annotations

import html
from concurrent.futures import Future

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl
from ibxl import analytics

from ._base import Panel, fmt, show

KEY_FIGURES = ("NetLiquidation", "TotalCashValue", "BuyingPower", "InitMarginReq", "RealizedPnL", "UnrealizedPnL")


class AccountPanel(Panel):
    """Net liquidation, cash, buying power, margin used, P&L, positions and allocation."""

    title = "Account"

    def __init__(self, refresh_seconds: float = 5.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-account")
        self.summary = W.HTML()
        self.summary.add_class("ibxl-account-summary")
        self.positions = W.HTML()
        self.chart = W.Output()
        self.refresh_button = W.Button(description="Refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.body.children = [self.refresh_button, self.summary, self.positions, self.chart]
        self.figures: dict[str, float] = {}
        self.portfolio = pd.DataFrame()
        self.daily = float("nan")
        self.refresh()
        self.every(refresh_seconds, self.refresh)

    def refresh(self) -> Future:
        """Reload the account in the background (also every ``refresh_seconds``)."""

        def fetch() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
            return ibxl.account_summary(), ibxl.portfolio(), ibxl.pnl()

        def done(result: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
            summary, self.portfolio, pnl = result
            self.figures = {k: float(summary.loc[k, "value"]) for k in KEY_FIGURES if k in summary.index}
            self.figures["MarginUsedPct"] = analytics.margin_utilisation(summary) * 100
            self.daily = float(pnl.iloc[0]["daily_pnl"])

        return self.run_in_background(fetch, done, busy="loading the account…")

    def render(self) -> None:
        cells = "".join(f"<div class='ibxl-figure' style='display:inline-block;margin:4px 14px'>"
                        f"<div style='color:#555;font-size:85%'>{html.escape(k)}</div>"
                        f"<div class='ibxl-figure-value' style='font-size:120%'>{fmt(v)}</div></div>"
                        for k, v in {**self.figures, "DailyPnL": self.daily}.items())
        self.summary.value = cells
        pf = self.portfolio
        if pf.empty:
            self.positions.value = "<i>no positions</i>"
            return
        cols = ["symbol", "sec_type", "position", "market_price", "market_value", "avg_cost", "unrealized_pnl",
                "realized_pnl"]
        rows = "".join("<tr>" + "".join(f"<td style='text-align:right;padding:2px 6px'>{fmt(r[c])}</td>"
                                        for c in cols) + "</tr>" for _, r in pf.iterrows())
        self.positions.value = ("<table class='ibxl-table'><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
                                + rows + "</table>")
        fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.6))
        analytics.allocation(pf, "sec_type").plot.pie(ax=a, autopct="%.0f%%", ylabel="", title="by asset class")
        analytics.allocation(pf, "symbol").plot.bar(ax=b, title="by symbol")
        fig.tight_layout()
        show(self.chart, fig)
        plt.close(fig)

    def risk(self, contract: str, duration: str = "1 Y") -> pd.Series:
        """Volatility, Sharpe, Sortino and maximum drawdown of a holding from its history."""
        return analytics.risk_metrics(ibxl.history(contract, duration=duration)["close"])
