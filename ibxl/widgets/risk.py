"""RiskPanel: portfolio greeks in total and by position, the scenario grid as a heat map, and VaR."""

from __future__ import annotations

import html
from concurrent.futures import Future

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

import ibxl

from ._base import Panel, figures_html, fmt, show, table_html

#: the totals shown as figures at the top, by risk-table column
TOTALS = {"market_value": "Market value", "delta": "Delta", "dollar_delta": "Dollar delta",
          "beta_delta": "Beta-weighted delta", "gamma": "Gamma", "vega": "Vega", "theta": "Theta"}
TABLE_COLUMNS = ["contract", "quantity", "price", "market_value", "iv", "delta", "dollar_delta", "gamma", "vega",
                 "theta", "beta", "beta_delta"]


class RiskPanel(Panel):
    """Portfolio risk that refreshes on its own: total greeks, beta-weighted delta, VaR and
    expected shortfall, greeks by position, and the P&L grid of underlying moves × vol shifts."""

    title = "Risk"

    def __init__(self, account: str | list[str] | None = None, refresh_seconds: float = 15.0,
                 moves: list[float] | None = None, vol_shifts: list[float] | None = None, days: float = 0,
                 confidence: float = 0.99, benchmark: str = "SPY", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-risk")
        self.account, self.moves, self.vol_shifts, self.days = account, moves, vol_shifts, days
        self.confidence, self.benchmark = confidence, benchmark
        self.totals = W.HTML()
        self.totals.add_class("ibxl-risk-totals")
        self.table = W.HTML()
        self.heatmap = W.Output()
        self.refresh_button = W.Button(description="Refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.body.children = [self.refresh_button, self.totals, self.table, self.heatmap]
        self.risk = pd.DataFrame()
        self.grid = pd.DataFrame()
        self.var = pd.DataFrame()
        self.refresh()
        self.every(refresh_seconds, self.refresh)

    def refresh(self) -> Future:
        """Recompute risk, scenarios and VaR in the background (also every ``refresh_seconds``)."""

        def fetch() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
            return (ibxl.risk(self.account, benchmark=self.benchmark),
                    ibxl.scenarios(self.moves, self.vol_shifts, self.days, account=self.account,
                                   benchmark=self.benchmark),
                    ibxl.var(self.confidence, 1, "historical", account=self.account))

        def done(result: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
            self.risk, self.grid, self.var = result

        return self.run_in_background(fetch, done, busy="computing risk…")

    def render(self) -> None:
        if self.risk.empty:
            return
        total = self.risk[(self.risk["contract"] == "Total")].iloc[-1]
        figures = {label: total[col] for col, label in TOTALS.items()}
        v = self.var.iloc[-1]
        figures[f"VaR {v['confidence']:.0%} 1d"] = v["var"]
        figures["Expected shortfall"] = v["expected_shortfall"]
        self.totals.value = figures_html(figures)
        cols = (["account"] if self.risk["account"].nunique() > 1 else []) + TABLE_COLUMNS
        rows = ([fmt(r[c]) if c != "contract" else html.escape(r[c]) for c in cols] for _, r in self.risk.iterrows())
        self.table.value = table_html(cols, rows, row_class="ibxl-risk-row")
        self._draw_heatmap()

    def _draw_heatmap(self) -> None:
        grid = self.grid
        values = grid.to_numpy(float)
        span = float(np.nanmax(np.abs(values))) or 1.0
        x0, x1 = float(grid.columns[0]), float(grid.columns[-1])
        y0, y1 = float(grid.index[0]) * 100, float(grid.index[-1]) * 100
        # a one-value axis still gets a cell's width
        x0, x1 = (x0 - 0.5, x1 + 0.5) if x0 == x1 else (x0, x1)
        y0, y1 = (y0 - 0.5, y1 + 0.5) if y0 == y1 else (y0, y1)
        fig, ax = plt.subplots(figsize=(7, 4.2))
        im = ax.imshow(values, aspect="auto", origin="lower", cmap="RdYlGn",
                       norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span),
                       extent=(x0, x1, y0, y1))
        ax.set_xlabel("implied-vol shift (vol points)")
        ax.set_ylabel("underlying move (%)")
        ax.set_title("scenario P&L")
        fig.colorbar(im, ax=ax, label="P&L")
        fig.tight_layout()
        show(self.heatmap, fig)
        plt.close(fig)
