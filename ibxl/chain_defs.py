"""Option-chain definitions, kept for the day: an underlying's option parameters (expiries,
strikes, trading class) and the contracts of each expiry (conIds, trading classes), asked of IB
once a day (one contract-details request per expiry) and then read from the bar store."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
from ib_async import Contract, Option

from .bars import store
from .contracts import contract_text, resolve
from .errors import IBXLError
from .store import OPTION_DEF_COLUMNS


def trading_day() -> str:
    """The trading day definitions are kept for (New York date, YYYYMMDD)."""
    return pd.Timestamp.now(tz="America/New_York").strftime("%Y%m%d")


def chain_params(underlying: str) -> tuple[Any, Contract, dict]:
    """The connection, the underlying and its option parameters (from today's cache when there)."""
    from .connection import client

    c = client()
    und = resolve(underlying)
    key = contract_text(und)
    day = trading_day()
    params = store().chain_params(key, day)
    if params is None:
        chains = c.run(lambda: c.ib.reqSecDefOptParamsAsync(und.symbol, "", und.secType, und.conId))
        if not chains:
            raise IBXLError(f"{underlying!r} has no listed options", code=200,
                            hint="ask for an optionable stock, ETF or index")
        smart = [x for x in chains if x.exchange == "SMART"] or list(chains)
        main = ([x for x in smart if x.tradingClass == und.symbol] or smart)[0]
        params = {"und_conid": und.conId, "trading_class": main.tradingClass, "multiplier": main.multiplier,
                  "expirations": sorted(main.expirations), "strikes": sorted(float(k) for k in main.strikes)}
        store().put_chain_params(key, day, params)
    return c, und, params


def pick_expiries(listed: list[str], expiries_arg: object) -> list[str]:
    """The expiries an ``expiries=`` argument means: None (nearest), n (the next n), 'YYYYMMDD' or a
    list of them (each must be listed)."""
    if expiries_arg is None:
        return listed[:1]
    if isinstance(expiries_arg, bool | float):
        raise ValueError(f"expiries={expiries_arg!r} - give None, a count, 'YYYYMMDD' or a list of them")
    if isinstance(expiries_arg, int):
        if expiries_arg < 1:
            raise ValueError(f"expiries {expiries_arg} - give a count of 1 or more")
        return listed[:expiries_arg]
    wanted = [expiries_arg] if isinstance(expiries_arg, str) else list(expiries_arg)  # type: ignore[call-overload]
    wanted = [str(e).strip() for e in wanted]
    missing = [e for e in wanted if e not in listed]
    if missing:
        raise ValueError(f"expiry {missing[0]!r} is not listed; listed: {', '.join(listed[:8])}...")
    return wanted


def pick_strikes(listed: list[float], strikes_arg: object, spot: float) -> list[float]:
    """The strikes a ``strikes=`` argument means: None (10 each side of spot), n (n each side) or
    (low, high)."""
    if isinstance(strikes_arg, tuple | list):
        if len(strikes_arg) != 2:
            raise ValueError(f"strikes {strikes_arg!r} - give n (each side of spot) or (low, high)")
        lo, hi = (float(x) for x in strikes_arg)
        return [k for k in listed if lo <= k <= hi]
    try:
        n = 10 if strikes_arg is None else int(strikes_arg)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"strikes {strikes_arg!r} - give n (each side of spot) or (low, high)") from None
    if n < 0:
        raise ValueError(f"strikes {n} - give how many strikes each side of spot (0 or more)")
    if not listed:
        return []
    centre = min(range(len(listed)), key=lambda i: abs(listed[i] - spot))
    return listed[max(0, centre - n): centre + n + 1]


def spot_of(und: Contract) -> float:
    """The underlying's price to centre the strikes on (its shared line, waiting up to 3 s)."""
    from .live import first_snapshot

    snap = first_snapshot(und, wait=3)
    for v in (snap.price, snap.last, snap.mid, snap.close):
        if v == v:
            return float(v)
    raise IBXLError(f"no price for {und.symbol} to centre the strikes on", hint="pass strikes=(low, high)")


def _defs_of(details: list, expiry: str) -> pd.DataFrame:
    rows = [{"expiry": expiry, "strike": float(d.contract.strike), "right": d.contract.right,
             "con_id": int(d.contract.conId), "trading_class": d.contract.tradingClass,
             "multiplier": d.contract.multiplier, "exchange": d.contract.exchange, "currency": d.contract.currency,
             "local_symbol": d.contract.localSymbol} for d in details]
    return pd.DataFrame(rows, columns=OPTION_DEF_COLUMNS)


def definitions(c: Any, und: Contract, params: dict, chosen: list[str]) -> pd.DataFrame:
    """Option contracts of the chosen expiries: today's cache, then one contract-details request
    for each expiry not yet fetched today (all sent at once)."""
    key, day = contract_text(und), trading_day()
    cached = store().option_defs(key, day, chosen)
    missing = [e for e in chosen if e not in set(cached["expiry"])]
    if not missing:
        return cached

    async def fetch() -> list[list]:
        return await asyncio.gather(*(c.ib.reqContractDetailsAsync(
            Option(und.symbol, e, 0.0, "", "SMART", tradingClass=params["trading_class"], currency=und.currency))
            for e in missing))

    fetched = c.run(fetch)
    for e, details in zip(missing, fetched, strict=True):
        store().put_option_defs(key, day, _defs_of(details, e))
    return store().option_defs(key, day, chosen)


def option_contract(und: Contract, row: Any) -> Option:
    """The qualified option contract of one kept definition row (no request needed)."""
    o = Option(und.symbol, row.expiry, float(row.strike), row.right, row.exchange or "SMART",
               multiplier=row.multiplier, currency=row.currency, tradingClass=row.trading_class)
    o.conId = int(row.con_id)
    o.localSymbol = row.local_symbol
    return o
