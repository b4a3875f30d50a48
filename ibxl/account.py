"""What the account holds and is worth, as DataFrames: positions, portfolio, summary, P&L."""

from __future__ import annotations

import time

import pandas as pd

from .connection import client as _client
from .contracts import contract_text
from .remote import on_hub

POSITION_COLUMNS = ["account", "contract", "symbol", "sec_type", "position", "avg_cost"]
PORTFOLIO_COLUMNS = ["account", "contract", "symbol", "sec_type", "position", "market_price", "market_value",
                     "avg_cost", "unrealized_pnl", "realized_pnl", "currency"]


@on_hub
def positions() -> pd.DataFrame:
    """Every position of every managed account (zero positions closed today included)."""
    c = _client()
    rows = c.call(lambda: [(p.account, contract_text(p.contract), p.contract.symbol, p.contract.secType,
                            float(p.position), float(p.avgCost)) for p in c.ib.positions()])
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


@on_hub
def portfolio(account: str = "") -> pd.DataFrame:
    """Positions marked to market: price, value, average cost, unrealized and realized P&L."""
    c = _client()
    acct = account or c.account
    rows = c.call(lambda: [(p.account, contract_text(p.contract), p.contract.symbol, p.contract.secType,
                            float(p.position), p.marketPrice, p.marketValue, p.averageCost, p.unrealizedPNL,
                            p.realizedPNL, p.contract.currency) for p in c.ib.portfolio(acct)])
    df = pd.DataFrame(rows, columns=PORTFOLIO_COLUMNS)
    return df[df["position"] != 0].reset_index(drop=True)


@on_hub
def account_summary(tags: list[str] | None = None, account: str = "") -> pd.DataFrame:
    """Account figures (NetLiquidation, TotalCashValue, BuyingPower, ...) indexed by tag:
    columns value (float where numeric), currency, account."""
    c = _client()
    acct = account or c.account
    values = c.run(lambda: c.ib.accountSummaryAsync(acct))
    rows = []
    for v in values:
        if tags and v.tag not in tags:
            continue
        try:
            value: object = float(v.value)
        except ValueError:
            value = v.value
        rows.append((v.tag, value, v.currency, v.account))
    df = pd.DataFrame(rows, columns=["tag", "value", "currency", "account"]).drop_duplicates("tag")
    return df.set_index("tag")


@on_hub
def account_value(tag: str, account: str = "") -> float:
    """One numeric account figure, e.g. ``account_value("NetLiquidation")``."""
    df = account_summary(account=account)
    if tag not in df.index:
        raise KeyError(f"account tag {tag!r} - available: {', '.join(df.index)}")
    return float(df.loc[tag, "value"])


_pnl_subs: dict[str, object] = {}


@on_hub
def pnl(account: str = "", wait: float = 2.0) -> pd.DataFrame:
    """Today's P&L of the account (one row: daily_pnl, unrealized_pnl, realized_pnl), live from TWS."""
    c = _client()
    acct = account or c.account
    sub = _pnl_subs.get(acct)
    if sub is None:
        sub = c.call(lambda: c.ib.reqPnL(acct))
        _pnl_subs[acct] = sub
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and sub.dailyPnL != sub.dailyPnL:  # type: ignore[attr-defined]
        time.sleep(0.05)
    return pd.DataFrame([{"daily_pnl": sub.dailyPnL, "unrealized_pnl": sub.unrealizedPnL,  # type: ignore[attr-defined]
                          "realized_pnl": sub.realizedPnL}], index=pd.Index([acct], name="account"))  # type: ignore[attr-defined]
