"""StrategyPanel: build an option strategy, watch its combo quote, greeks and payoff, and send it
through the order ticket's preview and confirm steps."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

import ibxl
from ibxl.strategies import KINDS, default_strikes

from ._base import Panel, fmt, show
from .order_ticket import OrderTicket


def payoff_figure(table: pd.DataFrame, title: str, spot: float | None = None) -> plt.Figure:
    """The payoff of a strategy: P&L at expiry and today across underlying prices."""
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.plot(table.index, table["expiry"], label="at expiry", color="#1f4e79")
    ax.plot(table.index, table["today"], label="today", color="#c55a11", linestyle="--")
    ax.axhline(0, color="#888", linewidth=0.8)
    if spot is not None and spot == spot:
        ax.axvline(spot, color="#2e7d32", linewidth=0.8, label=f"spot {spot:g}")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("underlying")
    ax.set_ylabel("P&L")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class StrategyPanel(Panel):
    """An option strategy: ``StrategyPanel("SPY", kind="vertical")``. Pick a kind, expiry, strikes
    and right (or type combo legs); see the combo's live bid/ask/mid, net greeks, max profit and
    loss, breakevens, payoff at expiry and today, what-if margin; send it through the ticket."""

    title = "Option strategy"

    def __init__(self, underlying: str = "SPY", kind: str = "vertical", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-strategy")
        self.underlying = W.Text(value=underlying, layout=W.Layout(width="120px"))
        self.kind = W.Dropdown(options=list(KINDS), value=kind, description="kind")
        self.expiry = W.Dropdown(options=[], description="expiry", layout=W.Layout(width="210px"))
        self.far_expiry = W.Dropdown(options=[], description="far", layout=W.Layout(width="190px"))
        self.strikes = W.Text(value="", description="strikes", placeholder="600,610")
        self.right = W.ToggleButtons(options=["C", "P"], value="C")
        self.legs = W.Text(value="", description="legs", layout=W.Layout(width="640px"),
                           placeholder="+1 SPY 20261218 600 C, -1 SPY 20261218 610 C")
        self.build_button = W.Button(description="Build", button_style="primary")
        self.quote = W.HTML()
        self.quote.add_class("ibxl-strategy-quote")
        self.figures = W.HTML()
        self.figures.add_class("ibxl-strategy-figures")
        self.plot = W.Output()
        self.what_if_button = W.Button(description="What-if margin", button_style="info")
        self.margin = W.HTML()
        self.ticket = OrderTicket("", layout=W.Layout(border="1px solid #ddd"))
        self.ticket.qty.value = 1
        self.summary: dict[str, Any] = {}
        self.table: pd.DataFrame | None = None
        self._handle: ibxl.QuoteHandle | None = None
        self._seen = -1
        self._listed: list[float] = []
        self._spot = float("nan")
        self.build_button.on_click(lambda _: self.build())
        self.what_if_button.on_click(lambda _: self.what_if())
        self.kind.observe(lambda _: self._suggest(), "value")
        self.expiry.observe(lambda _: self._suggest(), "value")
        self.on_close(self._release)
        self.on_close(self.ticket.close)
        self.body.children = [
            W.HBox([self.underlying, self.kind, self.expiry, self.far_expiry]),
            W.HBox([self.strikes, self.right, self.build_button]), self.legs, self.quote, self.figures, self.plot,
            W.HBox([self.what_if_button, self.margin]), self.ticket]
        self.run_in_background(self._load_listing, self._got_listing, busy=f"loading {underlying} expiries…")

    # ------------------------------------------------------------ choosing legs
    def _load_listing(self) -> tuple[list[str], list[float], float]:
        und = self.underlying.value
        spot = float(ibxl.quotes(und)["mid"].iloc[0])
        return ibxl.expiries(und), ibxl.strikes(und), spot

    def _got_listing(self, listing: tuple[list[str], list[float], float]) -> None:
        expiries, self._listed, self._spot = listing
        self.expiry.options = expiries[:12]
        self.far_expiry.options = expiries[1:13]
        # the first expiry two weeks out: the nearest ones have little time value to trade
        soon = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=14)
        first = next((i for i, e in enumerate(expiries) if pd.Timestamp(e) >= soon), 0)
        if len(expiries) > first + 1:
            self.expiry.value, self.far_expiry.value = expiries[first], expiries[first + 1]
        self._suggest()
        self.build()

    def _suggest(self) -> None:
        """Strikes around the money for the chosen kind (the user may overwrite them)."""
        if self._listed:
            ks = default_strikes(self.kind.value, self._listed, self._spot)
            self.strikes.value = ",".join(f"{k:g}" for k in ks)
        try:
            self.legs.value = self.combo_from_picker()
        except ibxl.IBXLError as exc:
            self.set_status(str(exc), error=True)

    def combo_from_picker(self) -> str:
        """The combo text the kind, expiry, strikes and right describe."""
        expiry: Any = self.expiry.value
        if self.kind.value == "calendar":
            expiry = (self.expiry.value, self.far_expiry.value)
        return str(ibxl.strategy(self.kind.value, self.underlying.value, expiry, self.strikes.value,
                                 self.right.value))

    def add_leg(self, contract: str, ratio: int = 1) -> None:
        """Add a leg (e.g. an option picked in an OptionChainPanel: ``add_leg("SPY 20261218 600 C", -1)``)
        to the legs box and rebuild; a negative ratio sells it."""
        if not ratio:
            self.set_status("a leg's ratio must not be zero", error=True)
            return
        leg = f"{'+' if ratio > 0 else '-'}{abs(int(ratio))} {ibxl.contract_text(contract)}"
        text = self.legs.value.strip()
        self.legs.value = f"{text}, {leg}" if text else leg
        if self.legs.value.count(",") >= 1:
            self.build()

    # ------------------------------------------------------------ live figures
    def build(self) -> None:
        """Subscribe to the combo in the legs box and compute its figures and payoff."""
        text = self.legs.value.strip()
        if not text:
            return

        def work() -> tuple[ibxl.QuoteHandle, dict[str, Any], pd.DataFrame]:
            handle = ibxl.subscribe(text, owner=self)
            return handle, ibxl.strategy_summary(text), ibxl.payoff(text)

        def done(result: tuple[ibxl.QuoteHandle, dict[str, Any], pd.DataFrame]) -> None:
            self._release()
            self._handle, self.summary, self.table = result
            self.ticket.contract.value = self._handle.contract
            mid = self.summary["mid"]
            self.ticket.limit.value = round(mid if mid == mid else self.summary["cost"] / 100, 2)
            self._draw_figures()
            fig = payoff_figure(self.table, text, self.summary["underlying_price"])
            show(self.plot, fig)
            plt.close(fig)

        self.run_in_background(work, done, busy="pricing the strategy…")

    def _release(self) -> None:
        if self._handle is not None:
            self._handle.release()
            self._handle = None

    def _data_changed(self) -> bool:
        h = getattr(self, "_handle", None)  # the refresh hub may ask before __init__ is done
        return h is not None and h.version != self._seen

    def render(self) -> None:
        h = getattr(self, "_handle", None)
        if h is None:
            return
        self._seen = h.version
        q = h.snapshot()
        self.quote.value = ("<div class='ibxl-strategy-quote'>"
                            f"bid <b class='ibxl-bid'>{fmt(q.bid)}</b> · ask <b class='ibxl-ask'>{fmt(q.ask)}</b>"
                            f" · mid <b class='ibxl-mid'>{fmt(q.mid, 3)}</b>"
                            f"{' (stale)' if q.stale else ''}</div>")

    def _draw_figures(self) -> None:
        s = self.summary

        def money(v: float) -> str:
            return "unlimited" if math.isinf(v) else fmt(v)

        items = [("cost", fmt(s["cost"])), ("max profit", money(s["max_profit"])),
                 ("max loss", money(s["max_loss"])),
                 ("breakevens", ", ".join(f"{b:g}" for b in s["breakevens"]) or "none"),
                 ("delta", fmt(s["delta"])), ("gamma", fmt(s["gamma"], 3)), ("vega", fmt(s["vega"])),
                 ("theta", fmt(s["theta"]))]
        self.figures.value = ("<div class='ibxl-strategy-figures'>" + " · ".join(
            f"{html.escape(k)}: <b>{v}</b>" for k, v in items) + "</div>")

    # ------------------------------------------------------------ margin
    def what_if(self) -> None:
        """Ask TWS for the margin change of buying one combo at its mid (allowed with trading off)."""
        text = self.legs.value.strip()
        mid = self.summary.get("mid", float("nan"))
        limit = round(mid, 2) if mid == mid else None

        def done(w: dict) -> None:
            self.margin.value = (f"<span class='ibxl-margin'>initial margin change <b>{fmt(w['init_margin_change'])}"
                                 f"</b> · commission <b>{fmt(w['commission'])}</b></span>")

        self.run_in_background(lambda: ibxl.what_if(text, "BUY", 1, "LMT", limit), done, busy="asking TWS what if…")
