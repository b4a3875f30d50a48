"""HistoryChart: candles and volume from ibxl.history with indicator toggles."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl

from ._base import Panel, show
from .charts import candles

INDICATORS = ("SMA", "EMA", "Bollinger", "RSI", "MACD")


class HistoryChart(Panel):
    """Candles for a contract: ``HistoryChart("AAPL", duration="6 M", bar_size="1 day")``."""

    title = "History"

    def __init__(self, contract: str = "AAPL", duration: str = "6 M", bar_size: str = "1 day",
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-history-chart")
        self.contract = W.Text(value=contract, layout=W.Layout(width="200px"))
        self.duration = W.Dropdown(options=["5 D", "1 M", "3 M", "6 M", "1 Y", "2 Y"], value=duration
                                   if duration in ("5 D", "1 M", "3 M", "6 M", "1 Y", "2 Y") else "6 M")
        self.bar_size = W.Dropdown(options=["5 mins", "1 hour", "1 day", "1 week"], value=bar_size
                                   if bar_size in ("5 mins", "1 hour", "1 day", "1 week") else "1 day")
        self.toggles = W.ToggleButtons(options=INDICATORS, value=None, tooltips=list(INDICATORS))
        self.chosen: set[str] = set()
        self.toggles.observe(self._toggle, "value")
        self.progress = W.IntProgress(min=0, max=1, value=0, layout=W.Layout(width="200px", visibility="hidden"))
        self.load_button = W.Button(description="Load", button_style="primary")
        self.load_button.on_click(lambda _: self.load())
        self.out = W.Output()
        self.data: pd.DataFrame | None = None
        self.body.children = [W.HBox([self.contract, self.duration, self.bar_size, self.load_button, self.progress]),
                              self.toggles, self.out]
        self.load()

    def _toggle(self, change: dict) -> None:
        if change["new"]:
            self.chosen ^= {change["new"]}
            self.toggles.value = None
            self.set_status("indicators: " + (", ".join(sorted(self.chosen)) or "none"))
            self.mark_dirty()

    def load(self) -> None:
        """Fetch the bars in the background (the store makes a repeat instant)."""
        self.progress.layout.visibility = "visible"
        self.progress.value = 0
        contract, duration, bar = self.contract.value, self.duration.value, self.bar_size.value

        def done(df: pd.DataFrame) -> None:
            self.data = df
            self.progress.value = 1
            self.progress.layout.visibility = "hidden"

        self.run_in_background(lambda: ibxl.history(contract, duration=duration, bar_size=bar), done,
                               busy=f"loading {contract} {duration} of {bar} bars…")

    def render(self) -> None:
        if self.data is None or self.data.empty:
            return
        fig = candles(self.data, f"{self.contract.value} {self.bar_size.value}", self.chosen)
        show(self.out, fig)
        plt.close(fig)
