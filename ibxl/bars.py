"""Historical bars as DataFrames: paced by the scheduler, split into the largest legal chunks,
and kept in the local bar store so that a repeated request only fetches what is missing."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pandas as pd

from .contracts import contract_text, resolve
from .errors import INFO_CODES, IBError
from .remote import on_hub
from .scheduler import SMALL_BAR_SECONDS, HistoricalScheduler, describe_seconds, estimate_seconds
from .store import BAR_COLUMNS, BarStore

log = logging.getLogger("ibxl.history")

#: IB bar size settings -> (seconds per bar, largest chunk one request may cover)
BAR_SIZES: dict[str, tuple[int, timedelta]] = {
    "1 secs": (1, timedelta(seconds=1800)), "5 secs": (5, timedelta(seconds=3600)),
    "10 secs": (10, timedelta(seconds=14400)), "15 secs": (15, timedelta(seconds=14400)),
    "30 secs": (30, timedelta(seconds=28800)), "1 min": (60, timedelta(days=5)), "2 mins": (120, timedelta(days=10)),
    "3 mins": (180, timedelta(days=10)), "5 mins": (300, timedelta(days=20)), "10 mins": (600, timedelta(days=60)),
    "15 mins": (900, timedelta(days=60)), "20 mins": (1200, timedelta(days=60)), "30 mins": (1800, timedelta(days=60)),
    "1 hour": (3600, timedelta(days=365)), "2 hours": (7200, timedelta(days=365)),
    "3 hours": (10800, timedelta(days=365)), "4 hours": (14400, timedelta(days=365)),
    "8 hours": (28800, timedelta(days=365)), "1 day": (86400, timedelta(days=3650)),
    "1 week": (7 * 86400, timedelta(days=3650)), "1 month": (30 * 86400, timedelta(days=3650)),
}
WHAT = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY",
        "OPTION_IMPLIED_VOLATILITY")
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.I)
_UNIT = {"S": timedelta(seconds=1), "D": timedelta(days=1), "W": timedelta(weeks=1), "M": timedelta(days=30),
         "Y": timedelta(days=365)}

#: a download needing more requests than this is refused unless ``max_requests=`` allows it:
#: 60 is what IB's pacing lets through in 10 minutes for bars of 30 seconds or less; larger bars
#: are not paced that way, so only a very long download (minutes of answers) is refused
MAX_REQUESTS = 60
MAX_REQUESTS_LARGE_BARS = 1000
#: IB serves bars of 30 seconds or less for the last six months only
SMALL_BAR_MAX_AGE = timedelta(days=182)
#: the longest duration worth asking for: IB's daily history reaches back decades, not centuries
LONGEST = timedelta(days=50 * 365)

#: how long a just-fetched forming bar is served from the store before it is fetched again
FRESH_SECONDS = 15.0
_fresh: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
_lock = threading.Lock()
_store: BarStore | None = None
_scheduler: HistoricalScheduler | None = None


def normalize_bar_size(text: str) -> str:
    """IB's spelling of a bar size ('5min', '1 hour', '1d' -> '5 mins', '1 hour', '1 day')."""
    t = " ".join(str(text).strip().lower().split())
    m = re.match(r"^(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hour|hours|d|day|days|"
                 r"w|wk|week|weeks|mo|month|months)$", t)
    if m:
        n, unit = int(m[1]), m[2]
        if unit.startswith("s"):
            t = f"{n} secs"
        elif unit in ("m", "min", "mins", "minute", "minutes"):
            t = "1 min" if n == 1 else f"{n} mins"
        elif unit.startswith("h"):
            t = "1 hour" if n == 1 else f"{n} hours"
        elif unit.startswith("d"):
            t = f"{n} day"
        elif unit.startswith("w"):
            t = f"{n} week"
        else:
            t = f"{n} month"
    if t not in BAR_SIZES:
        raise ValueError(f"bar size {text!r} - expected one of {', '.join(BAR_SIZES)}")
    return t


def parse_duration(text: str) -> timedelta:
    """An IB duration string ('30 D', '1 Y', '3600 S') as a time span (D counts calendar days)."""
    m = _DURATION.match(str(text))
    if not m or int(m[1]) <= 0:
        raise ValueError(f"duration {text!r} - expected a number and a unit S, D, W, M or Y, e.g. '30 D'")
    count, unit = int(m[1]), m[2].upper()
    if count * _UNIT[unit].total_seconds() > LONGEST.total_seconds():
        raise ValueError(f"duration {text!r} is longer than any history IB keeps (at most "
                         f"{LONGEST.days // 365} Y of daily bars); use a shorter duration, e.g. '20 Y', or start=")
    return count * _UNIT[unit]


def store() -> BarStore:
    """The process's bar store (in IBXL_CACHE_DIR or the user cache directory)."""
    global _store
    with _lock:
        if _store is None:
            from .config import load

            _store = BarStore(load().cache_path / "bars.duckdb")
        return _store


def scheduler() -> HistoricalScheduler:
    """The process's historical-request scheduler (used on the loop thread)."""
    global _scheduler
    with _lock:
        if _scheduler is None:
            _scheduler = HistoricalScheduler()
        return _scheduler


def _ib_duration(span: timedelta, bar_seconds: int) -> str:
    secs = int(span.total_seconds())
    if bar_seconds < 60 or secs < 86400:
        return f"{max(secs, 1)} S"
    days = -(-secs // 86400)
    return f"{days} D" if days <= 365 else f"{-(-days // 365)} Y"


def _frame(bars: list, bar_seconds: int, tz: str) -> pd.DataFrame:
    if not bars:
        return pd.DataFrame(columns=BAR_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="time"))
    rows = []
    for b in bars:
        t = pd.Timestamp(b.date)
        if t.tzinfo is None:
            t = t.tz_localize(tz if bar_seconds >= 86400 else "UTC")
        rows.append((t.tz_convert("UTC"), b.open, b.high, b.low, b.close, b.volume, b.average, b.barCount))
    df = pd.DataFrame(rows, columns=["time", *BAR_COLUMNS]).set_index("time")
    return df[~df.index.duplicated(keep="last")]


@on_hub
def history(contract: str, *, start: object = None, end: object = None, duration: str | None = None,
            bar_size: str = "1 day", what: str = "TRADES", rth: bool = True, progress: bool = False,
            timeout: float = 600.0, max_requests: int | None = None) -> pd.DataFrame:
    """Historical bars of one contract, served from the local store and fetched only where missing.

    Give ``start``/``end`` (anything pandas reads) or a ``duration`` ('30 D', '1 Y') ending at
    ``end`` (default now). Columns: open, high, low, close, volume, wap, bar_count; the index
    ``time`` is tz-aware (the exchange's zone for daily and longer bars, UTC otherwise).

    Long downloads are split into requests IB accepts and paced to IB's rules. One that needs
    more than 60 requests of bars of 30 secs or less (what IB's pacing allows in 10 minutes), or
    more than 1000 requests of larger bars, is refused with its estimated request count and time;
    pass ``max_requests=`` to allow it, ``progress=True`` to watch it.
    Bars of 30 seconds or less exist for the last six months only, as at IB.
    """
    from .connection import client

    size = normalize_bar_size(bar_size)
    what = str(what).strip().upper()
    if what not in WHAT:
        raise ValueError(f"what {what!r} - expected one of {', '.join(WHAT)}")
    bar_seconds, chunk = BAR_SIZES[size]
    c = client()
    con = resolve(contract)
    now = (c.server_time() or pd.Timestamp.now(tz="UTC")).floor("s")
    end_ts = _ts(end) if end is not None else now
    end_ts = min(end_ts, now)
    if start is not None:
        start_ts = _ts(start)
    else:
        start_ts = end_ts - (parse_duration(duration) if duration else timedelta(days=365))
    if start_ts >= end_ts:
        raise ValueError(f"start {start_ts} is not before end {end_ts}")
    if bar_seconds <= SMALL_BAR_SECONDS and start_ts < now - SMALL_BAR_MAX_AGE:
        raise ValueError(f"bar size {size!r} reaches back to {start_ts:%Y-%m-%d}, but IB keeps bars of "
                         f"{SMALL_BAR_SECONDS} secs or less for the last six months only; use '1 min' bars "
                         "or larger for older data, or a start within six months")
    series = f"{con.conId}|{size}|{what}|{int(bool(rth))}"
    bars_store = store()
    tz = _zone(con)
    todo = []
    fresh_until = _fresh.get(series)
    for a, b in bars_store.missing(series, start_ts, end_ts):
        if fresh_until is not None and a >= fresh_until[0] and pd.Timestamp.now(tz="UTC") < fresh_until[1]:
            continue  # only the forming bar is missing, and it was fetched moments ago
        cursor = b
        while cursor > a:
            lo = max(a, cursor - chunk)
            todo.append((lo, cursor))
            cursor = lo
    _check_size(len(todo), bar_seconds, what, contract_text(con), size, max_requests)
    bar = _progress(len(todo), contract_text(con), progress, bar_seconds, what)
    sched = scheduler()

    async def fetch(lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        duration_str = _ib_duration(hi - lo, bar_seconds)
        end_str = hi.tz_convert("UTC").strftime("%Y%m%d %H:%M:%S UTC")
        key = (con.conId, end_str, duration_str, size, what, rth)
        errors: list[tuple[int, str]] = []

        def on_error(req_id: int, code: int, msg: str, contract: object) -> None:
            if getattr(contract, "conId", None) == con.conId and code not in INFO_CODES:
                errors.append((code, msg))

        c.ib.errorEvent += on_error
        try:
            def request() -> Awaitable[Any]:
                return c.ib.reqHistoricalDataAsync(con, end_str, duration_str, size, what, rth, 2, timeout=120)

            got = await sched.run(request,
                                  key=key, contract_key=(con.conId, what), bar_seconds=bar_seconds, what=what)
        finally:
            c.ib.errorEvent -= on_error
        if not got and errors:
            # a refused request is not an empty period: report it, and record nothing as fetched
            raise IBError(errors[-1][1], code=errors[-1][0])
        return _frame(list(got or []), bar_seconds, tz)

    for lo, hi in todo:
        frame = c.run(functools.partial(fetch, lo, hi), timeout=timeout)
        bars_store.put(series, frame)
        # the newest bar is still forming: only what is a bar or more in the past counts as fetched
        settled = min(hi, now - pd.Timedelta(seconds=bar_seconds))
        if settled > lo:
            bars_store.mark(series, lo, settled)
        if hi >= now - pd.Timedelta(seconds=bar_seconds):
            _fresh[series] = (max(lo, settled), pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=FRESH_SECONDS))
        bar.update(1)
    bar.close()
    lo_bound = start_ts - pd.Timedelta(seconds=bar_seconds) if bar_seconds >= 86400 else start_ts
    df = bars_store.get(series, lo_bound, end_ts)
    if bar_seconds >= 86400:
        df.index = df.index.tz_convert(tz)
    df["bar_count"] = df["bar_count"].astype("int64")
    return df


def _ts(value: object) -> pd.Timestamp:
    t = pd.Timestamp(value)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.floor("us")


def _zone(con: object) -> str:
    sec = getattr(con, "secType", "")
    return {"CASH": "US/Eastern", "CRYPTO": "UTC", "FUT": "US/Central"}.get(sec, "US/Eastern")


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def estimate_text(requests: int, bar_seconds: int, what: str) -> str:
    """'about 240 requests, about 36 min under IB's pacing' for a download of that many requests."""
    took = describe_seconds(estimate_seconds(requests, bar_seconds, what))
    return f"about {requests:,} requests, about {took} under IB's pacing"


def _check_size(requests: int, bar_seconds: int, what: str, label: str, size: str, max_requests: int | None) -> None:
    """Refuse a download larger than allowed, naming its estimate and the fix."""
    default = MAX_REQUESTS if bar_seconds <= SMALL_BAR_SECONDS else MAX_REQUESTS_LARGE_BARS
    limit = default if max_requests is None else int(max_requests)
    if requests > limit:
        raise ValueError(f"history of {label} in {size!r} bars needs {estimate_text(requests, bar_seconds, what)}; "
                         f"pass max_requests={requests} to download it anyway, or use larger bars or a "
                         "shorter period")


def _progress(total: int, label: str, show: bool, bar_seconds: int = 86400, what: str = "TRADES"):  # noqa: ANN202
    if total > 1:
        log.info("history %s: %s", label, estimate_text(total, bar_seconds, what))
    if not show or total <= 1:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        print(f"history {label}: {estimate_text(total, bar_seconds, what)}")
        return _PrintBar(total, label)
    return tqdm(total=total, desc=f"history {label} ({estimate_text(total, bar_seconds, what)})", unit="request")


class _PrintBar:
    """Progress as plain lines (every tenth of the download) where tqdm is not installed."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self.shown = total, label, 0, 0

    def update(self, n: int) -> None:
        self.done += n
        tenth = self.done * 10 // self.total
        if tenth > self.shown:
            self.shown = tenth
            print(f"history {self.label}: {self.done}/{self.total} requests")

    def close(self) -> None:
        pass
