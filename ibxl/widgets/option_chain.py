"""OptionChainPanel: calls and puts side by side, the IV smile and term structure, and a payoff diagram.

The chain fills in as it arrives, nearest the money first. A panel people keep open refreshes
the strikes nearest the money with lasting market-data lines (as many as the line budget allows)
and the rest with a new round of snapshots every ``refresh`` seconds."""

from __future__ import annotations

from concurrent.futures import Future

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl
from ibxl.live import free_lines

from ._base import Panel, fmt, show
from .charts import payoff, smile

SIDE_COLUMNS = ["bid", "ask", "last", "iv", "delta", "gamma", "vega", "theta", "open_interest"]
#: columns a lasting line refreshes (from its QuoteSnapshot, same names)
LIVE_COLUMNS = ["bid", "ask", "last", "mid", "volume", "open_interest", "iv", "delta", "gamma", "vega", "theta",
                "und_price"]
#: lines left free for everything else the desk watches
SPARE_LINES = 10


def _digits(column: str) -> int:
    """Decimals shown for a chain column: counts are whole numbers, prices and greeks get three."""
    return 0 if column.endswith("open_interest") else 3


class OptionChainPanel(Panel):
    """An option chain: ``OptionChainPanel("SPY")``; pick the expiry and strike window.

    ``live_lines``: at most this many options (nearest the money) stream on lasting lines, within
    the free line budget; ``refresh``: seconds between snapshot rounds for the other strikes.
    """

    title = "Option chain"

    def __init__(self, underlying: str = "SPY", strikes: int = 6, live_lines: int = 24, refresh: float = 30.0,
                 **kwargs: object) -> None:
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
        #: options arrived and options in the chain being loaded
        self.loaded, self.total = 0, 0
        self.live_lines = live_lines
        self._handles: dict[str, ibxl.QuoteHandle] = {}
        self._seen_versions = -1
        self._generation = 0
        self.on_close(self._release_lines)
        self.every(refresh, self._refresh_snapshots)
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
        """Fetch the chain in the background; the table fills in as options arrive."""
        und, exp, n = self.underlying.value, self.expiry.value, self.window.value
        self._generation += 1
        generation = self._generation
        self._release_lines()

        def fetch() -> tuple[pd.DataFrame, pd.DataFrame | None]:
            main = pd.DataFrame()
            for main in ibxl.chain_stream(und, expiries=[exp] if exp else None, strikes=n):
                if self.closed or generation != self._generation:
                    break  # closing the stream cancels what has not been sent
                self.chain, self.loaded, self.total = main, main.attrs["loaded"], main.attrs["total"]
                self.set_status(f"loading {self.loaded}/{self.total}…")
                self.mark_dirty()
            if generation != self._generation:
                # a newer load replaced this one (and released the lines): open nothing for the old chain
                return main, None
            if not main.empty:
                self._set_legs(main, exp)
            self._open_lines(main)
            terms = ibxl.option_chain(und, expiries=ibxl.expiries(und)[:4], strikes=1)
            return main, terms

        def done(result: tuple[pd.DataFrame, pd.DataFrame | None]) -> None:
            df, terms = result
            if generation == self._generation:
                self.chain, self.terms = df, terms

        self.run_in_background(fetch, done, busy=f"loading the {und} chain…")

    def _set_legs(self, df: pd.DataFrame, expiry: str | None) -> None:
        strikes = sorted(df[df["expiry"] == (expiry or df["expiry"].min())]["strike"].unique())
        self.leg_strike.options = strikes
        if strikes:
            self.leg_strike.value = strikes[len(strikes) // 2]

    # -------------------------------------------------------------- lasting lines and snapshot rounds
    def line_budget(self) -> int:
        """Lasting lines this panel may hold: ``live_lines``, within the lines nobody else uses."""
        free = free_lines() - SPARE_LINES + len(self._handles)
        return max(0, min(self.live_lines, free))

    def _open_lines(self, chain: pd.DataFrame) -> None:
        """Stream the options nearest the money (the middle of the table) on lasting lines."""
        if chain.empty or self.closed:
            return
        spot = chain["und_price"].median()
        nearest = chain.assign(_d=(chain["strike"] - spot).abs()).sort_values(["_d", "right"], kind="stable")
        for text in nearest["contract"].head(self.line_budget()):
            if text not in self._handles and not self.closed:
                self._handles[text] = ibxl.subscribe(text, owner=self)

    def _release_lines(self) -> None:
        handles, self._handles = self._handles, {}
        for h in handles.values():
            h.release()

    def _refresh_snapshots(self) -> Future | None:
        """A new round of snapshots for the strikes without a line (the chain reads lines as they are)."""
        if self.chain is None or self.chain.empty or self.loaded < self.total:
            return None
        und, exp, n, generation = self.underlying.value, self.expiry.value, self.window.value, self._generation

        def fetch() -> pd.DataFrame:
            return ibxl.option_chain(und, expiries=[exp] if exp else None, strikes=n)

        def done(df: pd.DataFrame) -> None:
            if generation == self._generation:
                self.chain = df

        return self.run_in_background(fetch, done, busy="")

    def _data_changed(self) -> bool:
        # the refresh hub may ask before __init__ has finished
        versions = sum(h.version for h in list(getattr(self, "_handles", {}).values()))
        if versions != getattr(self, "_seen_versions", -1):
            self._seen_versions = versions
            return True
        return False

    def live_contracts(self) -> list[str]:
        """The options this panel streams on lasting lines."""
        return list(self._handles)

    def rows(self) -> pd.DataFrame:
        """Calls and puts of the chosen expiry side by side, one row per strike."""
        if self.chain is None:
            return pd.DataFrame()
        df = self.chain[self.chain["expiry"] == (self.expiry.value or self.chain["expiry"].min())].copy()
        for i, text in df["contract"].items():
            h = self._handles.get(text)
            snap = h.snapshot() if h is not None else None
            if snap is not None and snap.has_data:
                for col in LIVE_COLUMNS:
                    v = getattr(snap, col)
                    if v == v:
                        df.at[i, col] = v
        calls = df[df.right == "C"].set_index("strike")[SIDE_COLUMNS].add_prefix("call_")
        puts = df[df.right == "P"].set_index("strike")[SIDE_COLUMNS].add_prefix("put_")
        return calls.join(puts, how="outer").sort_index()

    def render(self) -> None:
        side = self.rows()
        if side.empty:
            return
        note = f"<span class='ibxl-chain-loading'> loading {self.loaded}/{self.total}</span>" \
            if self.loaded < self.total else ""
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
        self.table.value = (f"<div><b>calls</b> | <b>puts</b>{note}</div><table class='ibxl-table'><tr>{head}</tr>"
                            + "".join(body) + "</table>")
        if self.loaded < self.total:
            return  # the smile is drawn once the chain is complete
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
