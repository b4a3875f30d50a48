"""Settings of one embedded gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import DEFAULT_HOST


@dataclass
class Limits:
    """IB's request limits, enforced as TWS does; each can be changed for tests."""

    msgs_per_second: int = 50
    #: seconds in a row over the message rate after which the client is disconnected
    abuse_seconds: int = 3
    market_data_lines: int = 100
    hist_requests_per_10min: int = 60
    hist_identical_seconds: float = 15.0
    hist_same_contract_per_2s: int = 6
    hist_open_requests: int = 50
    max_depth_requests: int = 3
    max_clients: int = 32


@dataclass
class SimConfig:
    """Everything that shapes a gateway run: where it listens, its market and its account."""

    host: str = DEFAULT_HOST
    port: int = 0
    seed: int = 42
    #: "always": markets never close; "exchange": real trading calendars
    hours: str = "always"
    accounts: tuple[str, ...] = ("DU1234567",)
    base_currency: str = "USD"
    initial_cash: float = 1_000_000.0
    #: seconds between market updates pushed to subscribers
    tick_interval: float = 0.25
    #: seconds after a market-data request before its option computations (model greeks, IV)
    #: are sent; a snapshot ends before they come when this is positive (TWS's model can lag)
    model_greeks_delay: float = 0.0
    limits: Limits = field(default_factory=Limits)
    #: client addresses allowed to connect besides loopback; empty means loopback only
    trusted_ips: tuple[str, ...] = ()
    state_dir: Path | None = None
    read_only: bool = False
    reset: bool = False

    def __post_init__(self) -> None:
        if self.hours not in ("always", "exchange"):
            raise ValueError(f"hours must be 'always' or 'exchange', not {self.hours!r}")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        if len(set(self.accounts)) != len(self.accounts):
            raise ValueError(f"accounts {', '.join(self.accounts)} name one account twice; give each id once")
        if self.tick_interval <= 0:
            raise ValueError("tick_interval must be positive")
        if self.model_greeks_delay < 0:
            raise ValueError("model_greeks_delay must be zero or more seconds")
