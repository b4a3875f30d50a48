"""One background thread that redraws every open panel at most a few times a second.

Ticks can arrive hundreds of times a second; people read at most a few updates a second, and
each widget redraw costs a message to the browser. Panels therefore never redraw on a tick:
they mark themselves dirty (or report a changed data version) and this hub redraws the dirty
ones on its own beat, so the kernel is never blocked and the redraw rate is bounded whatever
the tick rate.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import Protocol

log = logging.getLogger("ibxl.widgets")

#: redraws per second, per panel, at most
MAX_REDRAWS_PER_SECOND = 4.0


class Refreshable(Protocol):
    """What the hub needs from a panel."""

    def _needs_redraw(self) -> bool: ...

    def _run_timers(self, now: float) -> None: ...

    def _redraw(self) -> None: ...


class RefreshHub:
    """Redraws registered panels that need it, at most ``rate`` times a second each."""

    def __init__(self, rate: float = MAX_REDRAWS_PER_SECOND) -> None:
        self.interval = 1.0 / rate
        self._panels: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def register(self, panel: Refreshable) -> None:
        """Start redrawing a panel; starts the hub's thread on first use."""
        with self._lock:
            self._panels.add(panel)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="ibxl-widgets-refresh", daemon=True)
                self._thread.start()

    def unregister(self, panel: Refreshable) -> None:
        """Stop redrawing a panel."""
        with self._lock:
            self._panels.discard(panel)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the hub's thread after its current redraw."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __len__(self) -> int:
        return len(self._panels)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                panels = list(self._panels)
            now = time.monotonic()
            for panel in panels:
                try:
                    panel.tick(now)
                except Exception:  # a broken panel must not freeze the others
                    log.exception("redrawing %s failed", type(panel).__name__)
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = self.interval
            self._stop.wait(delay)


HUB = RefreshHub()
# A redraw is matplotlib and FreeType work; a daemon thread killed in the middle of it while the
# interpreter exits aborts the whole process, so the hub is stopped before that happens.
atexit.register(HUB.stop)
