"""Running a gateway in-process, on a background thread, for tests, notebooks and ibxl itself."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from .clock import Clock
from .config import SimConfig
from .server import Gateway


class SimGateway:
    """A gateway on its own event-loop thread; use as a context manager.

    >>> with SimGateway(seed=42) as gw:       # doctest: +SKIP
    ...     ib.connect(gw.host, gw.port, clientId=1)
    """

    def __init__(self, config: SimConfig | None = None, *, clock: Clock | None = None, **options: Any) -> None:
        self.config = config or SimConfig(**options)
        self.clock = clock
        self.gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address clients connect to."""
        assert self.gateway is not None, "gateway not started"
        return self.gateway.host

    @property
    def port(self) -> int:
        """The port actually bound (a free one when the config asked for 0)."""
        assert self.gateway is not None, "gateway not started"
        return self.gateway.port

    def start(self) -> SimGateway:
        """Start the gateway and wait until it listens."""
        if self._thread is not None:
            return self
        ready: Future[None] = Future()
        loop = self._loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                self.gateway = Gateway(self.config, self.clock)
                loop.run_until_complete(self.gateway.start())
            except BaseException as exc:  # report start-up failures to the caller
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()

        self._thread = threading.Thread(target=main, name="ibxl-sim", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def call(self, fn: Any, *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(gateway, *args)`` on the gateway's loop and return its result."""
        assert self._loop is not None and self.gateway is not None

        async def run() -> Any:
            res = fn(self.gateway, *args)
            if asyncio.iscoroutine(res):
                res = await res
            return res

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        """Disconnect every client, stop listening and end the thread."""
        if self._loop is None or self.gateway is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.gateway.stop(), self._loop).result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread:
                self._thread.join(10)
            self._loop.close()
            self._loop = None
            self._thread = None

    def __enter__(self) -> SimGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
