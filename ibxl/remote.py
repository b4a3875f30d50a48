"""The seam between a process and the desk's one connection: ``@on_hub`` marks a data-layer
function that talks to IB, so that in a process attached to ``ibxl hub`` the call runs in the hub
(which owns the connection, the line budget, the pacing and the bar store) and its result comes
back; in direct mode (``ibxl.connect(hub=False)``) and inside the hub itself it runs here.

Arguments and results of such functions are plain data: str, int, float, bool, None, lists,
tuples and dicts of these, pandas DataFrames, Series and Timestamps, and ibxl's own dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def on_hub(fn: F) -> F:
    """Mark ``fn`` as served by the hub when this process is attached to one."""
    return fn
