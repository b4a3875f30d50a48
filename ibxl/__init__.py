"""ibxl: Interactive Brokers from Excel, notebooks and pandas.

The public functions live in small modules and are imported on first use, so that
``import ibxl`` stays fast (Excel function servers and notebooks import it often).
See ``docs/data-layer-api.md`` for the full API.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (  # noqa: F401  (re-exported: the public exception types)
    AmbiguousContract,
    ContractNotFound,
    ContractSyntaxError,
    IBError,
    IBXLError,
    NotConnected,
    OrderRejected,
    RequestTimeout,
    TradingDisabled,
)

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["connect", "disconnect", "client", "status", "Client"], "connection"),
    **dict.fromkeys(["parse_contract", "contract_text", "resolve", "ContractSpec"], "contracts"),
    **dict.fromkeys(["quotes", "quote", "subscribe", "unsubscribe", "QuoteHandle", "QuoteSnapshot"], "live"),
    **dict.fromkeys(["history"], "bars"),
    **dict.fromkeys(["option_chain", "chain_stream", "start_chain", "chain_job", "cancel_chain", "expiries", "strikes"],
                    "chains"),
    **dict.fromkeys(["positions", "portfolio", "account_summary", "account_value", "pnl", "managed_accounts"],
                    "account"),
    **dict.fromkeys(["risk", "scenarios", "var"], "portfolio_risk"),
    **dict.fromkeys(["orders", "executions", "order", "cancel", "what_if", "trading_mode", "OrderResult"],
                    "trading"),
    **dict.fromkeys(["scanner", "scanner_parameters", "news", "article", "bulletins"], "research"),
    **dict.fromkeys(["contract_details", "search", "depth"], "reference"),
    **dict.fromkeys(["strategy", "payoff", "strategy_summary", "Strategy"], "strategies"),
}

__all__ = sorted([*_EXPORTS, "IBXLError", "NotConnected", "RequestTimeout", "IBError", "ContractNotFound",
                  "AmbiguousContract", "ContractSyntaxError", "TradingDisabled", "OrderRejected"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ibxl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
