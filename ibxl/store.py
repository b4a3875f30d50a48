"""The local bar store: an embedded DuckDB file of historical bars keyed by contract, bar size,
data type, RTH and time, plus the time ranges already fetched, so ibxl never stores a bar twice
and a repeated history() fetches only what is missing."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd

BAR_COLUMNS = ["open", "high", "low", "close", "volume", "wap", "bar_count"]


class BarStore:
    """Bars and fetched ranges in one DuckDB file (thread-safe)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = duckdb.connect(str(self.path))
        self.db.execute("""CREATE TABLE IF NOT EXISTS bars (series VARCHAR, time TIMESTAMPTZ, open DOUBLE,
            high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, wap DOUBLE, bar_count BIGINT,
            PRIMARY KEY (series, time))""")
        self.db.execute("""CREATE TABLE IF NOT EXISTS coverage (series VARCHAR, start_time TIMESTAMPTZ,
            end_time TIMESTAMPTZ)""")

    def put(self, series: str, bars: pd.DataFrame) -> int:
        """Insert bars (index: tz-aware time); existing times are replaced, never duplicated."""
        if bars.empty:
            return 0
        frame = bars[BAR_COLUMNS].copy()
        frame.insert(0, "time", bars.index)
        frame.insert(0, "series", series)
        with self._lock:
            self.db.register("incoming", frame)
            self.db.execute("INSERT OR REPLACE INTO bars SELECT * FROM incoming")
            self.db.unregister("incoming")
        return len(frame)

    def get(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars of a series with start <= time <= end, oldest first."""
        with self._lock:
            df = self.db.execute("SELECT time, open, high, low, close, volume, wap, bar_count FROM bars "
                                 "WHERE series = ? AND time >= ? AND time <= ? ORDER BY time",
                                 [series, start.to_pydatetime(), end.to_pydatetime()]).df()
        df["time"] = pd.to_datetime(df["time"], utc=True)
        return df.set_index("time")

    def covered(self, series: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Merged time ranges already fetched for a series."""
        with self._lock:
            rows = self.db.execute("SELECT start_time, end_time FROM coverage WHERE series = ? ORDER BY start_time",
                                   [series]).fetchall()
        merged: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        for a, b in rows:
            a, b = pd.Timestamp(a).tz_convert("UTC"), pd.Timestamp(b).tz_convert("UTC")
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def mark(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Record that [start, end] has been fetched."""
        with self._lock:
            self.db.execute("INSERT INTO coverage VALUES (?, ?, ?)",
                            [series, start.to_pydatetime(), end.to_pydatetime()])

    def missing(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """The parts of [start, end] not yet fetched."""
        gaps = []
        cursor = start
        for a, b in self.covered(series):
            if b < cursor:
                continue
            if a > end:
                break
            if a > cursor:
                gaps.append((cursor, min(a, end)))
            cursor = max(cursor, b)
            if cursor >= end:
                break
        if cursor < end:
            gaps.append((cursor, end))
        return gaps

    def gaps(self, series: str, expected: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Holes between consecutive stored bars longer than ``expected`` (a data-quality check)."""
        with self._lock:
            times = self.db.execute("SELECT time FROM bars WHERE series = ? ORDER BY time", [series]).df()["time"]
        times = pd.to_datetime(times, utc=True)
        diffs = times.diff()
        return [(times[i - 1], times[i]) for i in diffs.index[diffs > expected]]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self.db.close()
