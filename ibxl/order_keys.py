"""The record of order keys: key -> order id and parameters, kept in a small SQLite file so the
same key never yields a second order across calls, threads and restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


class OrderKeys:
    """Key records with a per-key lock (one thread at a time works on a key)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS order_keys (key TEXT PRIMARY KEY, account TEXT, "
                         "order_id INTEGER, state TEXT, params TEXT, created REAL)")
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def lock(self, key: str) -> threading.Lock:
        """The lock that serialises all work on one key."""
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of a key, or None."""
        with self._lock:
            row = self._db.execute("SELECT key, account, order_id, state, params, created FROM order_keys "
                                   "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"key": row[0], "account": row[1], "order_id": row[2], "state": row[3], "params": json.loads(row[4]),
                "created": row[5]}

    def reserve(self, key: str, account: str, params: dict[str, Any], created: float) -> bool:
        """Claim a key before sending; False when another process already holds it."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO order_keys VALUES (?, ?, NULL, 'sending', ?, ?)",
                                 (key, account, json.dumps(params), created))
                return True
            except sqlite3.IntegrityError:
                return False

    def update(self, key: str, **fields: Any) -> None:
        """Record the order id, state or new parameters of a key."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k == "params" else v for k, v in fields.items()]
        with self._lock:
            self._db.execute(f"UPDATE order_keys SET {sets} WHERE key = ?", (*values, key))
