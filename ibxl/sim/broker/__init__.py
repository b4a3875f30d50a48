"""The paper broker: orders, executions, accounts and their persistence (no protocol code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .broker import Broker
from .orders import Condition, Fill, SimOrder

if TYPE_CHECKING:
    from ..server import Gateway

__all__ = ["Broker", "Condition", "Fill", "SimOrder", "attach"]


def attach(gateway: Gateway) -> None:
    """Give a gateway its paper broker."""
    gateway.models["broker"] = Broker(gateway)
