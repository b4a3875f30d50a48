"""Option chains as DataFrames: expiries and strikes from IB's option parameters, quotes and
greeks streamed in batches that never exceed the account's market-data lines."""

from __future__ import annotations

import asyncio
import math
import time

import pandas as pd
from ib_async import Contract, Option

from .contracts import contract_text, resolve
from .errors import IBXLError
from .remote import on_hub

CHAIN_COLUMNS = ["contract", "expiry", "strike", "right", "bid", "ask", "last", "mid", "volume", "open_interest",
                 "iv", "delta", "gamma", "vega", "theta", "und_price"]


def _greek(v: object) -> float:
    """A greek as a float: -1 is a real delta, so only missing values become NaN."""
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


def _num(v: object) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return float("nan") if x == -1 or math.isinf(x) else x


def _params(underlying: str):  # noqa: ANN202
    from .connection import client

    c = client()
    und = resolve(underlying)
    chains = c.run(lambda: c.ib.reqSecDefOptParamsAsync(und.symbol, "", und.secType, und.conId))
    if not chains:
        raise IBXLError(f"{underlying!r} has no listed options", code=200)
    smart = [x for x in chains if x.exchange == "SMART"] or list(chains)
    main = [x for x in smart if x.tradingClass == und.symbol] or smart
    return c, und, main[0]


@on_hub
def expiries(underlying: str) -> list[str]:
    """Listed option expiries (YYYYMMDD), nearest first."""
    _, _, chain = _params(underlying)
    return sorted(chain.expirations)


@on_hub
def strikes(underlying: str) -> list[float]:
    """Listed strikes, lowest first."""
    _, _, chain = _params(underlying)
    return sorted(chain.strikes)


def _pick_expiries(listed: list[str], expiries_arg: object) -> list[str]:
    if expiries_arg is None:
        return listed[:1]
    if isinstance(expiries_arg, int):
        return listed[:max(1, expiries_arg)]
    wanted = [expiries_arg] if isinstance(expiries_arg, str) else list(expiries_arg)  # type: ignore[arg-type]
    missing = [e for e in wanted if e not in listed]
    if missing:
        raise ValueError(f"expiry {missing[0]!r} is not listed; listed: {', '.join(listed[:8])}...")
    return wanted


@on_hub
def option_chain(underlying: str, expiries: object = None, strikes: object = None, right: str | None = None,
                 *, wait: float = 3.0, timeout: float = 300.0) -> pd.DataFrame:
    """Calls and puts of an underlying with quotes, greeks and open interest, one row per option.

    ``expiries``: None (nearest), n (the next n), 'YYYYMMDD' or a list; ``strikes``: None (10 each
    side of spot), n (n each side) or (low, high); ``right``: None, 'C' or 'P'.
    """
    c, und, chain = _params(underlying)
    listed = sorted(chain.expirations)
    chosen = _pick_expiries(listed, expiries)
    rights = [right.upper()[0]] if right else ["C", "P"]
    if any(r not in "CP" for r in rights):
        raise ValueError(f"right {right!r} - expected 'C', 'P' or None")
    all_strikes = sorted(chain.strikes)
    spot = _spot(c, und)
    if isinstance(strikes, tuple):
        lo, hi = strikes
        picked = [k for k in all_strikes if lo <= k <= hi]
    else:
        n = 10 if strikes is None else int(strikes)  # type: ignore[call-overload]
        centre = min(range(len(all_strikes)), key=lambda i: abs(all_strikes[i] - spot)) if all_strikes else 0
        picked = all_strikes[max(0, centre - n): centre + n + 1]
    from .live import registry

    budget = max(5, registry().max_lines - registry().lines_open() - 5)

    async def run() -> list[dict]:
        contracts: list[Contract] = []
        for exp in chosen:
            details = await c.ib.reqContractDetailsAsync(Option(und.symbol, exp, 0.0, "", "SMART",
                                                                tradingClass=chain.tradingClass))
            for d in details:
                o = d.contract
                if o.strike in picked and o.right in rights:
                    contracts.append(o)
        contracts.sort(key=lambda o: (o.lastTradeDateOrContractMonth, o.strike, o.right))
        rows: list[dict] = []
        for i in range(0, len(contracts), budget):
            batch = contracts[i:i + budget]
            tickers = [c.ib.reqMktData(o, "101") for o in batch]
            # requests leave at ibxl's pacing rate, so the wait starts when the last one can have gone
            from .connection import MESSAGES_PER_SECOND

            deadline = time.monotonic() + wait + len(batch) / MESSAGES_PER_SECOND
            while time.monotonic() < deadline and not all(t.modelGreeks for t in tickers):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)  # open interest rides right behind the first quote
            for o, t in zip(batch, tickers, strict=True):
                g = t.modelGreeks
                oi = t.callOpenInterest if o.right == "C" else t.putOpenInterest
                bid, ask = _num(t.bid), _num(t.ask)
                rows.append({"contract": contract_text(o), "expiry": o.lastTradeDateOrContractMonth,
                             "strike": o.strike, "right": o.right, "bid": bid, "ask": ask, "last": _num(t.last),
                             "mid": (bid + ask) / 2, "volume": _num(t.volume), "open_interest": _num(oi),
                             "iv": _num(g.impliedVol) if g else math.nan, "delta": _greek(g.delta) if g else math.nan,
                             "gamma": _greek(g.gamma) if g else math.nan, "vega": _greek(g.vega) if g else math.nan,
                             "theta": _greek(g.theta) if g else math.nan,
                             "und_price": _num(g.undPrice) if g else math.nan})
                c.ib.cancelMktData(o)
        return rows

    rows = c.run(run, timeout=timeout)
    return pd.DataFrame(rows, columns=CHAIN_COLUMNS)


def _spot(c, und: Contract) -> float:  # noqa: ANN001
    from .live import first_snapshot

    snap = first_snapshot(und, wait=3)
    for v in (snap.last, snap.mid, snap.close):
        if v == v:
            return float(v)
    raise IBXLError(f"no price for {und.symbol} to centre the strikes on; pass strikes=(low, high)")
