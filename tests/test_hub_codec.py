"""What crosses to and from the hub: signed frames, DataFrames as Arrow, ibxl's errors as themselves,
and only registered functions."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from ibxl import errors, remote
from ibxl.hub import codec
from ibxl.live import NUMERIC_FIELDS, Line, QuoteSnapshot, Registry
from ibxl.trading import OrderResult


def _roundtrip(value):
    data, buffers = codec.dumps(value)
    return codec.loads(data, buffers), buffers


def test_a_dataframe_crosses_as_one_arrow_buffer_with_its_index_zone_and_dtypes():
    idx = pd.date_range("2026-01-02", periods=1000, freq="min", tz="US/Eastern", name="time")
    df = pd.DataFrame({"open": np.linspace(1, 2, 1000), "volume": np.arange(1000, dtype="int64"),
                       "sym": ["A"] * 1000}, index=idx)
    df.iloc[3, 0] = np.nan
    back, buffers = _roundtrip({"bars": df})
    assert len(buffers) == 1 and buffers[0][:4] == b"\xff\xff\xff\xff"  # an Arrow IPC stream
    pd.testing.assert_frame_equal(back["bars"], df, check_freq=False)


def test_a_numeric_frame_crosses_as_raw_column_buffers():
    idx = pd.date_range("2026-01-02", periods=5000, freq="min", tz="US/Eastern", name="time")
    df = pd.DataFrame({"close": np.linspace(1, 2, 5000), "bar_count": np.arange(5000, dtype="int64"),
                       "up": np.arange(5000) % 2 == 0,
                       "t": pd.date_range("2026-01-02", periods=5000, freq="s", tz="UTC")}, index=idx)
    back, buffers = _roundtrip(df)
    assert len(buffers) == 5 and len(buffers[0]) == 5000 * 8  # the index and four columns, 8 bytes a value
    pd.testing.assert_frame_equal(back, df, check_freq=False)
    empty, _ = _roundtrip(pd.DataFrame({"a": pd.Series([], dtype=float)}))
    assert list(empty.columns) == ["a"] and len(empty) == 0


def test_plain_values_tuples_timestamps_series_and_records_round_trip():
    snap = QuoteSnapshot("AAPL", "AAPL", bid=1.5, time=pd.Timestamp("2026-01-02 15:00", tz="UTC"), stale=True)
    value = {"t": (1, "a", None), "n": float("nan"), "ts": pd.Timestamp("2026-01-02", tz="UTC"),
             "keys": {1: "x"}, "s": pd.Series({"a": 1, "b": "x"}, name="AAPL"), "snap": snap,
             "res": OrderResult("k", 3, "Submitted", 0.0, 1.0, 0.0)}
    back, _ = _roundtrip(value)
    assert back["t"] == (1, "a", None) and math.isnan(back["n"]) and back["ts"] == value["ts"]
    assert back["keys"] == {1: "x"} and back["s"].name == "AAPL" and back["s"]["b"] == "x"
    assert back["snap"].bid == 1.5 and back["snap"].stale and back["snap"].time == snap.time
    assert back["res"] == value["res"]


def test_live_objects_and_foreign_records_are_refused_with_the_reason():
    from dataclasses import dataclass

    @dataclass
    class Foreign:
        x: int = 1

    Foreign.__module__ = "somewhere.else"
    with pytest.raises(TypeError, match="not an ibxl record"):
        codec.dumps(Foreign())
    with pytest.raises(TypeError, match="plain data"):
        codec.dumps(object())
    with pytest.raises(TypeError, match="refusing to rebuild"):
        codec.loads(b'{"$dc":"os:PathLike","f":{}}', [])


def test_ibxl_errors_come_back_as_themselves_with_code_hint_and_candidates():
    exc = errors.ContractNotFound("unknown contract 'ZZZ'", candidates=["ZM", "Z"])
    back = codec.rebuild_error(codec.error_info(exc))
    assert type(back) is errors.ContractNotFound and back.code == 200 and back.candidates == ["ZM", "Z"]
    assert str(back) == str(exc) and back.hint == exc.hint
    assert type(codec.rebuild_error(codec.error_info(ValueError("bad field")))) is ValueError
    other = codec.rebuild_error(codec.error_info(OSError("disk")))
    assert type(other) is errors.IBXLError and "OSError" in str(other)


def test_signatures_cover_every_frame():
    key = b"k" * 64
    frames = [b"header", b"body", b"\x00buffer"]
    sig = codec.sign(key, frames)
    codec.verify(key, sig, frames)
    for bad in ([b"header", b"body", b"\x00bufferX"], [b"headerbody", b"", b"\x00buffer"]):
        with pytest.raises(codec.BadSignature):
            codec.verify(key, sig, bad)
    with pytest.raises(codec.BadSignature):
        codec.verify(b"x" * 64, sig, frames)


def test_quote_records_keep_every_field():
    snap = QuoteSnapshot("AAPL", "AAPL", bid=1.0, ask=1.1, last=1.05, volume=10.0, delta=-1.0, price=1.05,
                         time=pd.Timestamp("2026-01-02 15:00:01.5", tz="UTC"))
    [(_, values, t, origin, stale)] = codec.unpack_quotes(*codec.pack_quotes([("AAPL", snap, 123.0)]))
    rebuilt = QuoteSnapshot("AAPL", "AAPL", *values, t, stale, 0.0)
    assert rebuilt.bid == 1.0 and rebuilt.delta == -1.0 and rebuilt.price == 1.05 and t == snap.time
    assert origin == 123.0 and not stale and math.isnan(rebuilt.iv)


@pytest.mark.parametrize("rows", [100, 200_000])
def test_a_received_frame_can_be_written_in_place_whether_its_buffers_were_small_or_large(rows):
    import zmq

    idx = pd.date_range("2026-01-02", periods=rows, freq="min", tz="UTC", name="time")
    df = pd.DataFrame({"close": np.linspace(1, 2, rows), "bar_count": np.arange(rows, dtype="int64")}, index=idx)
    body, buffers = codec.dumps(df)
    ctx = zmq.Context()
    try:
        a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        a.bind("inproc://frames")
        b.connect("inproc://frames")
        a.send_multipart([body, *buffers])  # copied into messages, as a socket between processes does
        frames = [f.buffer if len(f) > 65536 else f.bytes for f in b.recv_multipart(copy=False)]  # as the link does
        got = codec.loads(frames[0], frames[1:])
        del frames
        pd.testing.assert_frame_equal(got, df, check_freq=False)
        got.iloc[0, 0] = 5.0
        got.loc[got.index[1], "bar_count"] = 7
        assert got["close"].iloc[0] == 5.0 and got["bar_count"].iloc[1] == 7 and df["close"].iloc[0] == 1.0
    finally:
        ctx.destroy(0)


def test_quote_times_cross_exactly_to_the_microsecond():
    t = pd.Timestamp("2026-11-20 15:59:59.123456", tz="UTC")
    for when in (t, None):
        snap = QuoteSnapshot("AAPL", "AAPL", bid=1.0, time=when)
        assert codec.unpack_quotes(*codec.pack_quotes([("AAPL", snap, 1.0)]))[0][2] == when


def test_a_snapshot_built_from_wire_values_equals_one_built_field_by_field():
    t = pd.Timestamp("2026-11-20 15:00:00", tz="UTC")
    made = QuoteSnapshot("AAPL", "AAPL", bid=1.0, ask=1.1, last=1.05, open_interest=7.0, time=t, updated=2.0)
    values = [getattr(made, f) for f in NUMERIC_FIELDS]
    fast = QuoteSnapshot.from_values("AAPL", "AAPL", values, t, False, 2.0)
    assert repr(fast) == repr(made) and fast.has_data and fast.open_interest == 7.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.bid = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        QuoteSnapshot.from_values("AAPL", "AAPL", values[:-1], t, False, 2.0)


def test_records_for_lines_this_process_does_not_have_build_nothing():
    reg = Registry()
    reg.use_source(None)
    values = [1.0] * len(NUMERIC_FIELDS)
    assert not reg.apply_values("MSFT", values, None, False, 1.0, 1.0)
    assert reg.updates == 0 and reg.cached("MSFT") is None


def test_a_record_from_the_hub_reads_as_the_latest_snapshot_and_newer_records_win():
    line = Line("AAPL", None, "AAPL")
    values = [float("nan")] * len(NUMERIC_FIELDS)
    t = pd.Timestamp("2026-11-20 15:00:00", tz="UTC")
    line.store(([1.0, *values[1:]], t, False, 5.0))
    first = line.snapshot
    assert first.bid == 1.0 and first.symbol == "AAPL" and first.time == t and first.updated == 5.0
    assert line.snapshot is first  # built once per record
    line.store(([2.0, *values[1:]], t, True, 6.0))
    assert line.snapshot.bid == 2.0 and line.snapshot.stale and first.bid == 1.0
    line.snapshot = QuoteSnapshot("AAPL", "AAPL", bid=3.0)
    assert line.snapshot.bid == 3.0


def test_a_batch_of_quote_records_keeps_each_key_with_its_record():
    snaps = [QuoteSnapshot(k, k, bid=float(i)) for i, k in enumerate(["AAPL", "EUR.USD/CASH", "AAPL 20261218 150 C"])]
    keys, records = codec.pack_quotes([(s.contract, s, 1.0) for s in snaps])
    back = codec.unpack_quotes(keys, records)
    assert [(k, v[0]) for k, v, *_ in back] == [("AAPL", 0.0), ("EUR.USD/CASH", 1.0), ("AAPL 20261218 150 C", 2.0)]
    with pytest.raises(ValueError, match="do not match"):
        codec.unpack_quotes(keys, records[:-1])
    only = codec.unpack_quotes(keys, records, wanted={"EUR.USD/CASH"})
    assert [(k, v[0]) for k, v, *_ in only] == [("EUR.USD/CASH", 1.0)]


def test_only_registered_ibxl_functions_can_be_called():
    assert remote.registered("ibxl.bars:history") is not None
    assert remote.registered("ibxl.trading:order_status") is not None
    assert remote.registered("ibxl.trading:_find_by_ref") is None  # not decorated: not callable remotely
    assert remote.registered("os:system") is None
    assert remote.registered("ibxl.nope:x") is None


def test_hub_dir_and_key_are_private(tmp_path, monkeypatch):
    import stat

    from ibxl.hub.transport import hub_dir, load_key

    monkeypatch.setenv("IBXL_HUB_DIR", str(tmp_path / "h"))
    d = hub_dir()
    key = load_key(d)
    assert len(key) == 64 and load_key(d) == key
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "hub.key").stat().st_mode) == 0o600
    (d / "hub.key").chmod(0o644)
    with pytest.raises(errors.IBXLError, match="readable by others"):
        load_key(d)
    monkeypatch.setenv("IBXL_HUB_DIR", "/tmp/" + "x" * 120)
    with pytest.raises(errors.IBXLError, match="too long"):
        from ibxl.hub.transport import open_transport

        open_transport(hub_dir(), "ipc")
