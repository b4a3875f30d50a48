"""NewsPanel: headlines for a contract or the portfolio; click one to read it; bulletins."""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd

import ibxl

from ._base import Panel


class NewsPanel(Panel):
    """Headlines (``NewsPanel("AAPL")``, or the portfolio's with no contract) and IB bulletins."""

    title = "News"

    def __init__(self, contract: str | None = None, n: int = 10, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-news")
        self.contract = W.Text(value=contract or "", placeholder="contract, or empty for the portfolio")
        self.load_button = W.Button(description="Headlines", button_style="primary")
        self.pick = W.Select(options=[], rows=8, layout=W.Layout(width="95%"))
        self.article = W.HTML()
        self.bulletins = W.HTML()
        self.items = pd.DataFrame()
        self.n = n
        self.load_button.on_click(lambda _: self.load())
        self.pick.observe(self._read, "value")
        self.body.children = [W.HBox([self.contract, self.load_button]), self.pick, self.article, self.bulletins]
        self.load()

    def load(self) -> None:
        """Fetch headlines and bulletins in the background."""
        contract = self.contract.value.strip() or None

        def done(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
            self.items, b = result
            self.pick.options = [(f"{str(r['time'])[:16]}  {r['contract']}: {r['headline']}", i)
                                 for i, r in self.items.iterrows()]
            self.bulletins.value = "<b>Bulletins</b><br>" + "<br>".join(html.escape(m) for m in b["message"])

        self.run_in_background(lambda: (ibxl.news(contract, self.n), ibxl.bulletins()), done, busy="loading news…")

    def _read(self, change: dict) -> None:
        if change["new"] is None or self.items.empty:
            return
        row = self.items.loc[change["new"]]
        self.run_in_background(lambda: ibxl.article(row["provider"], row["article_id"]),
                               lambda text: setattr(self.article, "value",
                                                    "<div style='white-space:pre-wrap'>" + html.escape(text)
                                                    + "</div>"), busy="loading the article…")
