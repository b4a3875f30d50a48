"""Worksheet functions for option strategies: build a combo from a cell, and spill its payoff.

``=IB_STRATEGY("vertical","SPY",20261218,"600,610","C")`` gives the combo's contract text, which
every function taking a contract accepts: ``=IB_QUOTE(IB_STRATEGY(...),"Mid")`` quotes it and an
armed ``=IB_ORDER(key, IB_STRATEGY(...), "BUY", 1, "LMT", price)`` sends it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

import ibxl

from .declare import worksheet
from .shapes import EXCEL_EPOCH, flat, is_blank


def _expiry(value: Any) -> Any:
    """YYYYMMDD text from a cell: text, a number such as 20261218, an Excel date, or a range of two."""
    items = flat(value) if isinstance(value, list | tuple) else [value]
    out = []
    for v in items:
        if is_blank(v):
            continue
        if isinstance(v, date):
            out.append(v.strftime("%Y%m%d"))
        elif isinstance(v, int | float):
            n = int(v)
            # small numbers are Excel date serials (days since 1899-12-30)
            out.append((EXCEL_EPOCH + timedelta(days=n)).strftime("%Y%m%d") if n < 100000 else str(n))
        else:
            out.extend(p for p in str(v).replace(";", ",").split(",") if p.strip())
    return out[0] if len(out) == 1 else out or None


@worksheet(args={"kind": "vertical, straddle, strangle, butterfly, iron_condor, calendar, covered_call or collar",
                 "underlying": "the underlying symbol, e.g. SPY",
                 "expiry": "YYYYMMDD (a calendar takes near,far)",
                 "strikes": "a range or text such as 600,610",
                 "right": "C or P, for verticals, butterflies and calendars"})
def IB_STRATEGY(kind: Any, underlying: Any, expiry: Any, strikes: Any, right: Any = None) -> Any:
    """The contract text of a named option strategy, for IB_QUOTE, IB_ORDER and IB_PAYOFF."""
    if is_blank(kind):
        from ibxl.strategies import KINDS

        raise ValueError("kind is empty - give one of " + ", ".join(KINDS))
    ks = flat(strikes) if isinstance(strikes, list | tuple) else strikes
    return str(ibxl.strategy(str(kind), "" if is_blank(underlying) else str(underlying), _expiry(expiry), ks,
                             None if is_blank(right) else str(right)))


@worksheet(spills=True, args={"combo": "a combo's contract text, e.g. from IB_STRATEGY",
                              "low": "lowest underlying price (default 20% below the lowest strike)",
                              "high": "highest underlying price (default 20% above the highest strike)",
                              "steps": "how many prices (default 41)"})
def IB_PAYOFF(combo: Any, low: Any = None, high: Any = None, steps: Any = None) -> Any:
    """The P&L of one unit of a combo across underlying prices: at expiry and today (Black-Scholes)."""
    if is_blank(combo):
        raise ValueError("combo is empty - give a combo such as IB_STRATEGY(\"vertical\",\"SPY\",...)")
    n = 41 if is_blank(steps) else int(float(steps))
    if not 2 <= n <= 1001:
        raise ValueError(f"steps {n} - expected 2 to 1001")
    prices = None
    if not is_blank(low) or not is_blank(high):
        if is_blank(low) or is_blank(high):
            raise ValueError("give both low and high, or neither")
        lo, hi = float(low), float(high)
        if not 0 <= lo < hi:
            raise ValueError(f"low {lo:g} and high {hi:g} - expected 0 <= low < high")
        prices = np.linspace(lo, hi, n)
    df = ibxl.payoff(str(combo).strip(), prices, steps=n)
    return [["underlying", "expiry", "today"],
            *[[round(float(s), 4), round(float(e), 2), round(float(t), 2)]
              for s, e, t in zip(df.index, df["expiry"], df["today"], strict=True)]]
