"""Excel-shaped values: what a cell can hold, and how DataFrames spill."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

EXCEL_EPOCH = datetime(1899, 12, 30)


def excel_date(value: Any) -> float:
    """An Excel serial date (days since 1899-12-30; wall time in the value's own zone)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return (ts.floor("us").to_pydatetime() - EXCEL_EPOCH).total_seconds() / 86400.0


def cell(value: Any) -> Any:
    """One value as a cell holds it: numbers, text, booleans, dates as serials, blanks for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float | int):
        return "" if isinstance(value, float) and (math.isnan(value) or math.isinf(value)) else value
    if isinstance(value, pd.Timestamp | datetime | date):
        return excel_date(value) if not pd.isna(value) else ""
    if hasattr(value, "item"):  # numpy scalars
        return cell(value.item())
    return str(value)


def table(df: pd.DataFrame, index: bool = True) -> list[list[Any]]:
    """A DataFrame as rows with a header row (the index first, named, when ``index``)."""
    frame = df.reset_index() if index else df
    header = [str(c) for c in frame.columns]
    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return [header, *rows] if rows else [header]


def is_blank(value: Any) -> bool:
    """True for an empty cell (None, '' or an empty range)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list):
        return all(is_blank(v) for v in value)
    return False


def flat(values: Any) -> list[Any]:
    """A range (scalar, row, column or 2-D block) as a flat list without blanks."""
    if isinstance(values, list):
        out: list[Any] = []
        for v in values:
            out += flat(v)
        return out
    return [] if is_blank(values) else [values]


def as_bool(value: Any, default: bool = False) -> bool:
    """An Excel boolean (TRUE/FALSE, 1/0, 'yes'); blank gives ``default``."""
    if is_blank(value):
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "on")
    return bool(value)
