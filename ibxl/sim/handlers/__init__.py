"""Request handlers: the thin glue that decodes a request, asks the models, encodes the answer.

Each module registers its handlers with :func:`handles`; :func:`registry` imports them all.
A handler receives the client's :class:`~ibxl.sim.session.Session` and a
:class:`~ibxl.sim.protocol.fields.FieldReader` positioned after the message id.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..protocol.fields import FieldReader
    from ..session import Session

Handler = Callable[["Session", "FieldReader"], Awaitable[None] | None]
_REGISTRY: dict[int, Handler] = {}
_loaded = False


def handles(*msg_ids: int) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these request ids."""

    def deco(fn: Handler) -> Handler:
        for mid in msg_ids:
            if int(mid) in _REGISTRY and _REGISTRY[int(mid)] is not fn:
                raise RuntimeError(f"request id {int(mid)} already handled by {_REGISTRY[int(mid)].__name__}")
            _REGISTRY[int(mid)] = fn
        return fn

    return deco


def registry() -> dict[int, Handler]:
    """All handlers, importing every module of this package once."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    return _REGISTRY


def describe() -> dict[int, Any]:
    """Request id -> handler name, for the README and the CLI's ``--list-requests``."""
    return {k: v.__name__ for k, v in sorted(registry().items())}
