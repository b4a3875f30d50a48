"""Live quotes through ibxl: columns, the shared line registry, the cache, threads, reconnects."""

from __future__ import annotations

import math
import threading
import time

import pandas as pd
import pytest

import ibxl
from ibxl.live import COLUMNS, registry


def test_quotes_frame_columns_and_values(ibxl_sim):
    df = ibxl.quotes(["AAPL", "MSFT", "EUR.USD/CASH"])
    assert list(df.columns) == COLUMNS and df.index.name == "contract"
    assert list(df.index) == ["AAPL", "MSFT", "EUR.USD/CASH"]
    row = df.loc["AAPL"]
    assert 0 < row.bid < row.ask and row.volume > 0 and not row.stale
    assert row.change == pytest.approx(row.last - row.close, abs=0.01)
    assert str(df["time"].dtype).startswith("datetime64") and str(df["time"].dt.tz) == "UTC"
    assert math.isnan(df.loc["EUR.USD/CASH", "last"])  # forex has no trades


def test_quote_fields_and_errors(ibxl_sim):
    ibxl.quotes("IBM")
    assert ibxl.quote("IBM", "Bid") < ibxl.quote("IBM", "ask")
    assert ibxl.quote("IBM", "MID") > 0
    with pytest.raises(ValueError, match="expected one of Price, Bid"):
        ibxl.quote("IBM", "bidd")
    with pytest.raises(ibxl.ContractNotFound):
        ibxl.quote("NOTREAL1")


def test_one_line_per_contract_however_many_holders(ibxl_sim):
    before = registry().lines_open()
    handles = [ibxl.subscribe("NVDA", owner=i) for i in range(20)] + [ibxl.subscribe("nvda") for _ in range(5)]
    assert registry().lines_open() <= before + 1
    assert len({h.contract for h in handles}) == 1
    assert registry().line("NVDA").refs >= 25
    deadline = time.monotonic() + 3
    while not handles[0].snapshot().has_data and time.monotonic() < deadline:
        time.sleep(0.02)
    v0 = handles[0].version
    time.sleep(0.7)
    assert handles[0].version > v0, "the version moves with each update"
    for h in handles:
        ibxl.unsubscribe(h)
    assert registry().line("NVDA").refs == 0


def test_thread_safety_from_eight_threads(ibxl_sim):
    errors: list[BaseException] = []
    results: list[float] = []
    symbols = ["AAPL", "MSFT", "IBM", "AMD", "INTC", "TSLA", "SPY", "QQQ"]

    def work(sym: str) -> None:
        try:
            for _ in range(20):
                df = ibxl.quotes([sym, "XOM"], wait=1.0)
                results.append(float(df.loc[sym, "bid"]))
                results.append(ibxl.quote(sym, "last"))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in symbols]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(results) == 8 * 40 and sum(1 for r in results if r == r) > 300


def test_line_cap_evicts_idle_lines_first(ibxl_sim):
    reg = registry()
    old = reg.max_lines
    try:
        reg.max_lines = reg.lines_open() + 2
        held = ibxl.subscribe("KO")
        ibxl.quotes(["PEP", "WMT", "MCD"], wait=0.5)  # each becomes idle once read
        assert reg.lines_open() <= reg.max_lines
        assert reg.cached("KO") is not None, "a held line is never evicted"
        ibxl.unsubscribe(held)
    finally:
        reg.max_lines = old


def test_status_reports_the_connection(ibxl_sim):
    st = ibxl.status()
    assert st["connected"] and st["sim"] and st["account"] == "DU1234567" and st["trading"] == "off"
    assert isinstance(st["server_time"], pd.Timestamp) and st["server_time"].tz is not None
    assert st["subscriptions"] >= 1
