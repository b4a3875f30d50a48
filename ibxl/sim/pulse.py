"""A fixed-rate heartbeat that drives every streaming subscription of a gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("ibxl.sim")

Listener = Callable[[float], None]
#: the event loop's timer resolution (epoll waits in whole milliseconds)
TIMER_RESOLUTION = 0.001


class Pulse:
    """Calls every registered listener with the current time once per ``interval`` seconds.

    One timer for the whole gateway keeps thousands of subscriptions cheap: a listener is a
    plain function, not a task.
    """

    def __init__(self, interval: float, now: Callable[[], float]) -> None:
        self.interval = interval
        self._now = now
        self._listeners: dict[int, Listener] = {}
        self._next_id = 0
        self._task: asyncio.Task | None = None

    def add(self, listener: Listener) -> int:
        """Register a listener; returns a handle for :meth:`remove`."""
        self._next_id += 1
        self._listeners[self._next_id] = listener
        return self._next_id

    def remove(self, handle: int) -> None:
        """Forget a listener (unknown handles are ignored)."""
        self._listeners.pop(handle, None)

    def __len__(self) -> int:
        return len(self._listeners)

    def start(self) -> None:
        """Start beating on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ibxl-sim-pulse")

    async def stop(self) -> None:
        """Stop beating."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            now = self._now()
            for handle, fn in list(self._listeners.items()):
                try:
                    fn(now)
                except Exception:  # one broken subscription must not stop the others
                    log.exception("pulse listener failed; removing it")
                    self._listeners.pop(handle, None)
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:  # fell behind: skip beats rather than burst
                next_at = loop.time()
                delay = 0
            if delay >= TIMER_RESOLUTION or not self._listeners:  # an idle pulse never spins
                await asyncio.sleep(delay)
            else:
                # the event loop's timers wake in whole milliseconds at best: a shorter wait would
                # become a millisecond (or, taken as no wait, bunch beats inside one millisecond
                # and leave the next ones without any), so a sub-millisecond wait yields to I/O
                # until the beat is due, keeping beats evenly spaced
                while loop.time() < next_at:
                    await asyncio.sleep(0)
