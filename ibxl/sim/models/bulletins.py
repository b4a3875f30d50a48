"""IB's news bulletins: system messages and exchange availability, a few at start-up and an
occasional one over time, deterministic per seed. No protocol code."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..clock import Clock
    from ..pulse import Pulse

#: msgType values of updateNewsBulletin
REGULAR, EXCHANGE_UNAVAILABLE, EXCHANGE_AVAILABLE = 1, 2, 3
#: seconds between the occasional bulletins published while the gateway runs
INTERVAL_SECONDS = 60.0
#: bulletins kept for clients that ask for all messages
HISTORY = 200

#: exchanges whose availability the board reports on
EXCHANGES = ("NYSE", "NASDAQ", "ARCA", "BATS", "IEX", "CBOE", "ISE", "PSX", "EDGX", "CME")
_SYSTEM = (
    "TWS API: the paper gateway ibxl.sim is running; all data is simulated.",
    "System message: market data farm usfarm is connected.",
    "System message: HMDS data farm ushmds is connected.",
    "System message: scheduled maintenance of the simulated servers tonight between 23:45 and 00:45 ET.",
    "System message: options exercise notices for today are due by 17:30 ET.",
    "System message: the simulated account statement for yesterday is available.",
)


@dataclass(frozen=True)
class Bulletin:
    """One bulletin as updateNewsBulletin carries it."""

    msg_id: int
    msg_type: int
    message: str
    exchange: str
    time: float


class BulletinBoard:
    """Publishes bulletins to subscribers; keeps today's history for ``allMessages`` requests."""

    def __init__(self, seed: int, clock: Clock, pulse: Pulse | None = None) -> None:
        self.seed = seed
        self.clock = clock
        self.pulse = pulse
        self.interval = INTERVAL_SECONDS
        self.history: deque[Bulletin] = deque(maxlen=HISTORY)
        self.unavailable: set[str] = set()
        self._subscribers: dict[int, Callable[[Bulletin], None]] = {}
        self._next_sub = 0
        self._count = 0
        self._pulse_handle: int | None = None
        self._next_at = clock.time() + self.interval
        self._opening()

    def _opening(self) -> None:
        """The bulletins a client finds when it connects: system status and exchange availability."""
        self.publish(REGULAR, _SYSTEM[0])
        for exchange in ("NYSE", "NASDAQ", "ARCA"):
            self.publish(EXCHANGE_AVAILABLE, f"Exchange is available for trading: {exchange}", exchange)
        rng = self._rng(0)
        down = EXCHANGES[int(rng.integers(3, len(EXCHANGES)))]
        self.publish(EXCHANGE_UNAVAILABLE, f"Exchange is unavailable for trading: {down} (scheduled maintenance)",
                     down)
        self.publish(REGULAR, _SYSTEM[1])

    def _rng(self, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed & 0xFFFFFFFF, 7, k])

    def publish(self, msg_type: int, message: str, exchange: str = "") -> Bulletin:
        """Post a bulletin (type 1 regular, 2 exchange unavailable, 3 exchange available) to every
        subscriber; also how an operator or a test announces something."""
        if msg_type not in (REGULAR, EXCHANGE_UNAVAILABLE, EXCHANGE_AVAILABLE):
            raise ValueError(f"bulletin type must be 1 (regular), 2 (exchange unavailable) or 3 (exchange "
                             f"available), not {msg_type!r}")
        if msg_type != REGULAR and not exchange:
            raise ValueError("an exchange availability bulletin needs the exchange it is about")
        if msg_type == EXCHANGE_UNAVAILABLE:
            self.unavailable.add(exchange)
        elif msg_type == EXCHANGE_AVAILABLE:
            self.unavailable.discard(exchange)
        self._count += 1
        b = Bulletin(self._count, msg_type, message, exchange, self.clock.time())
        self.history.append(b)
        for fn in list(self._subscribers.values()):
            fn(b)
        return b

    def next_scheduled(self) -> tuple[int, str, str]:
        """What the next occasional bulletin says: an unavailable exchange comes back, another goes
        away for maintenance, or a system message (chosen from the seed, so runs repeat)."""
        rng = self._rng(self._count + 1)
        roll = float(rng.random())
        if self.unavailable and roll < 0.4:
            exchange = sorted(self.unavailable)[int(rng.integers(0, len(self.unavailable)))]
            return EXCHANGE_AVAILABLE, f"Exchange is available for trading: {exchange}", exchange
        if roll < 0.65:
            choices = [e for e in EXCHANGES if e not in self.unavailable and e not in ("NYSE", "NASDAQ")]
            if choices:
                exchange = choices[int(rng.integers(0, len(choices)))]
                return EXCHANGE_UNAVAILABLE, f"Exchange is unavailable for trading: {exchange} (system issue)", exchange
        return REGULAR, _SYSTEM[1 + int(rng.integers(0, len(_SYSTEM) - 1))], ""

    def tick(self, now: float) -> None:
        """Publish the occasional bulletin when it is due (called by the pulse)."""
        if now >= self._next_at:
            self._next_at = now + self.interval
            self.publish(*self.next_scheduled())

    def subscribe(self, all_messages: bool, callback: Callable[[Bulletin], None]) -> Callable[[], None]:
        """Deliver bulletins to ``callback``: today's earlier ones first when ``all_messages``, then each
        new one as it is published, until the returned function is called."""
        if all_messages:
            for b in list(self.history):
                callback(b)
        self._next_sub += 1
        key = self._next_sub
        self._subscribers[key] = callback
        if self._pulse_handle is None and self.pulse is not None:
            self._next_at = max(self._next_at, self.clock.time())
            self._pulse_handle = self.pulse.add(self.tick)
        return lambda: self._unsubscribe(key)

    def _unsubscribe(self, key: int) -> None:
        self._subscribers.pop(key, None)
        if not self._subscribers and self._pulse_handle is not None and self.pulse is not None:
            self.pulse.remove(self._pulse_handle)
            self._pulse_handle = None
