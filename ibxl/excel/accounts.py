"""The ``account`` argument of worksheet functions: a blank cell, one id, "All", "DU1,DU2" or a
range of ids, turned into what the data layer's ``account=`` takes."""

from __future__ import annotations

from typing import Any

from .shapes import flat, is_blank


def account_arg(value: Any, default: str | None = None) -> str | list[str] | None:
    """``default`` for a blank cell; a range of several ids becomes a list; text stays text
    (the data layer reads "All" and comma-separated ids)."""
    if is_blank(value):
        return default
    items = [str(v).strip() for v in flat(value) if str(v).strip()]
    if len(items) == 1:
        return items[0]
    return items
