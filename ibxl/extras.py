"""ibxl's optional parts (``pip install 'ibxl[dashboard]'``, ``'ibxl[server]'``): a command that
needs one that is not installed says which, in one line, instead of failing deep in an import."""

from __future__ import annotations

import importlib.util

#: extra -> the modules it brings that ibxl imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "dashboard": ("voila", "ipykernel", "psutil"),
    "server": ("xlwings_server", "socketio", "uvicorn", "httpx"),
}


class MissingExtra(ImportError):
    """An optional part of ibxl is needed but not installed; the message names the pip command."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` naming the install command when ``feature`` cannot run because
    a module of ``extra`` is missing."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(f"{feature} needs {', '.join(absent)}: pip install 'ibxl[{extra}]'")
