"""The paper broker: orders, executions, accounts and their persistence (no protocol code)."""

from __future__ import annotations

from .broker import Broker
from .orders import Condition, Fill, SimOrder

__all__ = ["Broker", "Condition", "Fill", "SimOrder"]
