"""The seam between a process and the desk's one connection: ``@on_hub`` marks a data-layer
function that talks to IB, so that in a process attached to ``ibxl hub`` the call runs in the hub
(which owns the connection, the line budget, the pacing and the bar store) and its result comes
back; in direct mode (``ibxl.connect(hub=False)``) and inside the hub itself it runs here.

Arguments and results of such functions are plain data: str, int, float, bool, None, lists,
tuples and dicts of these, pandas DataFrames, Series and Timestamps, and ibxl's own dataclasses.

Only functions registered here by ``@on_hub`` can be called through the hub (an allowlist by
``module:qualified name``). The process's mode is decided once: ``direct`` (this process owns a
connection), ``attached`` (calls go to the hub) or ``hub`` (this process is the hub).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: ``module:qualname`` -> the undecorated function (the hub's allowlist)
REGISTRY: dict[str, Callable[..., Any]] = {}

DIRECT, ATTACHED, HUB = "direct", "attached", "hub"


class Link(Protocol):
    """What an attachment to a hub offers the data layer (see ``ibxl.hub.link.HubLink``)."""

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        """Run the registered function ``name`` in the hub and return its result (or raise its error)."""
        ...


_lock = threading.RLock()
_mode: str | None = None
_link: Link | None = None


def want_hub(hub: bool | None = None) -> bool:
    """Whether a default ``connect()`` attaches to the hub: the argument, else ``IBXL_HUB`` (default
    on, on every platform: local sockets on Linux and macOS, loopback TCP with CURVE on Windows)."""
    if hub is not None:
        return bool(hub)
    return os.environ.get("IBXL_HUB", "1").strip().lower() not in ("0", "false", "no", "off")


def mode() -> str | None:
    """'direct', 'attached', 'hub', or None before the process first connects."""
    return _mode


def link() -> Link | None:
    """The attachment to the hub (None unless attached)."""
    return _link


def set_mode(new_mode: str, new_link: Link | None = None) -> None:
    """Record how this process reaches IB (called by ``connect`` and by the hub at start)."""
    global _mode, _link
    with _lock:
        if _mode == HUB and new_mode != HUB:
            return  # the hub process always runs calls itself
        _mode, _link = new_mode, new_link if new_mode == ATTACHED else None


def ensure_mode() -> str:
    """The process's mode, attaching to the hub with default settings when nothing is decided yet."""
    if _mode is not None:
        return _mode
    with _lock:
        if _mode is None:
            if want_hub():
                attach()
            else:
                set_mode(DIRECT)
    return _mode or DIRECT


def attach(settings: Any = None, explicit: dict[str, Any] | None = None) -> Any:
    """Attach this process to the hub (starting one when none answers) and return the link;
    ``explicit`` holds the targets the caller named (a hub for another target is an error)."""
    from .hub.link import attach as attach_hub

    return attach_hub(settings, explicit)


def detach() -> None:
    """Leave the hub (this process's lines are given back); the next call decides the mode again."""
    global _mode, _link
    with _lock:
        current = _link
        if _mode == ATTACHED:
            _mode, _link = None, None
    if current is not None:
        close = getattr(current, "close", None)
        if close is not None:
            close()


def on_hub(fn: F) -> F:
    """Mark ``fn`` as served by the hub when this process is attached to one."""
    name = f"{fn.__module__}:{fn.__qualname__}"
    REGISTRY[name] = fn

    @functools.wraps(fn)
    def routed(*args: Any, **kwargs: Any) -> Any:
        current = _mode if _mode is not None else ensure_mode()
        if current == ATTACHED and _link is not None:
            return _link.call(name, args, kwargs)
        return fn(*args, **kwargs)

    routed.hub_name = name  # type: ignore[attr-defined]
    return routed  # type: ignore[return-value]


def registered(name: str) -> Callable[..., Any] | None:
    """The undecorated function registered under ``name`` (None if not allowed).

    Importing the named ``ibxl`` module registers its functions; nothing outside ``ibxl`` is ever
    imported for a caller.
    """
    fn = REGISTRY.get(name)
    if fn is not None:
        return fn
    module = name.partition(":")[0]
    if module == "ibxl" or module.startswith("ibxl.") and all(p.isidentifier() for p in module.split(".")):
        import importlib

        try:
            importlib.import_module(module)
        except ImportError:
            return None
    return REGISTRY.get(name)
