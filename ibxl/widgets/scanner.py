"""ScannerPanel: pick a scan code, location and filters from TWS's scanner parameters; each ranked
row shows its last price, change, % change, volume and the figure the scan ranks by."""

from __future__ import annotations

import html
from concurrent.futures import Future

import ipywidgets as W
import pandas as pd

import ibxl

from ._base import Panel, change_colour, fmt

REFRESH_SECONDS = 10.0
#: figure columns of every scanner row -> their headings (the QuoteBoard's)
FIGURES = {"last": "last", "change": "chg", "change_pct": "chg %", "volume": "volume"}


class ScannerPanel(Panel):
    """A market scanner with refreshing ranked rows; picking a row shows its chart."""

    title = "Scanner"

    def __init__(self, code: str = "TOP_PERC_GAIN", rows: int = 15, refresh_seconds: float = 30.0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-scanner")
        self.code = W.Dropdown(options=[code], value=code, description="scan")
        self.location = W.Dropdown(options=["STK.US.MAJOR"], value="STK.US.MAJOR", description="where")
        self.filter_tag = W.Dropdown(options=["priceAbove"], value="priceAbove", description="filter")
        self.filter_value = W.FloatText(value=0.0, layout=W.Layout(width="100px"))
        self.rows_n = W.IntSlider(value=rows, min=5, max=50, description="rows")
        self.run_button = W.Button(description="Scan", button_style="primary")
        self.pick = W.Dropdown(options=[], description="chart")
        self.table = W.HTML()
        self.detail = W.VBox()
        self.results = pd.DataFrame()
        self.run_button.on_click(lambda _: self.scan())
        self.pick.observe(self._picked, "value")
        self.body.children = [W.HBox([self.code, self.location]), W.HBox([self.filter_tag, self.filter_value,
                                                                          self.rows_n, self.run_button]),
                              self.table, self.pick, self.detail]
        self.run_in_background(ibxl.scanner_parameters, self._got_params, busy="loading scanner parameters…")
        self.every(refresh_seconds, self.scan)

    def _got_params(self, params: dict) -> None:
        current = self.code.value
        self.code.options = params["scan_codes"]
        self.code.value = current if current in params["scan_codes"] else params["scan_codes"][0]
        self.location.options = params["locations"]
        self.filter_tag.options = params["filters"]
        self.scan()

    def scan(self) -> Future:
        """Run the scan in the background (also every ``refresh_seconds``)."""
        filters = {self.filter_tag.value: self.filter_value.value} if self.filter_value.value else {}
        code, rows, loc = self.code.value, self.rows_n.value, self.location.value

        def done(df: pd.DataFrame) -> None:
            self.results = df
            self.pick.options = [""] + list(df["contract"])

        return self.run_in_background(lambda: ibxl.scanner(code, filters, rows=rows, location=loc), done,
                                      busy=f"scanning {code}…")

    def _picked(self, change: dict) -> None:
        if change["new"]:
            from .history_chart import HistoryChart
            from .quote_board import QuoteBoard

            for w in self.detail.children:
                w.close()
            self.detail.children = [QuoteBoard([change["new"]]), HistoryChart(change["new"], duration="3 M")]

    def render(self) -> None:
        df = self.results
        if df.empty:
            self.table.value = "<i>no rows</i>"
            return
        ranked = df.attrs.get("ranked_by", "")
        extra = [ranked] if ranked in df.columns and ranked not in FIGURES else []
        columns = ["rank", "symbol", "exchange", *FIGURES, *extra]
        titles = {"rank": "#", "exchange": "exch", **FIGURES}
        head = "".join(f"<th{' class=ibxl-scan-ranked title=ranked' if c == ranked else ''}"
                       f" style='text-align:{'left' if i < 3 else 'right'};padding:2px 8px'>"
                       f"{html.escape(titles.get(c, c.replace('_', ' ')))}</th>" for i, c in enumerate(columns))
        rows = []
        for _, r in df.iterrows():
            colour = change_colour(r.get("change"))
            cells = [f"<td>{r['rank']}</td><td>{html.escape(r['symbol'])}</td><td>{html.escape(r['exchange'])}</td>"]
            for col in FIGURES:
                value = r.get(col)
                style = f"text-align:right;color:{colour}" if col in ("change", "change_pct") else "text-align:right"
                digits = 0 if col == "volume" else 4 if col == "last" and value == value and value < 10 else 2
                cells.append(f"<td class='ibxl-scan-{col.replace('_', '-')}' style='{style}'>{fmt(value, digits)}</td>")
            for col in extra:
                cells.append(f"<td class='ibxl-scan-figure' style='text-align:right'>{fmt(r.get(col))}</td>")
            rows.append(f"<tr class='ibxl-scan-row'>{''.join(cells)}</tr>")
        self.table.value = f"<table class='ibxl-table'><tr>{head}</tr>{''.join(rows)}</table>"
