"""OptionChainPanel: calls and puts side by side, the IV smile and term structure, and a payoff diagram."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl

from ._base import Panel, fmt, show
from .charts import payoff, smile

SIDE_COLUMNS = ["bid", "ask", "last", "iv", "delta", "gamma", "vega", "theta", "open_interest"]


def _digits(column: str) -> int:
    """Decimals shown for a chain column: counts are whole numbers, prices and greeks get three."""
    return 0 if column.endswith("open_interest") else 3


class OptionChainPanel(Panel):
    """An option chain: ``OptionChainPanel("SPY")``; pick the expiry and strike window."""

    title = "Option chain"

    def __init__(self, underlying: str = "SPY", strikes: int = 6, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-option-chain")
        self.underlying = W.Text(value=underlying, layout=W.Layout(width="140px"))
        self.expiry = W.Dropdown(options=[], layout=W.Layout(width="220px"), description="expiry")
        self.window = W.IntSlider(value=strikes, min=2, max=20, description="strikes ±")
        self.load_button = W.Button(description="Load", button_style="primary")
        self.table = W.HTML()
        self.table.add_class("ibxl-chain-table")
        self.plot = W.Output()
        self.leg_strike = W.Dropdown(options=[], description="leg", layout=W.Layout(width="200px"))
        self.leg_right = W.ToggleButtons(options=["C", "P"], value="C")
        self.leg_qty = W.IntText(value=1, description="qty", layout=W.Layout(width="140px"))
        self.payoff_button = W.Button(description="Payoff")
        self.payoff_out = W.Output()
        self.chain: pd.DataFrame | None = None
        self.terms: pd.DataFrame | None = None
        self.load_button.on_click(lambda _: self.load())
        self.payoff_button.on_click(lambda _: self.show_payoff())
        self.body.children = [W.HBox([self.underlying, self.expiry, self.window, self.load_button]), self.table,
                              self.plot, W.HBox([self.leg_strike, self.leg_right, self.leg_qty, self.payoff_button]),
                              self.payoff_out]
        self.run_in_background(lambda: ibxl.expiries(underlying), self._got_expiries, busy="loading expiries…")

    def _got_expiries(self, expiries: list[str]) -> None:
        self.expiry.options = expiries[:12]
        if expiries:
            self.expiry.value = expiries[0]
        self.load()

    def load(self) -> None:
        """Fetch the chain (quotes, greeks and open interest) in the background."""
        und, exp, n = self.underlying.value, self.expiry.value, self.window.value

        def fetch() -> tuple[pd.DataFrame, pd.DataFrame]:
            main = ibxl.option_chain(und, expiries=[exp] if exp else None, strikes=n)
            terms = ibxl.option_chain(und, expiries=ibxl.expiries(und)[:4], strikes=1)
            return main, terms

        def done(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
            df, self.terms = result
            self.chain = df
            strikes = sorted(df[df["expiry"] == (exp or df["expiry"].min())]["strike"].unique())
            self.leg_strike.options = strikes
            if strikes:
                self.leg_strike.value = strikes[len(strikes) // 2]

        self.run_in_background(fetch, done, busy=f"loading the {und} chain…")

    def rows(self) -> pd.DataFrame:
        """Calls and puts of the chosen expiry side by side, one row per strike."""
        if self.chain is None:
            return pd.DataFrame()
        df = self.chain[self.chain["expiry"] == (self.expiry.value or self.chain["expiry"].min())]
        calls = df[df.right == "C"].set_index("strike")[SIDE_COLUMNS].add_prefix("call_")
        puts = df[df.right == "P"].set_index("strike")[SIDE_COLUMNS].add_prefix("put_")
        return calls.join(puts, how="outer").sort_index()

    def render(self) -> None:
        side = self.rows()
        if side.empty:
            return
        cols = [f"call_{c}" for c in SIDE_COLUMNS[::-1]] + [f"put_{c}" for c in SIDE_COLUMNS]
        head = "".join(f"<th style='padding:2px 6px'>{c.split('_', 1)[1]}</th>" for c in cols[:9]) + \
            "<th style='padding:2px 8px'>strike</th>" + \
            "".join(f"<th style='padding:2px 6px'>{c.split('_', 1)[1]}</th>" for c in cols[9:])
        body = []
        for strike, row in side.iterrows():
            cells = "".join(f"<td style='text-align:right'>{fmt(row[c], _digits(c))}</td>" for c in cols[:9])
            cells += f"<td style='text-align:center;font-weight:bold'>{strike:g}</td>"
            cells += "".join(f"<td style='text-align:right'>{fmt(row[c], _digits(c))}</td>" for c in cols[9:])
            body.append(f"<tr class='ibxl-chain-row'>{cells}</tr>")
        self.table.value = (f"<div><b>calls</b> | <b>puts</b></div><table class='ibxl-table'><tr>{head}</tr>"
                            + "".join(body) + "</table>")
        if self.chain is None:
            return
        both = pd.concat([self.chain, self.terms]) if self.terms is not None else self.chain
        fig = smile(both.drop_duplicates("contract"), self.underlying.value)
        show(self.plot, fig)
        plt.close(fig)

    def show_payoff(self) -> None:
        """Draw the payoff at expiry of the chosen leg."""
        if self.chain is None or self.leg_strike.value is None:
            return
        df = self.chain[(self.chain["strike"] == self.leg_strike.value) & (self.chain["right"] == self.leg_right.value)]
        if df.empty:
            return
        row = df.iloc[0]
        premium = row["mid"] if row["mid"] == row["mid"] else row["ask"]
        fig = payoff([(self.leg_right.value, float(row["strike"]), float(premium or 0), self.leg_qty.value)],
                     float(row["und_price"]))
        show(self.payoff_out, fig)
        plt.close(fig)
