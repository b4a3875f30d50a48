"""The paper broker's state on disk (SQLite): accounts, orders, executions and the id sequence.

Every change is committed before the gateway tells a client about it, so a process killed
between a fill and the next message loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


class StateStore:
    """Key/JSON tables in one SQLite file (or in memory when no directory is given)."""

    def __init__(self, directory: Path | None, reset: bool = False) -> None:
        if directory is None:
            self.path = ":memory:"
        else:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = str(directory / "paper-account.sqlite3")
            if reset and Path(self.path).exists():
                Path(self.path).unlink()
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        for table in ("meta", "accounts", "orders", "executions"):
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def put(self, table: str, key: object, value: Any) -> None:
        """Insert or replace one record (committed at once)."""
        self.db.execute(f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", (str(key), json.dumps(value)))

    def put_many(self, items: list[tuple[str, object, Any]]) -> None:
        """Several records in one transaction (a fill: the order, the execution and the account)."""
        with self.db:
            self.db.execute("BEGIN")
            for table, key, value in items:
                self.db.execute(f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)",
                                (str(key), json.dumps(value)))

    def get(self, table: str, key: object, default: Any = None) -> Any:
        """One record, or ``default``."""
        row = self.db.execute(f"SELECT value FROM {table} WHERE key = ?", (str(key),)).fetchone()
        return json.loads(row[0]) if row else default

    def all(self, table: str) -> list[Any]:
        """Every record of a table."""
        return [json.loads(v) for (v,) in self.db.execute(f"SELECT value FROM {table}")]

    def close(self) -> None:
        """Close the file."""
        self.db.close()
