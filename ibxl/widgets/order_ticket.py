"""OrderTicket: preview an order (commission, margin change) before a confirmed send."""

from __future__ import annotations

import html
import uuid

import ipywidgets as W

import ibxl

from ._base import Panel, fmt


class OrderTicket(Panel):
    """An order ticket that previews with what-if and sends only after an explicit confirm."""

    title = "Order ticket"

    def __init__(self, contract: str = "AAPL", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-order-ticket")
        self.contract = W.Text(value=contract, description="contract")
        self.side = W.ToggleButtons(options=["BUY", "SELL"], value="BUY")
        self.qty = W.FloatText(value=100, description="quantity")
        self.kind = W.Dropdown(options=["LMT", "MKT", "STP", "STP LMT"], value="LMT", description="type")
        self.limit = W.FloatText(value=0.0, description="limit")
        self.stop = W.FloatText(value=0.0, description="stop")
        self.tif = W.Dropdown(options=["DAY", "GTC", "IOC"], value="DAY", description="TIF")
        self.bracket = W.Checkbox(value=False, description="bracket")
        self.take_profit = W.FloatText(value=0.0, description="take profit")
        self.stop_loss = W.FloatText(value=0.0, description="stop loss")
        self.preview_button = W.Button(description="Preview", button_style="info")
        self.confirm = W.Checkbox(value=False, description="I confirm this order")
        self.send_button = W.Button(description="Send", button_style="danger", disabled=True)
        self.preview = W.HTML()
        self.result = W.HTML()
        self.preview_button.on_click(lambda _: self.do_preview())
        self.send_button.on_click(lambda _: self.send())
        self.confirm.observe(lambda ch: setattr(self.send_button, "disabled", not ch["new"]), "value")
        self.key = f"ticket-{uuid.uuid4().hex[:8]}"
        self.body.children = [self.contract, self.side, W.HBox([self.qty, self.kind, self.tif]),
                              W.HBox([self.limit, self.stop]), W.HBox([self.bracket, self.take_profit,
                                                                       self.stop_loss]),
                              self.preview_button, self.preview, W.HBox([self.confirm, self.send_button]),
                              self.result]
        self.set_status(f"trading is {ibxl.trading_mode()}")

    def _args(self) -> dict:
        return {"contract": self.contract.value, "side": self.side.value, "qty": self.qty.value,
                "type": self.kind.value, "limit": self.limit.value or None, "stop": self.stop.value or None,
                "tif": self.tif.value}

    def do_preview(self) -> None:
        """Show commission and margin impact (works with trading off)."""
        args = self._args()

        def done(w: dict) -> None:
            self.preview.value = ("<div class='ibxl-preview'>" + " · ".join(
                f"{html.escape(k)}: <b>{fmt(v)}</b>" for k, v in w.items()) + "</div>")

        self.run_in_background(lambda: ibxl.what_if(**args), done, busy="asking TWS what if…")

    def send(self) -> None:
        """Send once confirmed; the ticket's key makes a double click harmless."""
        if not self.confirm.value:
            self.set_status("tick the confirm box first", error=True)
            return
        args = self._args()
        bracket = (self.take_profit.value, self.stop_loss.value) if self.bracket.value else None

        def done(r: ibxl.OrderResult) -> None:
            self.result.value = (f"<div class='ibxl-order-status'>order {r.order_id}: <b>{html.escape(r.status)}</b>"
                                 f" filled {r.filled:g} @ {fmt(r.avg_fill_price)} {html.escape(r.message)}</div>")
            self.confirm.value = False
            self.key = f"ticket-{uuid.uuid4().hex[:8]}"

        self.run_in_background(lambda: ibxl.order(**args, bracket=bracket, key=self.key), done, busy="sending…")
