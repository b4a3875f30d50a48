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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ib_async import Contract

from .bars import store
from .chain_defs import (
    chain_params,
    definitions,
    option_contract,
    pick_expiries,
    pick_strikes,
    spot_of,
    trading_day,
)
from .chain_rows import (
    CHAIN_COLUMNS,
    NAN,
    Quote,
    chain_row,
    clear_ticker,
    from_line,
    from_ticker,
    open_interest_of,
)
from .contracts import contract_text, remember
from .errors import IBXLError, RequestTimeout
from .remote import on_hub

__all__ = ["CHAIN_COLUMNS", "cancel_chain", "chain_job", "chain_stream", "expiries", "latest_chain", "option_chain",
           "start_chain", "strikes", "trading_day"]
#: a snapshot TWS has not ended by then will not end (TWS ends its snapshots within about 11 s)
SNAPSHOT_SECONDS = 12.0
#: how long the open-interest pass waits for one batch's ticks
OPEN_INTEREST_WAIT = 3.0
#: finished or abandoned jobs are forgotten after this many seconds
JOB_TTL = 600.0


@on_hub
def expiries(underlying: str) -> list[str]:
    """Listed option expiries (YYYYMMDD), nearest first (kept for the day: asked of IB once)."""
    return list(chain_params(underlying)[2]["expirations"])


@on_hub
def strikes(underlying: str) -> list[float]:
    """Listed strikes, lowest first (kept for the day: asked of IB once)."""
    return list(chain_params(underlying)[2]["strikes"])


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
    from .live import free_lines, registry

    # snapshots in flight never exceed the lines nobody else uses (TWS counts a snapshot as a
    # line until it ends); requests leave in order, nearest the money first, through ib_async's pacer
    budget = max(5, free_lines() - 5)
    gate = asyncio.Semaphore(budget)
    limit = SNAPSHOT_SECONDS + len(job.options) / MESSAGES_PER_SECOND

    async def one(i: int, o: Contract) -> None:
        live = registry().cached(contract_text(o))
        if live is not None and live.has_data and not live.stale:
            # a panel or cell keeps a line on this option: its quote is current, ask nothing
            job.rows[i] = chain_row(o, from_line(live), _current_spot(job))
            return
        quote = Quote()
        async with gate:
            old = c.ib.ticker(o)
            if old is not None:
                clear_ticker(old)
            try:
                quote = from_ticker(o, (await asyncio.wait_for(c.ib.reqTickersAsync(o), limit))[0])
            except Exception:  # a timeout or one option's refusal costs its row's quotes, not the chain
                pass
        job.rows[i] = chain_row(o, quote, _current_spot(job))

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
    from .live import hold_generic

    day = trading_day()
    known = store().open_interest(day, [o.conId for o in job.options])
    want = [i for i, o in enumerate(job.options)
            if o.conId not in known and not job.rows.get(i, {}).get("open_interest", NAN) > 0]
    if job.open_interest:
        fresh: dict[int, float] = {}
        for start in range(0, len(want), budget):
            batch = want[start:start + budget]
            held = await hold_generic(c.ib, [job.options[i] for i in batch], "101",
                                      lambda t: t.contract is not None and _known(open_interest_of(t.contract, t)),
                                      OPEN_INTEREST_WAIT + len(batch) / MESSAGES_PER_SECOND, label="open-interest")
            for i, t in zip(batch, held, strict=True):
                v = open_interest_of(job.options[i], t)
                if v == v:
                    fresh[job.options[i].conId] = v
        store().put_open_interest(day, fresh)
        known.update(fresh)
    for i, o in enumerate(job.options):
        if o.conId in known and i in job.rows and job.rows[i]["open_interest"] != job.rows[i]["open_interest"]:
            job.rows[i]["open_interest"] = known[o.conId]


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
    c, und, params = chain_params(underlying)
    chosen = pick_expiries(params["expirations"], expiries)
    try:
        spot = spot_of(und)
    except IBXLError:
        if not isinstance(strikes, tuple | list):
            raise
        spot = NAN  # strikes given as (low, high) need no spot; computed greeks then need TWS's IV
    picked = set(pick_strikes(params["strikes"], strikes, spot))
    defs = definitions(c, und, params, chosen)
    defs = defs[defs["strike"].isin(picked) & defs["right"].isin(rights)]
    centre = spot if spot == spot else float(np.median(sorted(picked))) if picked else 0.0
    order = defs.assign(_d=(defs["strike"] - centre).abs(), _e=defs["expiry"].map(chosen.index)) \
        .sort_values(["_d", "_e", "strike", "right"], kind="stable")
    options: list[Contract] = [option_contract(und, r) for r in order.itertuples(index=False)]
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


def _known(x: float) -> bool:
    """False for NaN (a figure that has not arrived)."""
    return x == x
