"""history(): columns, time zones, the bar store, pacing without violations."""

from __future__ import annotations

import pandas as pd
import pytest

import ibxl
from ibxl import bars
from ibxl.bars import normalize_bar_size


def _pacing_errors(client) -> list:
    errors: list = []
    client.call(lambda: client.ib.errorEvent.connect(lambda rid, code, msg, c: errors.append(code)
                                                     if code == 162 else None))
    return errors


def _last_full_session_close() -> pd.Timestamp:
    """16:00 New York on the latest past weekday that NYSE traded until 16:00."""
    from ibxl.sim.models.calendar import is_early_close, is_holiday

    day = pd.Timestamp.now(tz="US/Eastern").normalize() - pd.Timedelta(days=1)
    while day.weekday() >= 5 or is_holiday(day.date()) or is_early_close(day.date()):
        day -= pd.Timedelta(days=1)
    return day + pd.Timedelta(hours=16)


def test_daily_history_columns_and_timezone(ibxl_sim):
    df = ibxl.history("AAPL", duration="1 Y")
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "wap", "bar_count"]
    assert df.index.name == "time" and str(df.index.tz) == "US/Eastern"
    # sessions, as TWS gives them: no weekends or NYSE holidays (today's session stays open in the sim)
    assert 245 <= len(df) <= 256 and df.index.is_monotonic_increasing and not df.index.has_duplicates
    assert (df["low"] <= df["close"]).all() and (df["close"] <= df["high"]).all()
    assert df["bar_count"].dtype == "int64"


def test_intraday_is_utc_and_agrees_with_the_quote(ibxl_sim):
    df = ibxl.history("MSFT", duration="1 D", bar_size="5 mins")
    assert str(df.index.tz) == "UTC"
    last = ibxl.quotes("MSFT").loc["MSFT", "last"]
    assert abs(df["close"].iloc[-1] - last) / last < 0.005


def test_store_never_duplicates_and_fetches_only_what_is_missing(ibxl_sim):
    sched = bars.scheduler()
    first = ibxl.history("IBM", start="2025-01-01", end="2025-06-30")
    n0 = sched.requests
    again = ibxl.history("IBM", start="2025-01-01", end="2025-06-30")
    assert sched.requests == n0, "a repeated request is served from the store"
    pd.testing.assert_frame_equal(first, again)
    wider = ibxl.history("IBM", start="2024-10-01", end="2025-09-30")
    assert sched.requests == n0 + 2, "only the two missing ends are fetched"
    assert len(wider) > len(first) and not wider.index.has_duplicates
    series = f"{ibxl.resolve('IBM').conId}|1 day|TRADES|1"
    assert bars.store().gaps(series, pd.Timedelta(days=4)) == []


def test_long_small_bar_history_is_chunked_and_paced(ibxl_sim):
    errors = _pacing_errors(ibxl_sim)
    sched = bars.scheduler()
    n0 = sched.requests
    # four hours inside the previous full session (within six months, as IB requires for 1-second bars)
    end = _last_full_session_close() - pd.Timedelta(hours=1)
    df = ibxl.history("AMD", duration="14400 S", end=end, bar_size="1 secs", what="MIDPOINT", progress=True)
    assert sched.requests - n0 == 8, "four hours of 1-second bars take eight 30-minute chunks"
    assert len(df) >= 14000 and not df.index.has_duplicates
    assert errors == [], "the scheduler spaced requests for one contract (at most 5 in 2 s)"
    assert sched.waited > 0


def test_two_hundred_series_backfill_without_pacing_errors(ibxl_sim):
    errors = _pacing_errors(ibxl_sim)
    universe = ibxl_sim.sim_gateway.gateway.universe
    symbols = sorted(i.symbol for i in universe.underlyings() if i.secType == "STK")
    series = [(s, w) for w in ("TRADES", "MIDPOINT", "BID", "ASK") for s in symbols][:200]
    assert len(series) == 200
    for sym, what in series:
        assert len(ibxl.history(sym, duration="6 M", what=what)) > 100
    assert errors == []


@pytest.mark.parametrize(("text", "norm"), [("5min", "5 mins"), ("1 hour", "1 hour"), ("1d", "1 day"),
                                            ("30s", "30 secs"), ("1 min", "1 min")])
def test_bar_size_spellings(text, norm):
    assert normalize_bar_size(text) == norm


def test_bad_arguments(ibxl_sim):
    with pytest.raises(ValueError, match="bar size"):
        ibxl.history("AAPL", bar_size="7 parsecs")
    with pytest.raises(ValueError, match="what"):
        ibxl.history("AAPL", what="VOLUME")
    with pytest.raises(ValueError, match="duration"):
        ibxl.history("AAPL", duration="forever")
    with pytest.raises(ibxl.ContractNotFound):
        ibxl.history("NOPE123")
