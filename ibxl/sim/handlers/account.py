"""Account requests: account updates and portfolio, account summary, positions, P&L.

Figures come from the broker's valuation; this module only chooses which keys each request
gets and writes them as TWS does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import SimError
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles

if TYPE_CHECKING:
    from ..server import Gateway

#: how often subscribed clients get fresh account figures and portfolio marks (TWS: 3 minutes)
ACCOUNT_REFRESH = 3.0
PNL_REFRESH = 1.0

SUMMARY_TAGS = ("AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash", "BuyingPower",
                "EquityWithLoanValue", "PreviousDayEquityWithLoanValue", "GrossPositionValue", "RegTEquity",
                "RegTMargin", "SMA", "InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity",
                "Cushion", "FullInitMarginReq", "FullMaintMarginReq", "FullAvailableFunds", "FullExcessLiquidity",
                "LookAheadNextChange", "LookAheadInitMarginReq", "LookAheadMaintMarginReq",
                "LookAheadAvailableFunds", "LookAheadExcessLiquidity", "HighestSeverity", "DayTradesRemaining",
                "Leverage")
LEDGER_TAGS = ("CashBalance", "TotalCashBalance", "AccruedCash", "StockMarketValue", "OptionMarketValue",
               "FutureOptionValue", "FuturesPNL", "NetLiquidationByCurrency", "UnrealizedPnL", "RealizedPnL",
               "ExchangeRate", "FundValue", "NetDividend", "MutualFundValue", "MoneyMarketFundValue",
               "CorporateBondValue", "TBondValue", "TBillValue", "WarrantValue", "FxCashBalance", "AccountOrGroup",
               "RealCurrency", "IssuerOptionValue")


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def _account_value_rows(gateway: Gateway, account: str) -> list[tuple[str, str, str]]:
    """(key, value, currency) rows of reqAccountUpdates for one account."""
    broker = gateway.broker
    acct = broker.account(account)
    v = broker.values(account)
    base = acct.base_currency
    rows: list[tuple[str, str, str]] = [("AccountCode", account, ""), ("AccountType", "INDIVIDUAL", ""),
                                        ("AccountReady", "true", ""), ("Currency", base, base),
                                        ("Currency", "BASE", "BASE")]
    for key, value in v.items():
        rows.append((key, _fmt(value), base))
    for cur, amount in sorted(acct.cash.items()):
        rows.append(("CashBalance", _fmt(amount), cur))
        rows.append(("TotalCashBalance", _fmt(amount), cur))
        rows.append(("ExchangeRate", f"{broker.valuation.fx_rate(cur, base):.6f}", cur))
    rows += [("CashBalance", _fmt(v["TotalCashValue"]), "BASE"),
             ("TotalCashBalance", _fmt(v["TotalCashValue"]), "BASE"),
             ("NetLiquidationByCurrency", _fmt(v["NetLiquidation"]), "BASE"),
             ("UnrealizedPnL", _fmt(v["UnrealizedPnL"]), "BASE"), ("RealizedPnL", _fmt(v["RealizedPnL"]), "BASE"),
             ("StockMarketValue", _fmt(v["StockMarketValue"]), "BASE"),
             ("OptionMarketValue", _fmt(v["OptionMarketValue"]), "BASE"),
             ("FuturesPNL", _fmt(v["FuturesPNL"]), "BASE")]
    return rows


def _portfolio_messages(gateway: Gateway, account: str) -> list[list[object]]:
    broker = gateway.broker
    out = []
    for row in broker.valuation.position_rows(broker.account(account)):
        inst = row["inst"]
        out.append([Msg.PORTFOLIO_VALUE, 8, inst.conId, inst.symbol, inst.secType, inst.lastTradeDateOrContractMonth,
                    inst.strike or 0.0, inst.right, inst.multiplier, inst.primaryExchange, inst.currency,
                    inst.localSymbol, inst.tradingClass, row["position"], round(row["price"], 6),
                    round(row["value"], 2), round(row["avg_cost"], 6), round(row["unrealized"], 2),
                    round(row["realized"], 2), account])
    return out


def _send_account(s: Session, account: str) -> None:
    for key, value, cur in _account_value_rows(s.gateway, account):
        s.send(Msg.ACCT_VALUE, 2, key, value, cur, account)
    for msg in _portfolio_messages(s.gateway, account):
        s.send(*msg)
    s.send(Msg.ACCT_UPDATE_TIME, 1, datetime.fromtimestamp(s.gateway.clock.time(), UTC).strftime("%H:%M"))


def _position_messages(gateway: Gateway) -> list[list[object]]:
    broker = gateway.broker
    out = []
    for acct in broker.accounts.values():
        for pos in acct.positions.values():
            inst = gateway.universe.get(pos.con_id)
            if inst is not None:
                out.append([Msg.POSITION_DATA, 3, acct.account_id, inst.conId, inst.symbol, inst.secType,
                            inst.lastTradeDateOrContractMonth, inst.strike or 0.0, inst.right, inst.multiplier,
                            inst.exchange, inst.currency, inst.localSymbol, inst.tradingClass, pos.quantity,
                            round(pos.avg_cost, 6)])
    return out


def push_account(gateway: Gateway, account: str) -> None:
    """After a fill: tell every subscriber of this account, and every positions subscriber."""
    for sess in list(gateway.sessions):
        if sess.closed:
            continue
        if sess.state.get("account_updates") == account:
            _send_account(sess, account)
        if sess.state.get("positions"):
            for msg in _position_messages(gateway):
                sess.send(*msg)
            sess.send(Msg.POSITION_END, 1)
        for req_id, (wanted, model) in list(sess.state.get("positions_multi", {}).items()):
            if not wanted or wanted in ("All", account):
                _send_positions_multi(sess, req_id, wanted, model)


@handles(Req.ACCOUNT_UPDATES)
def req_account_updates(s: Session, r: FieldReader) -> None:
    r.int("version")
    subscribe = r.bool("subscribe")
    broker = s.gateway.broker
    account = r.str("acctCode") or next(iter(broker.accounts))
    broker.account(account)
    s.cancel_subscription("account_updates", 0)
    if not subscribe:
        s.state.pop("account_updates", None)
        return
    s.state["account_updates"] = account
    _send_account(s, account)
    s.send(Msg.ACCT_DOWNLOAD_END, 1, account)
    _refresh_on_pulse(s, "account_updates", 0, ACCOUNT_REFRESH, lambda: _send_account(s, account))


@handles(Req.POSITIONS)
def req_positions(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.state["positions"] = True
    for msg in _position_messages(s.gateway):
        s.send(*msg)
    s.send(Msg.POSITION_END, 1)


@handles(Req.CANCEL_POSITIONS)
def cancel_positions(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.state.pop("positions", None)


def _summary_rows(gateway: Gateway, account: str, tags: str) -> list[tuple[str, str, str]]:
    broker = gateway.broker
    acct = broker.account(account)
    v = broker.values(account)
    wanted = [t.strip() for t in tags.split(",") if t.strip()]
    rows: list[tuple[str, str, str]] = []
    for tag in wanted:
        if tag.startswith("$LEDGER"):
            currencies = ["BASE"] if tag == "$LEDGER" else ["BASE", *sorted(acct.cash)]
            if tag.startswith("$LEDGER:") and tag not in ("$LEDGER:ALL",):
                currencies = [tag.split(":", 1)[1]]
            for cur in currencies:
                cash = v["TotalCashValue"] if cur == "BASE" else acct.cash.get(cur, 0.0)
                rows += [("CashBalance", _fmt(cash), cur), ("TotalCashBalance", _fmt(cash), cur),
                         ("NetLiquidationByCurrency", _fmt(v["NetLiquidation"] if cur == "BASE" else cash), cur),
                         ("StockMarketValue", _fmt(v["StockMarketValue"] if cur == "BASE" else 0.0), cur),
                         ("UnrealizedPnL", _fmt(v["UnrealizedPnL"] if cur == "BASE" else 0.0), cur),
                         ("RealizedPnL", _fmt(v["RealizedPnL"] if cur == "BASE" else 0.0), cur),
                         ("ExchangeRate", f"{broker.valuation.fx_rate(cur, acct.base_currency):.6f}"
                          if cur != "BASE" else "1.00", cur)]
        elif tag == "AccountType":
            rows.append((tag, "INDIVIDUAL", ""))
        elif tag == "LookAheadNextChange":
            rows.append((tag, "0", ""))
        elif tag == "DayTradesRemaining":
            rows.append((tag, "-1", ""))
        elif tag in ("Cushion", "Leverage"):
            rows.append((tag, f"{v[tag]:.6f}", ""))
        elif tag in v:
            rows.append((tag, _fmt(v[tag]), acct.base_currency))
    return rows


@handles(Req.ACCOUNT_SUMMARY)
def req_account_summary(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    group = r.str("groupName")
    tags = r.str("tags")
    broker = s.gateway.broker
    if group not in ("All", ""):
        raise SimError(321, f"account summary group {group!r}; use 'All'", req_id=req_id)
    for account in broker.accounts:
        for tag, value, cur in _summary_rows(s.gateway, account, tags):
            s.send(Msg.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, cur)
    s.send(Msg.ACCOUNT_SUMMARY_END, 1, req_id)


@handles(Req.CANCEL_ACCOUNT_SUMMARY)
def cancel_account_summary(s: Session, r: FieldReader) -> None:
    r.int("version")
    r.int("reqId")


def _stream_pnl(s: Session, kind: str, req_id: int, values: Callable[[], tuple[object, ...]]) -> None:
    """Send ``values()`` now and then every PNL_REFRESH seconds until the subscription is cancelled
    (reqPnL and reqPnLSingle share this loop; only what they send differs)."""
    msg = Msg.PNL if kind == "pnl" else Msg.PNL_SINGLE
    sent = s.gateway.clock.time()
    s.send_update(msg, req_id, *values())
    _refresh_on_pulse(s, kind, req_id, PNL_REFRESH, lambda: s.send_update(msg, req_id, *values()), sent)


def _refresh_on_pulse(s: Session, kind: str, key: int, every: float, send: Callable[[], object],
                      sent: float | None = None) -> None:
    """Call ``send`` on the gateway's pulse every ``every`` seconds, counted from ``sent`` (when the
    caller sent the first figures; default now), until the session's ``(kind, key)`` subscription
    is cancelled."""
    last = [s.gateway.clock.time() if sent is None else sent]

    def refresh(now: float) -> None:
        if now - last[0] >= every:
            last[0] = now
            send()

    handle = s.gateway.pulse.add(refresh)
    s.add_subscription(kind, key, lambda: s.gateway.pulse.remove(handle))


@handles(Req.PNL)
def req_pnl(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    account = r.str("account")
    r.str("modelCode")
    broker = s.gateway.broker
    broker.account(account, req_id=req_id)

    def values() -> tuple[object, ...]:
        v = broker.values(account)
        return round(v["DailyPnL"], 2), round(v["UnrealizedPnL"], 2), round(v["RealizedPnL"], 2)

    _stream_pnl(s, "pnl", req_id, values)


@handles(Req.CANCEL_PNL)
def cancel_pnl(s: Session, r: FieldReader) -> None:
    s.cancel_subscription("pnl", r.int("reqId"))


@handles(Req.PNL_SINGLE)
def req_pnl_single(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    account = r.str("account")
    r.str("modelCode")
    con_id = r.int("conId", default=0)
    broker = s.gateway.broker
    acct = broker.account(account, req_id=req_id)
    if s.gateway.universe.get(con_id) is None:
        raise SimError(200, f"conId {con_id}", req_id=req_id)

    def values() -> tuple[object, ...]:
        rows = [x for x in broker.valuation.position_rows(acct) if x["inst"].conId == con_id]
        if not rows:
            return 0, 0.0, 0.0, 0.0, 0.0
        x = rows[0]
        return (x["position"], round(x["daily"], 2), round(x["unrealized"], 2), round(x["realized"], 2),
                round(x["value"], 2))

    _stream_pnl(s, "pnl_single", req_id, values)


@handles(Req.CANCEL_PNL_SINGLE)
def cancel_pnl_single(s: Session, r: FieldReader) -> None:
    s.cancel_subscription("pnl_single", r.int("reqId"))


def _send_account_multi(s: Session, req_id: int, accounts: list[str], model: str) -> None:
    for acct in accounts:
        for key, value, cur in _account_value_rows(s.gateway, acct):
            s.send(Msg.ACCOUNT_UPDATE_MULTI, 1, req_id, acct, model, key, value, cur)
    s.send(Msg.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


@handles(Req.ACCOUNT_UPDATES_MULTI)
def req_account_updates_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    account = r.str("account")
    model = r.str("modelCode")
    if r.remaining:
        r.bool("ledgerAndNLV")
    broker = s.gateway.broker
    accounts = [account] if account and account != "All" else list(broker.accounts)
    for acct in accounts:
        broker.account(acct, req_id=req_id)
    _send_account_multi(s, req_id, accounts, model)
    # like reqAccountUpdates, the figures keep coming until the request is cancelled
    _refresh_on_pulse(s, "account_updates_multi", req_id, ACCOUNT_REFRESH,
                      lambda: _send_account_multi(s, req_id, accounts, model))


@handles(Req.CANCEL_ACCOUNT_UPDATES_MULTI)
def cancel_account_updates_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription("account_updates_multi", r.int("reqId"))


def _send_positions_multi(s: Session, req_id: int, account: str, model: str) -> None:
    for msg in _position_messages(s.gateway):
        if account and account != "All" and msg[2] != account:
            continue
        s.send(Msg.POSITION_MULTI, 1, req_id, *msg[2:], model)
    s.send(Msg.POSITION_MULTI_END, 1, req_id)


@handles(Req.POSITIONS_MULTI)
def req_positions_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    account = r.str("account")
    model = r.str("modelCode")
    broker = s.gateway.broker
    if account and account != "All":
        broker.account(account, req_id=req_id)
    _send_positions_multi(s, req_id, account, model)
    # positions of the account are sent again whenever they change, until cancelled
    subs = s.state.setdefault("positions_multi", {})
    subs[req_id] = (account, model)
    s.add_subscription("positions_multi", req_id, lambda: subs.pop(req_id, None))


@handles(Req.CANCEL_POSITIONS_MULTI)
def cancel_positions_multi(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription("positions_multi", r.int("reqId"))
