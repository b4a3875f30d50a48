"""history()'s limits as IB has them: an estimate before a long download, max_requests=, the six-month
limit of small bars, impossible durations (in Python and in cells), and pacing kept whatever ran before."""

from __future__ import annotations

import pytest

import ibxl
from ibxl import bars
from ibxl.excel import functions as F
from ibxl.scheduler import describe_seconds, estimate_seconds


def _violations(client) -> int:
    return client.sim_gateway.gateway.pacing.violations


def test_long_download_is_refused_with_its_estimate(ibxl_sim):
    with pytest.raises(ValueError) as info:
        ibxl.history("AAPL", duration="1 W", bar_size="1 secs")
    text = str(info.value)
    assert "about 336 requests" in text and "under IB's pacing" in text
    assert "max_requests=336" in text
    # the estimate is what IB's pacing (60 requests in 10 minutes) makes of 336 requests
    assert describe_seconds(estimate_seconds(336, 1, "TRADES")) in text


def test_max_requests_allows_a_download(ibxl_sim):
    with pytest.raises(ValueError, match="needs about 4 requests"):
        ibxl.history("AMD", duration="7200 S", bar_size="1 secs", what="MIDPOINT", max_requests=2)
    df = ibxl.history("AMD", duration="7200 S", bar_size="1 secs", what="MIDPOINT", max_requests=4)
    assert not df.index.has_duplicates


def test_small_bars_older_than_six_months_are_refused(ibxl_sim):
    with pytest.raises(ValueError, match="last six months only"):
        ibxl.history("AAPL", duration="1 Y", bar_size="1 secs")
    text = F.IB_HISTORY("AAPL", "1 Y", "5 secs")
    assert text.startswith("#VALUE!") and "six months" in text


def test_impossible_duration_gets_a_clear_error(ibxl_sim):
    with pytest.raises(ValueError, match="longer than any history IB keeps"):
        ibxl.history("AAPL", duration="1000 Y")
    text = F.IB_HISTORY("AAPL", "1000 Y")
    assert text.startswith("#VALUE! duration '1000 Y' is longer than any history IB keeps")


def test_long_download_after_other_requests_for_the_contract_draws_no_violation(ibxl_sim):
    before = _violations(ibxl_sim)
    ibxl.history("NVDA", duration="1 Y")
    ibxl.history("NVDA", duration="2 D", bar_size="1 min")
    for size in ("5 secs", "1 secs", "30 secs"):
        ibxl.history("NVDA", duration="600 S", bar_size=size)
    ibxl.history("NVDA", duration="900 S", bar_size="1 secs", what="MIDPOINT")
    sched = bars.scheduler()
    n0 = sched.requests
    ibxl.history("NVDA", duration="14400 S", bar_size="1 secs", progress=True)
    assert sched.requests - n0 >= 6, "four hours of 1-second bars need several requests"
    assert _violations(ibxl_sim) == before
