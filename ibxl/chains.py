"""Option chains as DataFrames at the floor of IB's pacing.

One snapshot request per option (a snapshot needs no cancel), one contract-details request per
expiry (it returns every strike of that expiry), nothing sent twice: expiries, strikes, conIds and
trading classes are kept in the bar store for the day, so the second chain of the day asks IB for
no definitions at all. Options are requested from the money outwards, and a chain is a job that
can be polled across a process boundary: :func:`start_chain` returns a job id, :func:`chain_job`
the frame so far; :func:`chain_stream` and :func:`option_chain` (``progress=``) build on them.

Snapshots cannot carry generic ticks (TWS refuses tick 101 on a snapshot with error 321), so open
interest costs a streaming request and its cancel per option: it is fetched only when asked for
(``open_interest=True``) and kept for the day, since it changes once a day.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ib_async import Contract, Option, Ticker

from . import greeks as bs
from .contracts import contract_text, remember, resolve
from .errors import IBXLError, RequestTimeout
from .remote import on_hub

CHAIN_COLUMNS = ["contract", "expiry", "strike", "right", "bid", "ask", "last", "mid", "volume", "open_interest",
                 "iv", "delta", "gamma", "vega", "theta", "und_price", "greeks_source"]
#: a snapshot TWS has not ended by then will not end (TWS ends its snapshots within about 11 s)
SNAPSHOT_SECONDS = 12.0
#: how long the open-interest pass waits for one batch's ticks
OPEN_INTEREST_WAIT = 3.0
#: finished or abandoned jobs are forgotten after this many seconds
JOB_TTL = 600.0
NAN = float("nan")


def _greek(v: object) -> float:
    """A greek as a float: -1 is a real delta, so only missing values become NaN."""
    return NAN if v is None else float(v)  # type: ignore[arg-type]


def _num(v: object) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NAN
    return NAN if x == -1 or math.isinf(x) else x


def trading_day() -> str:
    """The trading day definitions are kept for (New York date, YYYYMMDD)."""
    return pd.Timestamp.now(tz="America/New_York").strftime("%Y%m%d")


def _store():  # noqa: ANN202 - the bar store (local or the hub's)
    from .bars import store

    return store()


# ------------------------------------------------------------------ definitions
def _params(underlying: str) -> tuple[Any, Contract, dict]:
    """The connection, the underlying and its option parameters (from today's cache when there)."""
    from .connection import client

    c = client()
    und = resolve(underlying)
    key = contract_text(und)
    day = trading_day()
    params = _store().chain_params(key, day)
    if params is None:
        chains = c.run(lambda: c.ib.reqSecDefOptParamsAsync(und.symbol, "", und.secType, und.conId))
        if not chains:
            raise IBXLError(f"{underlying!r} has no listed options", code=200,
                            hint="ask for an optionable stock, ETF or index")
        smart = [x for x in chains if x.exchange == "SMART"] or list(chains)
        main = ([x for x in smart if x.tradingClass == und.symbol] or smart)[0]
        params = {"und_conid": und.conId, "trading_class": main.tradingClass, "multiplier": main.multiplier,
                  "expirations": sorted(main.expirations), "strikes": sorted(float(k) for k in main.strikes)}
        _store().put_chain_params(key, day, params)
    return c, und, params


@on_hub
def expiries(underlying: str) -> list[str]:
    """Listed option expiries (YYYYMMDD), nearest first (kept for the day: asked of IB once)."""
    return list(_params(underlying)[2]["expirations"])


@on_hub
def strikes(underlying: str) -> list[float]:
    """Listed strikes, lowest first (kept for the day: asked of IB once)."""
    return list(_params(underlying)[2]["strikes"])


def _pick_expiries(listed: list[str], expiries_arg: object) -> list[str]:
    if expiries_arg is None:
        return listed[:1]
    if isinstance(expiries_arg, bool | float):
        raise ValueError(f"expiries {expiries_arg!r} - give a count, 'YYYYMMDD' or a list of them")
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


def _pick_strikes(listed: list[float], strikes_arg: object, spot: float) -> list[float]:
    if isinstance(strikes_arg, tuple | list):
        if len(strikes_arg) != 2:
            raise ValueError(f"strikes {strikes_arg!r} - give n (each side of spot) or (low, high)")
        lo, hi = (float(x) for x in strikes_arg)
        return [k for k in listed if lo <= k <= hi]
    n = 10 if strikes_arg is None else int(strikes_arg)  # type: ignore[call-overload]
    if n < 0:
        raise ValueError(f"strikes {n} - give how many strikes each side of spot (0 or more)")
    if not listed:
        return []
    centre = min(range(len(listed)), key=lambda i: abs(listed[i] - spot))
    return listed[max(0, centre - n): centre + n + 1]


def _spot(und: Contract) -> float:
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
    from .store import OPTION_DEF_COLUMNS

    return pd.DataFrame(rows, columns=OPTION_DEF_COLUMNS)


def _definitions(c: Any, und: Contract, params: dict, chosen: list[str]) -> pd.DataFrame:
    """Option contracts of the chosen expiries: today's cache, then one contract-details request
    for each expiry not yet fetched today (all sent at once)."""
    key, day = contract_text(und), trading_day()
    cached = _store().option_defs(key, day, chosen)
    missing = [e for e in chosen if e not in set(cached["expiry"])]
    if not missing:
        return cached

    async def fetch() -> list[list]:
        return await asyncio.gather(*(c.ib.reqContractDetailsAsync(
            Option(und.symbol, e, 0.0, "", "SMART", tradingClass=params["trading_class"], currency=und.currency))
            for e in missing))

    fetched = c.run(fetch)
    for e, details in zip(missing, fetched, strict=True):
        _store().put_option_defs(key, day, _defs_of(details, e))
    return _store().option_defs(key, day, chosen)


def _option(und: Contract, row: Any) -> Option:
    o = Option(und.symbol, row.expiry, float(row.strike), row.right, row.exchange or "SMART",
               multiplier=row.multiplier, currency=row.currency, tradingClass=row.trading_class)
    o.conId = int(row.con_id)
    o.localSymbol = row.local_symbol
    return o


# ------------------------------------------------------------------ rows
@dataclass
class _Quote:
    """What one option's snapshot (or live line) said, as plain numbers."""

    bid: float = NAN
    ask: float = NAN
    last: float = NAN
    close: float = NAN
    volume: float = NAN
    open_interest: float = NAN
    #: TWS's model: iv, delta, gamma, vega, theta, und_price (None when it did not arrive)
    model: tuple[float, ...] | None = None
    #: (iv, und_price) TWS computed at the bid, ask and last
    side_ivs: list[tuple[float, float]] = field(default_factory=list)


def _from_ticker(o: Contract, t: Ticker) -> _Quote:
    g = t.modelGreeks
    model = None
    if g is not None and g.delta is not None:
        model = (_num(g.impliedVol), _greek(g.delta), _greek(g.gamma), _greek(g.vega), _greek(g.theta),
                 _num(g.undPrice))
    sides = [(_num(x.impliedVol), _num(x.undPrice)) for x in (t.bidGreeks, t.askGreeks, t.lastGreeks)
             if x is not None]
    return _Quote(_num(t.bid), _num(t.ask), _num(t.last), _num(t.close), _num(t.volume), _oi(o, t), model, sides)


def _from_line(snap: Any) -> _Quote:
    """A live line's latest snapshot (a QuoteSnapshot) read instead of asking again."""
    model = None if snap.delta != snap.delta else (snap.iv, snap.delta, snap.gamma, snap.vega, snap.theta,
                                                    snap.und_price)
    return _Quote(snap.bid, snap.ask, snap.last, snap.close, snap.volume, snap.open_interest, model)


def _row(o: Contract, q: _Quote, spot: float) -> dict:
    """One chain row; greeks computed with Black–Scholes where TWS's model sent none."""
    bid, ask = q.bid, q.ask
    row = {"contract": contract_text(o), "expiry": o.lastTradeDateOrContractMonth, "strike": float(o.strike),
           "right": o.right, "bid": bid, "ask": ask, "last": q.last,
           "mid": (bid + ask) / 2 if bid == bid and ask == ask else NAN, "volume": q.volume,
           "open_interest": q.open_interest, "iv": NAN, "delta": NAN, "gamma": NAN, "vega": NAN, "theta": NAN,
           "und_price": NAN, "greeks_source": ""}
    if q.model is not None:
        iv, delta, gamma, vega, theta, und = q.model
        row.update(iv=iv, delta=delta, gamma=gamma, vega=vega, theta=theta, und_price=und if und == und else spot,
                   greeks_source="model")
        return row
    _computed(row, q, spot)
    return row


def _computed(row: dict, q: _Quote, spot: float) -> None:
    """Greeks from the IV TWS quoted on the bid/ask/last, else from the option's price (implied vol)."""
    from .live import market_price

    unds = [u for _, u in q.side_ivs if u == u and u > 0]
    und = unds[0] if unds else spot
    ivs = [v for v, _ in q.side_ivs if v == v and v > 0]
    years = bs.years_to(row["expiry"])
    iv = float(np.mean(ivs)) if ivs else NAN
    if iv != iv:
        px = market_price(row["bid"], row["ask"], row["last"], q.close)
        if px == px and und == und:
            iv = float(bs.implied_vol(px, und, row["strike"], years, row["right"]))
    if iv != iv or und != und:
        return
    g = bs.greeks(und, row["strike"], years, iv, row["right"])
    row.update(iv=iv, delta=g["delta"], gamma=g["gamma"], vega=g["vega"], theta=g["theta"], und_price=und,
               greeks_source="computed")


#: Ticker fields a snapshot fills; ib_async hands back the same Ticker for the same contract, so an
#: earlier snapshot's values are cleared first and a field TWS leaves out now reads as missing
_SNAPSHOT_FIELDS = ("bid", "ask", "last", "bidSize", "askSize", "lastSize", "volume", "close", "open", "high", "low",
                    "modelGreeks", "bidGreeks", "askGreeks", "lastGreeks", "callOpenInterest", "putOpenInterest")


def _clear(t: Ticker) -> None:
    blank = Ticker()
    for name in _SNAPSHOT_FIELDS:
        setattr(t, name, getattr(blank, name))


# ------------------------------------------------------------------ jobs
@dataclass
class ChainJob:
    """A chain being fetched on the connection's loop: its options in request order and the rows so far."""

    id: str
    und: Contract
    options: list[Contract]
    spot: float
    open_interest: bool
    rows: dict[int, dict] = field(default_factory=dict)
    done: bool = False
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    task: Any = None

    def frame(self) -> pd.DataFrame:
        """The rows that have arrived, by expiry, strike and right."""
        # the loop thread adds rows meanwhile: copy first (one C-level step under the GIL)
        rows = sorted(list(self.rows.values()), key=lambda r: (r["expiry"], r["strike"], r["right"]))
        return pd.DataFrame(rows, columns=CHAIN_COLUMNS)


_jobs: dict[str, ChainJob] = {}
_jobs_lock = threading.Lock()
_job_ids = itertools.count(1)


def _current_spot(job: ChainJob) -> float:
    from .live import registry

    snap = registry().cached(contract_text(job.und))
    return snap.price if snap is not None and snap.price == snap.price else job.spot


async def _run(job: ChainJob, c: Any) -> None:
    from .connection import MESSAGES_PER_SECOND
    from .live import registry

    # snapshots in flight never exceed the lines nobody else uses (TWS counts a snapshot as a
    # line until it ends); requests leave in order, nearest the money first, through ib_async's pacer
    budget = max(5, registry().max_lines - registry().lines_open() - 5)
    gate = asyncio.Semaphore(budget)
    limit = SNAPSHOT_SECONDS + len(job.options) / MESSAGES_PER_SECOND

    async def one(i: int, o: Contract) -> None:
        live = registry().cached(contract_text(o))
        if live is not None and live.has_data and not live.stale:
            # a panel or cell keeps a line on this option: its quote is current, ask nothing
            job.rows[i] = _row(o, _from_line(live), _current_spot(job))
            return
        quote = _Quote()
        async with gate:
            old = c.ib.ticker(o)
            if old is not None:
                _clear(old)
            try:
                quote = _from_ticker(o, (await asyncio.wait_for(c.ib.reqTickersAsync(o), limit))[0])
            except Exception:  # a timeout or one option's refusal costs its row's quotes, not the chain
                pass
        job.rows[i] = _row(o, quote, _current_spot(job))

    try:
        await asyncio.gather(*(one(i, o) for i, o in enumerate(job.options)))
        await _fill_open_interest(job, c, budget)
    except Exception as exc:
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.done = True


async def _fill_open_interest(job: ChainJob, c: Any, budget: int) -> None:
    """Open interest: today's cache, then (when asked) streaming tick-101 lines in batches within
    the line budget, cancelled as soon as the figure arrives."""
    from .connection import MESSAGES_PER_SECOND

    day = trading_day()
    known = _store().open_interest(day, [o.conId for o in job.options])
    want = [i for i, o in enumerate(job.options)
            if o.conId not in known and not job.rows.get(i, {}).get("open_interest", NAN) > 0]
    if job.open_interest:
        fresh: dict[int, float] = {}
        for start in range(0, len(want), budget):
            batch = want[start:start + budget]
            tickers = {i: c.ib.reqMktData(job.options[i], "101") for i in batch}
            deadline = time.monotonic() + OPEN_INTEREST_WAIT + len(batch) / MESSAGES_PER_SECOND
            while time.monotonic() < deadline and not all(_oi(job.options[i], t) == _oi(job.options[i], t)
                                                          for i, t in tickers.items()):
                await asyncio.sleep(0.02)
            for i, t in tickers.items():
                c.ib.cancelMktData(job.options[i])
                v = _oi(job.options[i], t)
                if v == v:
                    fresh[job.options[i].conId] = v
        _store().put_open_interest(day, fresh)
        known.update(fresh)
    for i, o in enumerate(job.options):
        if o.conId in known and i in job.rows and job.rows[i]["open_interest"] != job.rows[i]["open_interest"]:
            job.rows[i]["open_interest"] = known[o.conId]


def _oi(o: Contract, t: Ticker) -> float:
    return _num(t.callOpenInterest if o.right == "C" else t.putOpenInterest)


def _prune() -> None:
    now = time.monotonic()
    with _jobs_lock:
        for k in [k for k, j in _jobs.items() if now - j.created > JOB_TTL and j.done]:
            del _jobs[k]


@on_hub
def start_chain(underlying: str, expiries: object = None, strikes: object = None, right: str | None = None,
                open_interest: bool = False) -> str:
    """Start fetching a chain and return its job id (poll it with :func:`chain_job`).

    Arguments as :func:`option_chain`. Bad arguments raise here, before anything is requested.
    """
    if right is not None and (not isinstance(right, str) or right.strip().upper()[:1] not in ("C", "P")):
        raise ValueError(f"right {right!r} - expected 'C', 'P' or None")
    rights = [right.strip().upper()[0]] if right else ["C", "P"]
    c, und, params = _params(underlying)
    chosen = _pick_expiries(params["expirations"], expiries)
    try:
        spot = _spot(und)
    except IBXLError:
        if not isinstance(strikes, tuple | list):
            raise
        spot = NAN  # strikes given as (low, high) need no spot; computed greeks then need TWS's IV
    picked = set(_pick_strikes(params["strikes"], strikes, spot))
    defs = _definitions(c, und, params, chosen)
    defs = defs[defs["strike"].isin(picked) & defs["right"].isin(rights)]
    centre = spot if spot == spot else float(np.median(sorted(picked))) if picked else 0.0
    order = defs.assign(_d=(defs["strike"] - centre).abs(), _e=defs["expiry"].map(chosen.index)) \
        .sort_values(["_d", "_e", "strike", "right"], kind="stable")
    options = [_option(und, r) for r in order.itertuples(index=False)]
    for o in options:
        remember(o)  # a panel's lasting line on one of them then needs no contract-details request
    _prune()
    job = ChainJob(f"chain-{next(_job_ids)}", und, options, spot, bool(open_interest))
    with _jobs_lock:
        _jobs[job.id] = job

    def launch() -> None:
        job.task = c.loop.create_task(_run(job, c))

    c.call(launch)
    return job.id


@on_hub
def chain_job(job_id: str) -> tuple[pd.DataFrame, bool, int, int]:
    """The state of a chain job: (frame so far, done, options arrived, options in the chain).

    A finished job is forgotten once its final frame has been read.
    """
    with _jobs_lock:
        job = _jobs.get(job_id)
    if job is None:
        raise IBXLError(f"no chain job {job_id!r}", hint="start one with start_chain(); a finished job is "
                                                          "forgotten once its final frame has been read")
    done = job.done
    frame = job.frame()
    if done:
        with _jobs_lock:
            _jobs.pop(job_id, None)
        if job.error:
            raise IBXLError(f"option chain of {job.und.symbol} failed: {job.error}")
    return frame, done, len(frame), len(job.options)


@on_hub
def cancel_chain(job_id: str) -> None:
    """Stop a chain job (snapshots already sent still end on their own) and forget it."""
    with _jobs_lock:
        job = _jobs.pop(job_id, None)
    if job is not None and job.task is not None:
        from .connection import client

        c = client()
        c.call(job.task.cancel)


def chain_stream(underlying: str, expiries: object = None, strikes: object = None, right: str | None = None,
                 *, open_interest: bool = False, interval: float = 0.1,
                 timeout: float = 300.0) -> Iterator[pd.DataFrame]:
    """Yield the chain as it fills in: each frame holds every option that has arrived (nearest the
    money first), the last one is complete. ``frame.attrs`` holds ``loaded``, ``total`` and ``done``.

    Arguments as :func:`option_chain`; ``interval`` is the polling period in seconds.
    """
    job_id = start_chain(underlying, expiries, strikes, right, open_interest)
    deadline = time.monotonic() + timeout
    seen = -1
    try:
        while True:
            frame, done, n, total = chain_job(job_id)
            if (n != seen and n > 0) or done:
                seen = n
                frame.attrs.update(loaded=n, total=total, done=done)
                yield frame
            if done:
                job_id = ""
                return
            if time.monotonic() > deadline:
                raise RequestTimeout(f"the {underlying} chain was not complete within {timeout:g} s "
                                     f"({n}/{total} options)", hint="try a longer timeout= or fewer strikes")
            time.sleep(interval)
    finally:
        if job_id:
            cancel_chain(job_id)


def option_chain(underlying: str, expiries: object = None, strikes: object = None, right: str | None = None,
                 *, open_interest: bool = False, progress: Callable[[pd.DataFrame, int, int], None] | None = None,
                 timeout: float = 300.0) -> pd.DataFrame:
    """Calls and puts of an underlying with quotes and greeks, one row per option.

    ``expiries``: None (nearest), n (the next n), 'YYYYMMDD' or a list; ``strikes``: None (10 each
    side of spot), n (n each side) or (low, high); ``right``: None, 'C' or 'P'. One snapshot per
    option, nearest the money first; ``progress(frame, loaded, total)`` is called with each partial
    frame. ``greeks_source`` says "model" (TWS's) or "computed" (Black–Scholes from the quoted IV
    or the option's price, where TWS's model greeks had not arrived). ``open_interest``: fetch it
    where not already known today (costs a request and a cancel per option, kept for the day).
    """
    frame = pd.DataFrame(columns=CHAIN_COLUMNS)
    for frame in chain_stream(underlying, expiries, strikes, right, open_interest=open_interest, timeout=timeout):
        if progress is not None and not frame.attrs.get("done"):
            progress(frame, frame.attrs["loaded"], frame.attrs["total"])
    if progress is not None:
        progress(frame, frame.attrs.get("loaded", len(frame)), frame.attrs.get("total", len(frame)))
    frame.attrs.clear()
    return frame


# ------------------------------------------------------------------ polling hosts (cells, dashboards)
@dataclass
class _Latest:
    lock: threading.Lock = field(default_factory=threading.Lock)
    job: str | None = None
    partial: pd.DataFrame | None = None
    loaded: int = 0
    total: int = 0
    complete: pd.DataFrame | None = None
    finished: float = 0.0


_latest: dict[tuple, _Latest] = {}
_latest_lock = threading.Lock()


def latest_chain(underlying: str, expiries: object = None, strikes: object = None, right: str | None = None,
                 *, max_age: float = 30.0, first_wait: float = 1.0) -> tuple[pd.DataFrame, int, int]:
    """The latest chain for these arguments without waiting for all of it: ``(frame, loaded, total)``.

    For hosts that evaluate again and again (worksheet cells, dashboards). The first call starts a
    chain job and waits up to ``first_wait`` seconds for the options nearest the money; each later
    call returns what has arrived (``loaded < total`` while it fills in). A complete chain is
    reused for ``max_age`` seconds; after that the next call starts a fresh one and returns the
    previous complete chain until the fresh one is in.
    """
    key = (str(underlying).strip().upper(), repr(expiries), repr(strikes), (right or "").strip().upper())
    with _latest_lock:
        state = _latest.setdefault(key, _Latest())
    with state.lock:  # one cell's first wait never holds up another cell's chain
        stale = state.complete is not None and time.monotonic() - state.finished > max_age
        if state.job is None and (state.complete is None or stale):
            state.job = start_chain(underlying, expiries, strikes, right)
            state.partial, state.loaded, state.total = None, 0, 0
            first = state.complete is None
            deadline = time.monotonic() + (first_wait if first else 0.0)
            while True:
                if _poll(key, state) or time.monotonic() >= deadline or state.loaded >= min(20, state.total or 20):
                    break
                time.sleep(0.02)
        elif state.job is not None:
            _poll(key, state)
        if state.complete is not None and (state.job is None or state.partial is None
                                           or state.loaded < state.total):
            return state.complete, len(state.complete), len(state.complete)
        frame = state.partial if state.partial is not None else pd.DataFrame(columns=CHAIN_COLUMNS)
        return frame, state.loaded, state.total


def _poll(key: tuple, state: _Latest) -> bool:
    """Read a cell's chain job once; True when it finished."""
    try:
        frame, done, n, total = chain_job(state.job)  # type: ignore[arg-type]
    except Exception:
        with _latest_lock:
            _latest.pop(key, None)
        raise
    state.partial, state.loaded, state.total = frame, n, total
    if done:
        state.complete, state.finished, state.job = frame, time.monotonic(), None
    return done
