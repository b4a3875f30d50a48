"""Wire layouts of the historical messages at server version 176, as ib_async, ib_insync and ibapi
decode them: historicalData (no version field; start, end, bar count, then 8 fields a bar),
historicalDataUpdate (bar count first, then date, open, close, high, low, wap, volume),
headTimestamp and histogramData."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..models.microstructure import Bar
from .ids import Msg


def bar_time(ts: float, daily: bool, format_date: int, tz: str) -> str:
    """A bar's time as TWS writes it: ``yyyymmdd`` for daily and longer bars; otherwise local time
    with its zone (formatDate 1) or epoch seconds (formatDate 2)."""
    if daily:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d")
    if format_date == 2:
        return str(int(ts))
    local = datetime.fromtimestamp(ts, ZoneInfo(tz))
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        # the repeated hour when clocks go back: name its fixed offset (e.g. Etc/GMT+5), so the
        # text still reads as one instant and bars stay strictly increasing for every client
        offset = local.utcoffset()
        hours = -int(offset.total_seconds() // 3600) if offset is not None else 0
        return f"{local.strftime('%Y%m%d %H:%M:%S')} Etc/GMT{hours:+d}"
    return f"{local.strftime('%Y%m%d %H:%M:%S')} {tz}"


def _num(v: float) -> object:
    """Whole volumes as integers (``1200`` rather than ``1200.0``), fractional ones (crypto) as they are."""
    return int(v) if float(v).is_integer() else v


def historical_data(req_id: int, start: str, end: str, bars: Iterable[Bar], daily: bool, format_date: int,
                    tz: str) -> list[object]:
    """The fields of one historicalData message carrying every bar of a request."""
    rows = list(bars)
    fields: list[object] = [Msg.HISTORICAL_DATA, req_id, start, end, len(rows)]
    for b in rows:
        fields += [bar_time(b.time, daily, format_date, tz), b.open, b.high, b.low, b.close, _num(b.volume),
                   b.wap, b.count]
    return fields


def historical_data_update(req_id: int, b: Bar, daily: bool, format_date: int, tz: str) -> list[object]:
    """The fields of a historicalDataUpdate (keepUpToDate) for the bar still forming."""
    return [Msg.HISTORICAL_DATA_UPDATE, req_id, b.count, bar_time(b.time, daily, format_date, tz),
            b.open, b.close, b.high, b.low, b.wap, _num(b.volume)]


def head_timestamp(req_id: int, ts: float, format_date: int) -> list[object]:
    """The fields of a headTimestamp: ``yyyymmdd-hh:mm:ss`` in UTC, or epoch seconds for formatDate 2."""
    text = str(int(ts)) if format_date == 2 else datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d-%H:%M:%S")
    return [Msg.HEAD_TIMESTAMP, req_id, text]


def histogram_data(req_id: int, rows: Iterable[tuple[float, int]]) -> list[object]:
    """The fields of a histogramData: (price, size) pairs."""
    items = list(rows)
    fields: list[object] = [Msg.HISTOGRAM_DATA, req_id, len(items)]
    for price, size in items:
        fields += [price, size]
    return fields
