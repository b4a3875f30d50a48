"""AccountPanel: the account at a glance, positions, allocation and risk metrics."""

from __future__ import annotations

from concurrent.futures import Future

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl
from ibxl import analytics

from ._base import Panel, figures_html, fmt, show, table_html

KEY_FIGURES = ("NetLiquidation", "TotalCashValue", "BuyingPower", "InitMarginReq", "RealizedPnL", "UnrealizedPnL")


class AccountPanel(Panel):
    """Net liquidation, cash, buying power, margin used, P&L, positions and allocation, for the
    account picked at the top (one account of the login, or "All" for their total)."""

    title = "Account"

    def __init__(self, refresh_seconds: float = 5.0, account: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-account")
        # options are the login's accounts and "All", filled in on the first load
        self.account_picker = W.Dropdown(options=[account] if account else [], value=account,
                                         description="Account")
        self._filling_picker = False
        self.account_picker.observe(lambda _: None if self._filling_picker else self.refresh(), names="value")
        self.summary = W.HTML()
        self.summary.add_class("ibxl-account-summary")
        self.positions = W.HTML()
        self.chart = W.Output()
        self.refresh_button = W.Button(description="Refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.body.children = [W.HBox([self.account_picker, self.refresh_button]), self.summary, self.positions,
                              self.chart]
        self.figures: dict[str, float] = {}
        self.portfolio = pd.DataFrame()
        self.daily = float("nan")
        self.refresh()
        self.every(refresh_seconds, self.refresh)

    def refresh(self) -> Future:
        """Reload the account in the background (also every ``refresh_seconds``)."""

        account = self.account_picker.value or None

        def fetch() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
            return (ibxl.account_summary(account=account), ibxl.portfolio(account), ibxl.pnl(account),
                    ibxl.managed_accounts())

        def done(result: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]) -> None:
            summary, portfolio, pnl, accounts = result
            if "value" not in summary.columns:  # several accounts: their Total column
                summary = summary[["Total"]].rename(columns={"Total": "value"})
            self.portfolio = portfolio[portfolio["account"] != "Total"].reset_index(drop=True)
            self.figures = {k: float(summary.loc[k, "value"]) for k in KEY_FIGURES if k in summary.index}
            self.figures["MarginUsedPct"] = analytics.margin_utilisation(summary) * 100
            self.daily = float(pnl.iloc[-1]["daily_pnl"])
            options = [*accounts, "All"]
            if list(self.account_picker.options) != options:
                chosen = self.account_picker.value or accounts[0]
                # filling in the choices is not a choice: the figures shown are already this account's
                self._filling_picker = True
                try:
                    self.account_picker.options = options
                    self.account_picker.value = chosen if chosen in options else accounts[0]
                finally:
                    self._filling_picker = False

        return self.run_in_background(fetch, done, busy="loading the account…")

    def render(self) -> None:
        self.summary.value = figures_html({**self.figures, "DailyPnL": self.daily})
        pf = self.portfolio
        if pf.empty:
            self.positions.value = "<i>no positions</i>"
            return
        cols = ["symbol", "sec_type", "position", "market_price", "market_value", "avg_cost", "unrealized_pnl",
                "realized_pnl"]
        self.positions.value = table_html(cols, ([fmt(r[c]) for c in cols] for _, r in pf.iterrows()))
        fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.6))
        analytics.allocation(pf, "sec_type").plot.pie(ax=a, autopct="%.0f%%", ylabel="", title="by asset class")
        analytics.allocation(pf, "symbol").plot.bar(ax=b, title="by symbol")
        fig.tight_layout()
        show(self.chart, fig)
        plt.close(fig)

    def risk(self, contract: str, duration: str = "1 Y") -> pd.Series:
        """Volatility, Sharpe, Sortino and maximum drawdown of a holding from its history."""
        return analytics.risk_metrics(ibxl.history(contract, duration=duration)["close"])
