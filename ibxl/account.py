"""What the account holds and is worth, as DataFrames: positions, portfolio, summary, P&L.

Every function takes ``account=``: one account id, a list of ids (or "DU1,DU2"), or "All" for
every account of the login (FA and linked accounts). With several accounts the result carries a
per-account column (or row) and a "Total" that sums the additive figures.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from .connection import client as _client
from .contracts import contract_text
from .errors import IBXLError
from .remote import on_hub

POSITION_COLUMNS = ["account", "contract", "symbol", "sec_type", "position", "avg_cost"]
PORTFOLIO_COLUMNS = ["account", "contract", "symbol", "sec_type", "position", "market_price", "market_value",
                     "avg_cost", "unrealized_pnl", "realized_pnl", "currency"]
#: the label of the row (or column) that sums several accounts
TOTAL = "Total"
#: account-summary tags that are ratios or labels: they do not add up across accounts
NOT_ADDITIVE = {"Cushion", "Leverage", "AccountType", "DayTradesRemaining", "LookAheadNextChange",
                "HighestSeverity", "Currency", "AccountOrGroup", "RealCurrency", "ExchangeRate"}

AccountArg = str | list[str] | tuple[str, ...] | None


@on_hub
def managed_accounts() -> list[str]:
    """The accounts this login manages (as TWS lists them at connect)."""
    c = _client()
    return list(c.call(c.ib.managedAccounts))


@on_hub
def account_ids(account: AccountArg = None) -> tuple[list[str], bool]:
    """Resolve an ``account=`` argument to account ids and whether several were asked for.

    None or "" is the connection's account; "All" is every managed account; a list (or
    comma-separated text) is those accounts. An id the login does not manage is an error that
    lists the ones it does.
    """
    c = _client()
    if account is None or (isinstance(account, str) and not account.strip()):
        return [c.account], False
    if isinstance(account, str):
        if account.strip().lower() == "all":
            return managed_accounts(), True
        wanted = [a.strip() for a in account.split(",") if a.strip()]
        multi = len(wanted) > 1
    elif isinstance(account, list | tuple):
        wanted = [str(a).strip() for a in account if str(a).strip()]
        multi = True
        if not wanted:
            raise ValueError("account list is empty - give one or more account ids, or 'All'")
    else:
        raise TypeError(f"account must be an account id, a list of ids or 'All', not {type(account).__name__}")
    known = managed_accounts()
    for a in wanted:
        if a not in known:
            raise IBXLError(f"unknown account {a!r}",
                            hint=f"this login manages {', '.join(known)}; pass one of them, a list, or 'All'")
    return list(dict.fromkeys(wanted)), multi


@on_hub
def positions(account: AccountArg = "All") -> pd.DataFrame:
    """Positions (zero positions closed today included), one row per account and contract.

    ``account``: "All" (default: every managed account), one id or a list of ids.
    """
    ids, _ = account_ids(account)
    c = _client()
    rows = c.call(lambda: [(p.account, contract_text(p.contract), p.contract.symbol, p.contract.secType,
                            float(p.position), float(p.avgCost)) for p in c.ib.positions() if p.account in ids])
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


#: per connection: the account whose portfolio TWS streams now, and the live reqPnL objects
_subscribed: dict[int, str] = {}
_switch_lock = threading.Lock()
_pnl_subs: dict[tuple[int, str], object] = {}
_watched: set[int] = set()


def _watch(c: Any) -> None:
    """Forget a connection's subscriptions when it drops: after a reconnect TWS has none of them."""
    if id(c) in _watched:
        return
    _watched.add(id(c))

    def on_state(up: bool) -> None:
        if not up:
            _subscribed.pop(id(c), None)
            for key in [k for k in _pnl_subs if k[0] == id(c)]:
                _pnl_subs.pop(key, None)

    c.state_listeners.append(on_state)


def _portfolio_of(c: Any, acct: str) -> list[tuple]:
    """Portfolio rows of one account. TWS streams the portfolio of one account at a time
    (reqAccountUpdates), so another account is switched to and its download awaited."""
    _watch(c)
    with _switch_lock:
        current = _subscribed.get(id(c))
        if current is None:
            # ib_async subscribed at connect to the configured account, or to the only one
            managed = c.call(c.ib.managedAccounts)
            current = c.settings.account or (managed[0] if len(managed) == 1 else "")
        if current != acct:
            c.run(lambda: c.ib.reqAccountUpdatesAsync(acct))
        _subscribed[id(c)] = acct
        return c.call(lambda: [(p.account, contract_text(p.contract), p.contract.symbol, p.contract.secType,
                                float(p.position), p.marketPrice, p.marketValue, p.averageCost, p.unrealizedPNL,
                                p.realizedPNL, p.contract.currency) for p in c.ib.portfolio(acct)])


def _total_row(df: pd.DataFrame, label_col: str, sums: list[str]) -> pd.DataFrame:
    """``df`` with a row labelled "Total" that sums ``sums`` (other columns left empty)."""
    total: dict[str, object] = {col: (np.nan if df[col].dtype.kind in "fi" else "") for col in df.columns}
    total[label_col] = TOTAL
    for col in sums:
        total[col] = float(df[col].sum())
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


@on_hub
def portfolio(account: AccountArg = None) -> pd.DataFrame:
    """Positions marked to market: price, value, average cost, unrealized and realized P&L.

    ``account``: the connection's account (default), one id, a list, or "All" (then a Total row
    sums market value and P&L).
    """
    ids, multi = account_ids(account)
    c = _client()
    rows = [r for acct in ids for r in _portfolio_of(c, acct)]
    df = pd.DataFrame(rows, columns=PORTFOLIO_COLUMNS)
    df = df[df["position"] != 0].reset_index(drop=True)
    if multi:
        df = _total_row(df, "account", ["market_value", "unrealized_pnl", "realized_pnl"])
    return df


def _summary_one(values: list[Any], tags: list[str] | None) -> pd.DataFrame:
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
def account_summary(tags: list[str] | None = None, account: AccountArg = None) -> pd.DataFrame:
    """Account figures (NetLiquidation, TotalCashValue, BuyingPower, ...) indexed by tag.

    One account: columns value (float where numeric), currency, account. Several accounts (a list
    or "All"): one column per account, a Total column (sums; empty for ratios such as Cushion)
    and currency.
    """
    ids, multi = account_ids(account)
    c = _client()
    if not multi:
        return _summary_one(c.run(lambda: c.ib.accountSummaryAsync(ids[0])), tags)
    frames = {acct: _summary_one(c.run(functools.partial(c.ib.accountSummaryAsync, acct)), tags) for acct in ids}
    order = list(dict.fromkeys(tag for f in frames.values() for tag in f.index))
    wide = pd.DataFrame({acct: f["value"].reindex(order) for acct, f in frames.items()}, index=order)
    wide.index.name = "tag"
    numeric = wide.apply(pd.to_numeric, errors="coerce")
    additive = [t for t in order if t not in NOT_ADDITIVE and numeric.loc[t].notna().all()]
    wide[TOTAL] = np.nan
    wide.loc[additive, TOTAL] = numeric.loc[additive].sum(axis=1)
    first = next(iter(frames.values()))
    wide["currency"] = [first["currency"].get(t, "") for t in order]
    return wide


def account_value(tag: str, account: str = "") -> float:
    """One numeric account figure, e.g. ``account_value("NetLiquidation")``."""
    df = account_summary(account=account)
    if tag not in df.index:
        raise KeyError(f"account tag {tag!r} - available: {', '.join(df.index)}")
    return float(df.loc[tag, "value"])


@on_hub
def pnl(account: AccountArg = None, wait: float = 2.0) -> pd.DataFrame:
    """Today's P&L live from TWS, one row per account (daily_pnl, unrealized_pnl, realized_pnl);
    with a list or "All" a Total row sums them."""
    ids, multi = account_ids(account)
    c = _client()
    _watch(c)
    subs = []
    for acct in ids:
        sub = _pnl_subs.get((id(c), acct))
        if sub is None:
            sub = c.call(lambda a=acct: c.ib.reqPnL(a))
            _pnl_subs[(id(c), acct)] = sub
        subs.append(sub)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(s.dailyPnL != s.dailyPnL for s in subs):  # type: ignore[attr-defined]
        time.sleep(0.05)
    df = pd.DataFrame([{"daily_pnl": s.dailyPnL, "unrealized_pnl": s.unrealizedPnL,  # type: ignore[attr-defined]
                        "realized_pnl": s.realizedPnL} for s in subs],  # type: ignore[attr-defined]
                      index=pd.Index(ids, name="account"))
    if multi:
        df.loc[TOTAL] = df.sum()
    return df
