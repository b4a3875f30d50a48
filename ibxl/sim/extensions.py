"""Optional gateway models, attached by name so that each lives in its own module.

A model module exposes ``attach(gateway)`` which stores the model in ``gateway.models``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Gateway

#: model modules, attached in this order (later ones may use earlier ones)
MODEL_MODULES: list[str] = ["history", "broker", "scanner", "news", "bulletins", "display_groups"]


def attach_all(gateway: Gateway) -> None:
    """Attach every model module listed in :data:`MODEL_MODULES`."""
    for name in MODEL_MODULES:
        importlib.import_module(f"ibxl.sim.{name}").attach(gateway)
