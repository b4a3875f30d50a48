"""The local bar store: an embedded DuckDB file of historical bars keyed by contract, bar size,
data type, RTH and time, plus the time ranges already fetched, so ibxl never stores a bar twice
and a repeated history() fetches only what is missing. It also keeps the day's option-chain
definitions (expiries, strikes, conIds, trading classes) and open interest, which change at most
once a day, so a second chain of the day asks IB for none of them."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd

BAR_COLUMNS = ["open", "high", "low", "close", "volume", "wap", "bar_count"]
OPTION_DEF_COLUMNS = ["expiry", "strike", "right", "con_id", "trading_class", "multiplier", "exchange", "currency",
                      "local_symbol"]


def _quoted(column: str) -> str:
    # "right" is an SQL keyword
    return f'"{column}"'


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
        # one row per underlying and day: what reqSecDefOptParams said
        self.db.execute("""CREATE TABLE IF NOT EXISTS chain_params (underlying VARCHAR, day VARCHAR,
            und_conid BIGINT, trading_class VARCHAR, multiplier VARCHAR, expirations VARCHAR, strikes VARCHAR,
            PRIMARY KEY (underlying, day))""")
        # one row per option contract; an expiry with rows has been fetched that day
        self.db.execute("""CREATE TABLE IF NOT EXISTS option_defs (underlying VARCHAR, day VARCHAR, expiry VARCHAR,
            strike DOUBLE, "right" VARCHAR, con_id BIGINT, trading_class VARCHAR, multiplier VARCHAR,
            exchange VARCHAR, currency VARCHAR, local_symbol VARCHAR, PRIMARY KEY (underlying, day, con_id))""")
        self.db.execute("""CREATE TABLE IF NOT EXISTS option_oi (day VARCHAR, con_id BIGINT, open_interest DOUBLE,
            PRIMARY KEY (day, con_id))""")

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

    # ------------------------------------------------------------ option-chain definitions
    def put_chain_params(self, underlying: str, day: str, params: dict) -> None:
        """Keep one day's option parameters of an underlying (``und_conid``, ``trading_class``,
        ``multiplier``, ``expirations`` and ``strikes`` lists)."""
        row = [underlying, day, int(params["und_conid"]), params["trading_class"], params["multiplier"],
               ",".join(params["expirations"]), ",".join(repr(float(k)) for k in params["strikes"])]
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO chain_params VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def chain_params(self, underlying: str, day: str) -> dict | None:
        """The option parameters kept for ``underlying`` on ``day``, or None."""
        with self._lock:
            row = self.db.execute("SELECT und_conid, trading_class, multiplier, expirations, strikes FROM chain_params "
                                  "WHERE underlying = ? AND day = ?", [underlying, day]).fetchone()
        if row is None:
            return None
        return {"und_conid": int(row[0]), "trading_class": row[1], "multiplier": row[2],
                "expirations": [e for e in row[3].split(",") if e],
                "strikes": [float(k) for k in row[4].split(",") if k]}

    def put_option_defs(self, underlying: str, day: str, defs: pd.DataFrame) -> int:
        """Keep option contracts (columns: expiry, strike, right, con_id, trading_class, multiplier,
        exchange, currency, local_symbol) of ``underlying`` for ``day``."""
        if defs.empty:
            return 0
        frame = defs[OPTION_DEF_COLUMNS].copy()
        frame.insert(0, "day", day)
        frame.insert(0, "underlying", underlying)
        with self._lock:
            self.db.register("incoming_defs", frame)
            self.db.execute("INSERT OR REPLACE INTO option_defs SELECT * FROM incoming_defs")
            self.db.unregister("incoming_defs")
        return len(frame)

    def option_defs(self, underlying: str, day: str, expiries: list[str]) -> pd.DataFrame:
        """The option contracts kept for ``underlying`` on ``day`` in these expiries."""
        if not expiries:
            return pd.DataFrame(columns=OPTION_DEF_COLUMNS)
        marks = ", ".join("?" for _ in expiries)
        with self._lock:
            return self.db.execute(f"SELECT {', '.join(_quoted(c) for c in OPTION_DEF_COLUMNS)} FROM option_defs "
                                   f"WHERE underlying = ? AND day = ? AND expiry IN ({marks}) "
                                   "ORDER BY expiry, strike, \"right\"", [underlying, day, *expiries]).df()

    def put_open_interest(self, day: str, values: dict[int, float]) -> None:
        """Keep the open interest of options (conId -> contracts) for ``day``."""
        if not values:
            return
        with self._lock:
            self.db.executemany("INSERT OR REPLACE INTO option_oi VALUES (?, ?, ?)",
                                [[day, int(k), float(v)] for k, v in values.items()])

    def open_interest(self, day: str, con_ids: list[int]) -> dict[int, float]:
        """Open interest kept for ``day``, by conId (options without one are left out)."""
        if not con_ids:
            return {}
        marks = ", ".join("?" for _ in con_ids)
        with self._lock:
            rows = self.db.execute(f"SELECT con_id, open_interest FROM option_oi WHERE day = ? AND con_id IN ({marks})",
                                   [day, *[int(c) for c in con_ids]]).fetchall()
        return {int(a): float(b) for a, b in rows}

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self.db.close()
