"""One shared connection to TWS, IB Gateway or the embedded gateway, on ibxl's own event-loop thread.

ib_async runs on a dedicated background thread owned by ibxl, so every public call works the same
from a plain script, from a Jupyter kernel whose loop is already running, and from the worker
threads Excel's function servers use. When the connection drops (TWS restarts every day) the
client reconnects with backoff and restores every subscription; meanwhile quotes are marked stale.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pandas as pd
from ib_async import IB
from ib_async.wrapper import RequestError

from . import config as _config
from . import remote
from .errors import INFO_CODES, IBError, NotConnected, RequestTimeout
from .remote import on_hub

log = logging.getLogger("ibxl")
T = TypeVar("T")

#: ibxl stays under IB's 50 messages a second with one pacer for all traffic (ib_async's own throttle,
#: a sliding one-second window, so no second ever carries more than this; 45 is ib_async's default)
MESSAGES_PER_SECOND = 45
RECONNECT_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)

#: called with every new connection (the live-quote registry starts over with a clean set of lines)
new_client_hooks: list[Callable[[Client], None]] = []


class Client:
    """The shared connection: an ``ib_async.IB`` living on ibxl's loop thread."""

    def __init__(self, settings: _config.Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="ibxl-loop", daemon=True)
        self._thread.start()
        self.ib: IB = self.call(IB)
        self.ib.client.MaxRequests = MESSAGES_PER_SECOND
        self.ib.client.RequestsInterval = 1
        self.sim_gateway: Any = None
        self.host, self.port = settings.host, settings.port
        self.last_error: str | None = None
        self._clock_offset = 0.0
        self._closing = False
        self._reconnecting = False
        self.reconnects = 0
        #: coroutine factories run after every reconnect (subscriptions re-made, orders reconciled)
        self.restore_hooks: list[Callable[[], Awaitable[None]]] = []
        #: plain callbacks told when the connection goes down or comes back (quotes mark stale)
        self.state_listeners: list[Callable[[bool], None]] = []
        #: whether this connection subscribed to IB's bulletins (ibxl.bulletins)
        self.bulletins_subscribed = False
        #: how many market-data lines are open (the line registry installs its count)
        self.line_count: Callable[[], int] = lambda: 0
        self._connect_errors: list[tuple[int, str]] = []
        self.call(self._wire_events)

    # ------------------------------------------------------------ loop plumbing
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def on_loop_thread(self) -> bool:
        """True when called from ibxl's own loop thread."""
        return threading.current_thread() is self._thread

    def run(self, aw: Awaitable[T] | Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run a coroutine on the loop thread from any other thread and return its result."""
        if self.on_loop_thread:
            raise RuntimeError("Client.run() called on ibxl's loop thread; await the coroutine instead")
        # a callable is invoked on the loop thread: ib_async's *Async methods create their futures
        # on the calling thread's loop, so they must be called there
        fut = asyncio.run_coroutine_threadsafe(_translate(aw), self.loop)
        limit = self.settings.timeout if timeout is None else timeout
        try:
            return fut.result(limit)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise RequestTimeout(f"no answer within {limit:g} s",
                                 hint="TWS may be busy; try a longer timeout=") from None
        except concurrent.futures.CancelledError:
            raise RequestTimeout("the request was cancelled (connection lost?)") from None

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run a plain function on the loop thread and return its result."""
        if self.on_loop_thread:
            return fn(*args)
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller's thread
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(job)
        return fut.result(self.settings.timeout if timeout is None else timeout)

    # ------------------------------------------------------------ connection
    def _wire_events(self) -> None:
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code not in INFO_CODES:
            self.last_error = f"{code}: {message}"
        if req_id == -1:
            self._connect_errors.append((code, message))

    def _on_disconnected(self) -> None:
        for fn in list(self.state_listeners):
            fn(False)
        if not self._closing and not self._reconnecting:
            self.last_error = "connection lost; reconnecting"
            self._reconnecting = True
            self.loop.create_task(self._reconnect())

    async def _connect_once(self) -> None:
        self._connect_errors.clear()
        task = asyncio.ensure_future(self.ib.connectAsync(self.host, self.port, clientId=self.settings.client_id,
                                                          timeout=self.settings.timeout,
                                                          account=self.settings.account))
        # TWS answers a client id in use (326) and hangs up; ib_async would wait out its timeout
        while not task.done() and not any(code == 326 for code, _ in self._connect_errors):
            await asyncio.wait({task}, timeout=0.05)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await task
        except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError) as exc:
            if any(code == 326 for code, _ in self._connect_errors):
                if self.ib.isConnected():
                    self.ib.disconnect()
                raise ClientIdInUse(self.settings.client_id) from exc
            raise
        server = await self.ib.reqCurrentTimeAsync()
        self._clock_offset = server.timestamp() - time.time()

    async def _reconnect(self) -> None:
        try:
            for attempt in range(10_000):
                if self._closing:
                    return
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                try:
                    await self._connect_once()
                except Exception as exc:  # keep trying: TWS restarts take a minute or two
                    self.last_error = f"reconnecting: {exc!r}"
                    if self.ib.isConnected():
                        self.ib.disconnect()
                    continue
                self.reconnects += 1
                self.last_error = None
                for hook in list(self.restore_hooks):
                    try:
                        await hook()
                    except Exception:
                        log.exception("restoring after reconnect failed")
                for fn in list(self.state_listeners):
                    fn(True)
                log.info("reconnected to %s:%s", self.host, self.port)
                return
        finally:
            self._reconnecting = False

    def connect(self) -> Client:
        """Connect (starting the embedded gateway first when ``sim`` is set)."""
        if self.settings.sim and self.sim_gateway is None:
            from .sim import SimConfig, SimGateway

            self.sim_gateway = SimGateway(SimConfig(seed=42)).start()
            self.host, self.port = self.sim_gateway.host, self.sim_gateway.port
        try:
            self.run(self._connect_once, timeout=self.settings.timeout + 5)
        except ClientIdInUse:
            raise
        except (ConnectionRefusedError, OSError, RequestTimeout) as exc:
            raise NotConnected(f"could not connect to {self.host}:{self.port} ({exc.__class__.__name__})",
                               code=502) from None
        for fn in list(self.state_listeners):
            fn(True)
        return self

    @property
    def connected(self) -> bool:
        """True while the API connection is up."""
        return self.ib.isConnected()

    @property
    def sim(self) -> bool:
        """True when connected to the embedded gateway."""
        return self.sim_gateway is not None

    @property
    def account(self) -> str:
        """The configured account, or the first one TWS manages."""
        if self.settings.account:
            return self.settings.account
        accounts = self.call(self.ib.managedAccounts) if self.connected else []
        return accounts[0] if accounts else ""

    def server_time(self) -> pd.Timestamp | None:
        """TWS's clock now (UTC), from the offset measured at connect."""
        if not self.connected:
            return None
        return pd.Timestamp(time.time() + self._clock_offset, unit="s", tz="UTC")

    def close(self) -> None:
        """Disconnect, stop the embedded gateway if ibxl started it, and end the loop thread."""
        self._closing = True
        try:
            self.call(self.ib.disconnect)
        except Exception:
            pass
        if self.sim_gateway is not None:
            self.sim_gateway.stop()
            self.sim_gateway = None

        async def cancel_tasks() -> None:
            tasks = [t for t in asyncio.all_tasks(self.loop) if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_tasks(), self.loop).result(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class ClientIdInUse(NotConnected):
    """TWS refused the client id (error 326): another API connection uses it."""

    def __init__(self, client_id: int) -> None:
        super().__init__(f"TWS refused client id {client_id}: another API connection uses it", code=326)
        self.client_id = client_id


async def _translate(aw: Awaitable[T] | Callable[[], Awaitable[T]]) -> T:
    """Await on the loop thread, turning ib_async's failures into ibxl's exceptions."""
    try:
        return await (aw() if callable(aw) else aw)
    except RequestError as exc:
        raise IBError(exc.message, code=exc.code) from None
    except ConnectionError as exc:
        raise NotConnected(str(exc) or "not connected", code=504) from None


_lock = threading.RLock()
_client: Client | None = None


def connect(host: str | None = None, port: int | None = None, client_id: int | None = None,
            account: str | None = None, *, sim: bool | None = None, timeout: float | None = None,
            hub: bool | None = None) -> Any:
    """Connect to TWS, IB Gateway, or (``sim=True``) the embedded paper gateway.

    With defaults the process attaches to the desk's shared ``ibxl hub`` (starting one when none
    runs), which owns the one connection; ``hub=False`` (or ``IBXL_HUB=0``) connects this process
    directly and returns its ``Client``. Arguments win over environment variables (IBXL_HOST,
    IBXL_PORT, IBXL_CLIENT_ID, IBXL_ACCOUNT, IBXL_SIM), which win over the config file. Calling it
    again with the same target returns the existing connection.
    """
    global _client
    settings = _config.load(host=host, port=port, client_id=client_id, account=account, sim=sim, timeout=timeout)
    if remote.mode() != remote.HUB and remote.want_hub(hub):
        with _lock:
            if _client is not None:
                _client.close()
                _client = None
        explicit = {k: v for k, v in (("sim", sim), ("host", host), ("port", port)) if v is not None}
        return remote.attach(settings, explicit)
    if remote.mode() == remote.ATTACHED:
        remote.detach()  # this process leaves the hub before it connects on its own
    with _lock:
        if _client is not None:
            same = (_client.settings.sim and settings.sim) or (
                not settings.sim and (_client.host, _client.port, _client.settings.client_id)
                == (settings.host, settings.port, settings.client_id))
            if same and _client.connected:
                return _client
            _client.close()
            _client = None
        c = Client(settings)
        try:
            c.connect()
        except Exception:
            c.close()
            raise
        _client = c
        remote.set_mode(remote.DIRECT)
        for hook in list(new_client_hooks):
            hook(c)
        return c


def current() -> Client | None:
    """This process's own connection, or None (attached processes have none)."""
    return _client


def client() -> Client:
    """This process's own connection (direct mode, or inside the hub); connects directly with the
    configured defaults when there is none. Attached processes reach IB through ``@on_hub`` calls."""
    with _lock:
        if _client is not None:
            return _client
    if remote.mode() == remote.ATTACHED:
        raise NotConnected("this process is attached to the hub, which owns the connection",
                           hint="use ibxl's functions (they run in the hub), or ibxl.connect(hub=False) "
                                "for a connection of this process's own")
    return connect(hub=False)


def disconnect() -> None:
    """Close this process's connection (and the embedded gateway if ibxl started it), or detach
    from the hub (which keeps running for the other processes until it is idle)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
            _client = None
    remote.detach()


@on_hub
def status() -> dict[str, Any]:
    """Connection state: connected, host, port, client_id, account, server_time, trading, sim,
    subscriptions (market-data lines open) and last_error."""
    settings = _client.settings if _client else _config.load()
    c = _client
    return {
        "connected": bool(c and c.connected), "host": c.host if c else settings.host,
        "port": c.port if c else settings.port, "client_id": settings.client_id,
        "account": c.account if c and c.connected else settings.account,
        "server_time": c.server_time() if c else None, "trading": settings.trading, "sim": bool(c and c.sim),
        "subscriptions": c.line_count() if c else 0, "last_error": c.last_error if c else None,
    }
