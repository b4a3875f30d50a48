"""The gateway: an asyncio TCP server that owns the models and one Session per client."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from collections.abc import Callable

from .clock import Clock
from .config import SimConfig
from .handlers import broker_events
from .models.broker import Broker
from .models.bulletins import BulletinBoard
from .models.calendar import TradingCalendar
from .models.display_groups import DisplayGroups
from .models.history import History
from .models.market import Market
from .models.news import NewsRoom
from .models.pacing import HistoricalPacing
from .models.scanner import Scanner
from .models.universe import Universe
from .pulse import Pulse
from .session import Session

log = logging.getLogger("ibxl.sim")


class Gateway:
    """An embedded paper gateway: its models (universe, market, broker...) and its listener."""

    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = clock or Clock()
        self.calendar = TradingCalendar(self.config.hours, self.clock.time)
        self.universe = Universe(self.clock.now().date(), self.calendar)
        self.market = Market(self.universe, self.calendar, self.config.seed, self.clock)
        self.universe.spot = self.market.reference_spot
        self.pulse = Pulse(self.config.tick_interval, self.clock.time)
        self.history = History(self.market)
        self.pacing = HistoricalPacing(self.config.limits)
        self.broker = Broker(self)
        self.scanner = Scanner(self.market, self.universe, self.clock, self.pulse)
        self.news = NewsRoom(self.market, self.config.seed, self.clock, self.pulse)
        self.bulletins = BulletinBoard(self.config.seed, self.clock, self.pulse)
        self.display_groups = DisplayGroups(self.universe)
        self._stop_routing: Callable[[], None] | None = None
        self.sessions: set[Session] = set()
        self.clients: dict[int, Session] = {}
        #: requests received from every client, by message id (``Req``), for pacing tests
        self.requests_received: Counter[int] = Counter()
        self._server: asyncio.base_events.Server | None = None
        self.host = self.config.host
        self.port = self.config.port

    def _services(self) -> tuple[object, ...]:
        """The models with a lifecycle (``start``/``stop``/``session_closed`` hooks), in start order."""
        return (self.history, self.pacing, self.broker, self.scanner, self.news, self.bulletins,
                self.display_groups)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> tuple[str, int]:
        """Start listening; returns (host, port) with the port actually bound."""
        self._server = await asyncio.start_server(self._accept, self.config.host, self.config.port, limit=2**20)
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        self.pulse.start()
        if self._stop_routing is None:
            self._stop_routing = broker_events.install(self)
        for model in self._services():
            starter = getattr(model, "start", None)
            if starter:
                res = starter()
                if asyncio.iscoroutine(res):
                    await res
        log.info("ibxl.sim listening on %s:%s (seed %s, hours %s)", self.host, self.port, self.config.seed,
                 self.config.hours)
        return self.host, self.port

    async def stop(self) -> None:
        """Disconnect every client and stop listening."""
        if self._server:
            self._server.close()
        for session in list(self.sessions):
            session.close_reason = "gateway shutting down"
            await session.close()
        if self._server:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            except TimeoutError:
                pass
            self._server = None
        await self.pulse.stop()
        if self._stop_routing is not None:
            self._stop_routing()
            self._stop_routing = None
        for model in self._services():
            stopper = getattr(model, "stop", None)
            if stopper:
                res = stopper()
                if asyncio.iscoroutine(res):
                    await res

    async def serve_forever(self) -> None:
        """Start and run until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------ clients
    def _allowed(self, peer_host: str) -> bool:
        try:
            addr = ipaddress.ip_address(peer_host)
        except ValueError:
            return False
        if addr.is_loopback:
            return True
        return peer_host in self.config.trusted_ips

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        if not self._allowed(str(peer[0])):
            log.warning("refused connection from %s: not in the trusted IP list", peer[0])
            writer.close()
            return
        if len(self.sessions) >= self.config.limits.max_clients:
            log.warning("refused connection from %s: %d clients already connected", peer[0], len(self.sessions))
            writer.close()
            return
        session = Session(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    def register_client(self, session: Session, client_id: int) -> bool:
        """Claim a clientId for a session; False when another live session holds it."""
        holder = self.clients.get(client_id)
        if holder is not None and holder is not session and not holder.closed:
            return False
        self.clients[client_id] = session
        session.client_id = client_id
        return True

    def session_closed(self, session: Session) -> None:
        """Forget a session that has gone."""
        self.sessions.discard(session)
        if session.client_id is not None and self.clients.get(session.client_id) is session:
            del self.clients[session.client_id]
        for model in self._services():
            hook = getattr(model, "session_closed", None)
            if hook:
                hook(session)
