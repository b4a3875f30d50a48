"""QuoteBoard: a live table of quotes with up/down colouring, sparklines and stale marking."""

from __future__ import annotations

import html
from collections import deque

import ipywidgets as W

import ibxl

from ._base import Panel, change_colour, error_text, fmt
from .charts import sparkline


class QuoteBoard(Panel):
    """Live quotes for contracts typed as text (``QuoteBoard(["AAPL", "EUR.USD/CASH"])``)."""

    title = "Quotes"

    def __init__(self, contracts: list[str] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("ibxl-quote-board")
        self._handles: dict[str, ibxl.QuoteHandle] = {}
        self._history: dict[str, deque[float]] = {}
        self._last: dict[str, float] = {}
        self._seen_versions = -1
        self._seq: dict[str, int] = {}
        self._added = 0
        self.entry = W.Text(placeholder="add a contract: AAPL, EUR.USD/CASH, ES 202612 ...",
                            layout=W.Layout(width="320px"))
        self.add_button = W.Button(description="Add", button_style="primary")
        self.remove_pick = W.Dropdown(options=[], layout=W.Layout(width="200px"))
        self.remove_button = W.Button(description="Remove")
        self.table = W.HTML()
        self.table.add_class("ibxl-quote-table")
        self.add_button.on_click(lambda _: self.add(self.entry.value))
        self.remove_button.on_click(lambda _: self.remove(self.remove_pick.value))
        self.body.children = [W.HBox([self.entry, self.add_button, self.remove_pick, self.remove_button]), self.table]
        self.on_close(self._release_all)
        for c in contracts or []:
            self.add(c)
        self.mark_dirty()

    def add(self, contract: str) -> None:
        """Start showing a contract (any text the data layer accepts); errors show in the status line."""
        text = (contract or "").strip()
        if not text:
            return
        self._added += 1
        seq = self._added  # rows keep the order contracts were added in, however subscriptions finish
        def subscribe() -> tuple[str, ibxl.QuoteHandle]:
            handle = ibxl.subscribe(text, owner=self)
            return handle.contract, handle

        def done(result: tuple[str, ibxl.QuoteHandle]) -> None:
            key, handle = result
            if key in self._handles or self.closed:
                handle.release()
                return
            self._handles[key] = handle
            self._seq[key] = seq
            self._history[key] = deque(maxlen=60)
            self.remove_pick.options = self.contracts
            self.entry.value = ""

        try:
            self.run_in_background(subscribe, done, busy=f"subscribing {text}…")
        except Exception as exc:  # shown to the user
            self.set_status(error_text(exc), error=True)

    def remove(self, contract: str | None) -> None:
        """Stop showing a contract and release its line."""
        key = contract or ""
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.release()
            self._history.pop(key, None)
            self.remove_pick.options = self.contracts
            self.mark_dirty()

    def _release_all(self) -> None:
        for h in self._handles.values():
            h.release()
        self._handles.clear()

    @property
    def contracts(self) -> list[str]:
        """The contracts on the board."""
        return sorted(self._handles, key=lambda k: self._seq.get(k, 0))

    def _data_changed(self) -> bool:
        total = sum(h.version for h in self._handles.values())
        if total != self._seen_versions:
            self._seen_versions = total
            return True
        return False

    def rows(self) -> list[dict]:
        """The board's current rows (contract, price, bid, ask, last, change, change_pct, volume, stale);
        price is the last trade within the bid/ask, else the midpoint, else the close."""
        out = []
        for key in self.contracts:
            h = self._handles.get(key)
            if h is None:
                continue
            s = h.snapshot()
            out.append({"contract": key, "price": s.price, "bid": s.bid, "ask": s.ask, "last": s.last,
                        "change": s.change, "change_pct": s.change_pct, "volume": s.volume, "stale": s.stale})
        return out

    def render(self) -> None:
        head = "".join(f"<th style='text-align:right;padding:2px 8px'>{h}</th>"
                       for h in ("price", "bid", "ask", "last", "chg", "chg %", "volume", "trend"))
        lines = [f"<table class='ibxl-table'><tr><th style='text-align:left'>contract</th>{head}</tr>"]
        for row in self.rows():
            key = row["contract"]
            price = row["price"]
            prev = self._last.get(key)
            if price == price:
                self._history[key].append(price)
                self._last[key] = price
            moved = 0.0 if prev is None else price - prev
            tick = change_colour(moved)
            chg = change_colour(row["change"])
            stale = " <span style='color:#b00020'>(stale)</span>" if row["stale"] else ""
            lines.append(
                f"<tr class='ibxl-quote-row' data-contract='{html.escape(key)}'><td>{html.escape(key)}{stale}</td>"
                f"<td class='ibxl-quote-price' style='text-align:right;color:{tick}'>"
                f"{fmt(price, 4 if price < 10 else 2)}</td>"
                f"<td class='ibxl-bid' style='text-align:right'>{fmt(row['bid'], 4 if row['bid'] < 10 else 2)}</td>"
                f"<td class='ibxl-ask' style='text-align:right'>{fmt(row['ask'], 4 if row['ask'] < 10 else 2)}</td>"
                f"<td class='ibxl-last' style='text-align:right'>{fmt(row['last'], 4 if row['last'] < 10 else 2)}</td>"
                f"<td style='text-align:right;color:{chg}'>{fmt(row['change'])}</td>"
                f"<td style='text-align:right;color:{chg}'>{fmt(row['change_pct'])}</td>"
                f"<td style='text-align:right'>{fmt(row['volume'], 0)}</td>"
                f"<td style='font-family:monospace'>{sparkline(list(self._history[key]))}</td></tr>")
        lines.append("</table>")
        self.table.value = "".join(lines)
