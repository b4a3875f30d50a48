"""Portfolio risk in cells: IB_RISK, IB_SCENARIOS and IB_VAR (see :mod:`ibxl.portfolio_risk`)."""

from __future__ import annotations

from typing import Any

import ibxl

from .accounts import account_arg
from .declare import worksheet
from .shapes import cell, flat, is_blank, table

ACCOUNT_HELP = 'blank: the connection\'s account; an id, "All", "DU1,DU2" or a range of ids'


def _numbers(value: Any, what: str) -> list[float] | None:
    """A range of numbers (blanks skipped), or None for a blank argument (the default axis)."""
    if is_blank(value):
        return None
    out = []
    for v in flat(value):
        if isinstance(v, bool) or not isinstance(v, int | float):
            try:
                v = float(str(v).strip().rstrip("%")) / (100 if str(v).strip().endswith("%") else 1)
            except ValueError:
                raise ValueError(f"{what} must be numbers; {v!r} is not one") from None
        out.append(float(v))
    return out


def _number(value: Any, default: float, what: str) -> float:
    if is_blank(value):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, not {value!r}") from None


@worksheet(volatile=True, spills=True,
           args={"account": ACCOUNT_HELP, "benchmark": "beta benchmark (default SPY)"})
def IB_RISK(account: Any = None, benchmark: Any = None) -> Any:
    """Risk by position with a Total row: quantity, price, market value, delta, dollar delta,
    gamma, vega, theta, beta and beta-weighted delta (in benchmark shares)."""
    bench = "SPY" if is_blank(benchmark) else str(benchmark).strip()
    df = ibxl.risk(account_arg(account), benchmark=bench)
    return table(df.drop(columns=["greeks_source"]), index=False)


@worksheet(volatile=True, spills=True,
           args={"moves": "underlying moves as fractions or percentages (default -20% to +20%)",
                 "vol_shifts": "implied-vol shifts in vol points (default -10 to +10)",
                 "days": "calendar days to age the options (default 0)", "account": ACCOUNT_HELP})
def IB_SCENARIOS(moves: Any = None, vol_shifts: Any = None, days: Any = 0, account: Any = None) -> Any:
    """Portfolio P&L grid: one row per underlying move, one column per implied-vol shift, each
    underlying moved by its beta to SPY and each option repriced with Black–Scholes."""
    grid = ibxl.scenarios(_numbers(moves, "moves"), _numbers(vol_shifts, "vol_shifts"),
                          _number(days, 0.0, "days"), account=account_arg(account))
    header = ["move \\ vol", *[cell(float(v)) for v in grid.columns]]
    return [header, *[[cell(float(m)), *[cell(float(x)) for x in row]]
                      for m, row in zip(grid.index, grid.to_numpy(), strict=True)]]


@worksheet(volatile=True, spills=True,
           args={"confidence": "e.g. 0.99 (default)", "horizon": "days (default 1)", "account": ACCOUNT_HELP,
                 "method": '"historical" (default) or "parametric"'})
def IB_VAR(confidence: Any = None, horizon: Any = None, account: Any = None, method: Any = None) -> Any:
    """Value at risk and expected shortfall of today's positions from the daily history of their
    underlyings (losses as positive numbers)."""
    df = ibxl.var(_number(confidence, 0.99, "confidence"), _number(horizon, 1, "horizon"),
                  "historical" if is_blank(method) else str(method).strip(), account=account_arg(account))
    return table(df, index=False)
