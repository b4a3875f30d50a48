"""The gateway's sense of time: real wall-clock time, optionally shifted for tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock time as aware UTC datetimes; ``offset`` seconds shift it (for tests and replays)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time() + self.offset

    def now(self) -> datetime:
        """The current moment as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)


class FrozenClock(Clock):
    """A clock stopped at one moment (tests that compare the gateway's answers with its model)."""

    def __init__(self, at: float) -> None:
        super().__init__(0.0)
        self.at = at

    def time(self) -> float:
        """Always the frozen moment."""
        return self.at
