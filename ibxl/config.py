"""ibxl's settings: function arguments, then environment variables, then the user's config file.

The config file is TOML at ``platformdirs.user_config_dir("ibxl")/config.toml``, e.g.::

    host = "127.0.0.1"
    port = 7497
    client_id = 7
    trading = "paper"          # off (default) | paper | live
    max_order_quantity = 1000
    max_order_notional = 250000
    price_band = 0.05

No credentials are ever stored: TWS or IB Gateway holds the login.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

TRADING_MODES = ("off", "paper", "live")
#: where TWS / IB Gateway listens by default, and so the embedded gateway too: this machine only,
#: on TWS paper trading's port
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7497


def config_path() -> Path:
    """Where the user's config file lives (``IBXL_CONFIG`` overrides it)."""
    env = os.environ.get("IBXL_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir("ibxl")) / "config.toml"


@dataclass
class Settings:
    """Everything ibxl needs to know to connect and to guard orders."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    client_id: int = 17
    account: str = ""
    sim: bool = False
    trading: str = "off"
    allow_live: bool = False
    max_order_quantity: float = 10_000
    max_order_notional: float = 1_000_000
    price_band: float = 0.05
    cache_dir: str = ""
    data_dir: str = ""
    timeout: float = 10.0
    #: simultaneous market-data lines the IB login allows: 100, more with quote booster packs or high
    #: commissions (shared by every process attached to the hub)
    line_budget: int = 100
    #: classic Excel without dynamic arrays (before Excel 2021): resize table formulas (docs/excel.md)
    excel_legacy_arrays: bool = False

    @property
    def cache_path(self) -> Path:
        """Directory of the bar store."""
        return Path(self.cache_dir or platformdirs.user_cache_dir("ibxl"))

    @property
    def data_path(self) -> Path:
        """Directory of ibxl's own records (order keys; the embedded gateway's paper account under
        ``sim/``)."""
        return Path(self.data_dir or platformdirs.user_data_dir("ibxl"))


_ENV = {"host": "IBXL_HOST", "port": "IBXL_PORT", "client_id": "IBXL_CLIENT_ID", "account": "IBXL_ACCOUNT",
        "sim": "IBXL_SIM", "trading": "IBXL_TRADING", "allow_live": "IBXL_ALLOW_LIVE", "cache_dir": "IBXL_CACHE_DIR",
        "data_dir": "IBXL_DATA_DIR", "max_order_quantity": "IBXL_MAX_ORDER_QUANTITY",
        "max_order_notional": "IBXL_MAX_ORDER_NOTIONAL", "price_band": "IBXL_PRICE_BAND",
        "excel_legacy_arrays": "IBXL_EXCEL_LEGACY_ARRAYS", "line_budget": "IBXL_LINE_BUDGET"}


#: settings that follow a call made through the hub: the caller's order guards, not the hub's
CALLER_SETTINGS = ("trading", "allow_live", "max_order_quantity", "max_order_notional", "price_band")
_caller: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("ibxl_caller_settings",
                                                                               default=None)


_guards: tuple[tuple[Any, ...], dict[str, Any]] | None = None


def caller_settings() -> dict[str, Any]:
    """This process's order guards (trading mode and limits), sent along with every hub call.

    Read again only when the config file or the environment changed: a streaming chain or a
    recalculating cell makes a hub call several times a second, and each would otherwise read
    and parse the file."""
    global _guards
    path = config_path()
    try:
        st = path.stat()
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    key = (str(path), stamp, tuple(os.environ.get(var, "") for var in _ENV.values()), _caller.get())
    if _guards is None or _guards[0] != key:
        s = load()
        _guards = (key, {name: getattr(s, name) for name in CALLER_SETTINGS})
    return dict(_guards[1])


@contextlib.contextmanager
def scoped(values: dict[str, Any] | None) -> Iterator[None]:
    """Within the block (on this thread), ``load()`` uses the calling process's order guards."""
    clean = {k: v for k, v in (values or {}).items() if k in CALLER_SETTINGS}
    token = _caller.set(clean or None)
    try:
        yield
    finally:
        _caller.reset(token)


def _coerce(name: str, value: Any, kind: type | str) -> Any:
    if kind is bool or isinstance(kind, str) and kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    try:
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name}={value!r} is not a number") from None
    return str(value)


def load(**overrides: Any) -> Settings:
    """Settings from arguments (non-None ``overrides``), then environment, then config file."""
    merged: dict[str, Any] = {}
    path = config_path()
    if path.exists():
        try:
            merged.update(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    for name, var in _ENV.items():
        if os.environ.get(var, "") != "":
            merged[name] = os.environ[var]
    caller = _caller.get()
    if caller:
        merged.update(caller)
    merged.update({k: v for k, v in overrides.items() if v is not None})
    kinds = {f.name: f.type for f in fields(Settings)}
    unknown = sorted(set(merged) - set(kinds))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)} in {path}; known: {', '.join(kinds)}")
    values = {k: _coerce(k, v, kinds[k]) for k, v in merged.items()}
    settings = Settings(**values)
    settings.trading = settings.trading.strip().lower()
    if settings.trading not in TRADING_MODES:
        raise ValueError(f"trading={settings.trading!r}; use one of {', '.join(TRADING_MODES)}")
    if settings.line_budget < 1:
        raise ValueError(f"line_budget={settings.line_budget}: it is the number of market-data lines your IB login "
                         "allows (100, more with quote booster packs)")
    return settings
