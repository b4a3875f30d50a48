"""Orders as the paper broker keeps them: what the client asked for, and how far it got."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL", "TRAIL LIMIT", "MIT", "LIT", "MOC", "LOC", "REL")
TIFS = ("DAY", "GTC", "IOC", "FOK", "GTD", "OPG")
DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass
class Condition:
    """One order condition (price, time, margin, execution, volume or percent change)."""

    kind: int  # 1 price, 3 time, 4 margin, 5 execution, 6 volume, 7 percent change
    conjunction: str = "a"  # "a": and with the next, "o": or
    is_more: bool = True
    value: float = 0.0  # price, margin %, volume or change %
    time: str = ""  # for time conditions, "yyyymmdd hh:mm:ss [zone]"
    con_id: int = 0
    exchange: str = ""
    sec_type: str = ""
    symbol: str = ""
    trigger_method: int = 0


@dataclass
class SimOrder:
    """A paper order: the request fields the gateway echoes, and its live state."""

    order_id: int
    client_id: int
    perm_id: int
    account: str
    con_id: int
    action: str  # BUY or SELL
    quantity: float
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    oca_type: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    good_till_date: str = ""
    good_after_time: str = ""
    trailing_percent: float | None = None
    trail_stop_price: float | None = None
    display_size: int = 0
    conditions: list[Condition] = field(default_factory=list)
    conditions_cancel: bool = False
    conditions_ignore_rth: bool = False
    what_if: bool = False
    #: combo (BAG) legs as dicts (con_id, ratio, action, exchange), and optional per-leg limit prices
    combo_legs: list[dict] = field(default_factory=list)
    leg_prices: list[float | None] = field(default_factory=list)
    # --- state ---
    status: str = "PendingSubmit"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    triggered: bool = False
    created: float = 0.0
    why_held: str = ""

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(self.quantity - self.filled, 0.0)

    @property
    def is_done(self) -> bool:
        """True once filled, cancelled or inactive."""
        return self.status in DONE

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells."""
        return 1 if self.action == "BUY" else -1

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state store."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SimOrder:
        """Rebuild an order saved by :meth:`to_json`."""
        raw = dict(raw)
        raw["conditions"] = [Condition(**c) for c in raw.get("conditions", [])]
        return cls(**raw)


@dataclass
class Fill:
    """One execution of an order, with its commission."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    con_id: int
    side: str  # BOT or SLD
    shares: float
    price: float
    time: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    currency: str
    realized_pnl: float
    exchange: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state store."""
        return asdict(self)
