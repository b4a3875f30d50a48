"""The common shape of every ibxl panel: a titled VBox with a status line, throttled redraws,
background work that never blocks the kernel, and clean-up of subscriptions on close."""

from __future__ import annotations

import base64
import html
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from ._refresh import HUB, MAX_REDRAWS_PER_SECOND

log = logging.getLogger("ibxl.widgets")

# Panels fetch data (history, chains, account) off the kernel thread so that a notebook cell
# returns at once; a small shared pool is plenty.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ibxl-widgets")


@dataclass
class _Timer:
    seconds: float
    next_at: float
    fn: Callable[[], Future | None]
    running: Future | None = None


class Panel(W.VBox):
    """Base class of the ibxl panels (not used directly)."""

    title = "ibxl"

    def __init__(self, **kwargs: Any) -> None:
        self._title = W.HTML(f"<b>{html.escape(self.title)}</b>")
        self.status = W.HTML("", layout=W.Layout(min_height="1.2em"))
        self.body = W.VBox()
        super().__init__([self._title, self.body, self.status], **kwargs)
        self.add_class("ibxl-panel")
        self._dirty = threading.Event()
        self._closed = False
        self.redraws = 0
        self._redraw_times: list[float] = []
        self._cleanups: list[Callable[[], None]] = []
        self._timers: list[_Timer] = []
        HUB.register(self)

    # -------------------------------------------------------------- redraw plumbing
    def mark_dirty(self) -> None:
        """Ask for a redraw on the hub's next beat (cheap; call it as often as you like)."""
        self._dirty.set()

    def _needs_redraw(self) -> bool:
        return not self._closed and (self._dirty.is_set() or self._data_changed())

    def _data_changed(self) -> bool:
        """Override: True when streaming data changed since the last redraw."""
        return False

    def _redraw(self) -> None:
        self._dirty.clear()
        self.render()
        self.redraws += 1
        now = time.monotonic()
        self._redraw_times.append(now)
        if len(self._redraw_times) > 64:
            del self._redraw_times[:32]

    def render(self) -> None:
        """Override: update the widgets from the panel's current data."""

    def redraw_rate(self, window: float = 5.0) -> float:
        """Redraws per second over the last ``window`` seconds (for tests and diagnostics)."""
        now = time.monotonic()
        recent = [t for t in self._redraw_times if now - t <= window]
        return len(recent) / window

    max_redraws_per_second = MAX_REDRAWS_PER_SECOND

    # -------------------------------------------------------------- background work
    def run_in_background(self, fn: Callable[[], Any], done: Callable[[Any], None] | None = None,
                          busy: str = "loading…") -> Future:
        """Run ``fn`` off the kernel thread; show ``busy`` meanwhile and any error plainly after."""
        self.set_status(busy)

        def finish(fut: Future) -> None:
            if self._closed:
                return
            try:
                result = fut.result()
            except Exception as exc:  # shown to the user, never a traceback in the page
                self.set_status(error_text(exc), error=True)
                return
            self.set_status("")
            if done is not None:
                try:
                    done(result)
                except Exception as exc:
                    log.exception("panel update failed")
                    self.set_status(error_text(exc), error=True)
            self.mark_dirty()

        fut = _POOL.submit(fn)
        fut.add_done_callback(finish)
        return fut

    def every(self, seconds: float, fn: Callable[[], Future | None]) -> None:
        """Call ``fn`` every ``seconds`` while the panel is open (0 or less: never). ``fn`` should start
        background work and return its Future; a call is skipped while the previous one still runs."""
        if seconds and seconds > 0:
            self._timers.append(_Timer(seconds, time.monotonic() + seconds, fn))

    def tick(self, now: float) -> None:
        """Run the timers that are due and redraw if the data changed (the refresh thread calls this)."""
        self._run_timers(now)
        if self._needs_redraw():
            self._redraw()

    def _run_timers(self, now: float) -> None:
        if self._closed:
            return
        for t in self._timers:
            if now < t.next_at or (t.running is not None and not t.running.done()):
                continue
            t.next_at = now + t.seconds
            t.running = t.fn()

    def set_status(self, text: str, error: bool = False) -> None:
        """Show a one-line status (red for errors)."""
        colour = "#b00020" if error else "#555"
        self.status.value = f"<span style='color:{colour}'>{html.escape(text)}</span>" if text else ""

    def on_close(self, fn: Callable[[], None]) -> None:
        """Register clean-up (releasing subscriptions) to run when the panel closes."""
        self._cleanups.append(fn)

    def close(self) -> None:
        """Release every subscription the panel holds and close its widgets."""
        if self._closed:
            return
        self._closed = True
        HUB.unregister(self)
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:
                log.exception("panel clean-up failed")
        self._cleanups.clear()
        super().close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed


def error_text(exc: BaseException) -> str:
    """A one-line, plain-language description of an error (with the data layer's hint)."""
    hint = getattr(exc, "hint", "")
    text = str(exc) or type(exc).__name__
    return f"{text} — {hint}" if hint and hint not in text else text


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for a table cell ('' for missing)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value)) if value is not None else ""
    if v != v:
        return ""
    if abs(v) >= 1e6:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def figures_html(figures: dict[str, Any]) -> str:
    """Headline figures side by side: each label small above its value (formatted with :func:`fmt`)."""
    return "".join(f"<div class='ibxl-figure' style='display:inline-block;margin:4px 14px'>"
                   f"<div style='color:#555;font-size:85%'>{html.escape(k)}</div>"
                   f"<div class='ibxl-figure-value' style='font-size:120%'>{fmt(v)}</div></div>"
                   for k, v in figures.items())


def table_html(columns: Iterable[str], rows: Iterable[Iterable[str]], row_class: str = "") -> str:
    """An ``ibxl-table`` with a header of ``columns`` and one right-aligned row per item of ``rows``
    (cell text already formatted and escaped); ``row_class`` names each body row's class."""
    tr = f"<tr class='{row_class}'>" if row_class else "<tr>"
    body = "".join(tr + "".join(f"<td style='text-align:right;padding:2px 6px'>{v}</td>" for v in row) + "</tr>"
                   for row in rows)
    return "<table class='ibxl-table'><tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>" + body + "</table>"


def show(out: W.Output, fig: Any) -> None:
    """Replace what an Output widget shows with a figure (works in every front end and without one)."""
    # A PNG in the output itself: the figure's own repr needs the inline backend's formatter,
    # which the Agg backend (used so panels draw off the kernel thread) does not register.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                             "text/plain": f"<chart: {fig.axes[0].get_title() if fig.axes else ''}>"}},)


#: the colours of a rise and a fall, everywhere in the panels
UP_COLOUR = "#1a7f37"
DOWN_COLOUR = "#cf222e"


def change_colour(value: Any) -> str:
    """The CSS colour of a change: green up, red down, the text colour when flat or unknown."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "inherit"
    return UP_COLOUR if v > 0 else DOWN_COLOUR if v < 0 else "inherit"
