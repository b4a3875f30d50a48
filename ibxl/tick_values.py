"""How TWS's tick values become floats: one rule for quotes, scanner figures and option chains."""

from __future__ import annotations

import math
from typing import Any

NAN = float("nan")


def tick_value(v: Any) -> float:
    """A price, size or figure as a float; NaN where TWS sent none (None, -1 or infinity)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return NAN
    return NAN if x == -1 or math.isinf(x) else x


def greek_value(v: Any) -> float:
    """A greek as a float: -1 is a real delta, so only a missing value becomes NaN."""
    return NAN if v is None else float(v)
