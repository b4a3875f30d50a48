"""Historical requests paced to IB's rules, so ibxl never causes a pacing violation (error 162).

For bars of 30 seconds or less: no identical request within 15 s, at most 5 requests for one
contract and data type within 2 s, at most 60 requests in 10 minutes (BID_ASK counts twice).
For every bar size: at most 50 requests open at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

SMALL_BAR_SECONDS = 30
IDENTICAL_SECONDS = 15.5
SAME_CONTRACT_WINDOW = 2.2
SAME_CONTRACT_MAX = 5
TEN_MINUTES = 600.0
PER_TEN_MINUTES = 60
MAX_OPEN = 50


class HistoricalScheduler:
    """Waits as long as IB's pacing rules require before each historical request (loop thread only)."""

    def __init__(self, per_ten_minutes: int = PER_TEN_MINUTES, max_open: int = MAX_OPEN) -> None:
        self.per_ten_minutes = per_ten_minutes
        self._recent: deque[tuple[float, Hashable, Hashable]] = deque()
        self._open = asyncio.Semaphore(max_open)
        self.waited = 0.0
        self.requests = 0

    def _delay(self, now: float, key: Hashable, contract_key: Hashable, weight: int) -> float:
        recent = self._recent
        while recent and now - recent[0][0] > TEN_MINUTES:
            recent.popleft()
        waits = [0.0]
        same_key = [t for t, k, _ in recent if k == key]
        if same_key:
            waits.append(max(same_key) + IDENTICAL_SECONDS - now)
        same_contract = sorted(t for t, _, ck in recent if ck == contract_key and now - t < SAME_CONTRACT_WINDOW)
        if len(same_contract) + weight > SAME_CONTRACT_MAX:
            oldest = same_contract[len(same_contract) + weight - SAME_CONTRACT_MAX - 1]
            waits.append(oldest + SAME_CONTRACT_WINDOW - now)
        if len(recent) + weight > self.per_ten_minutes:
            waits.append(recent[len(recent) + weight - self.per_ten_minutes - 1][0] + TEN_MINUTES - now)
        return max(waits)

    def headroom(self) -> int:
        """Small-bar requests that could start now within the ten-minute allowance."""
        now = time.monotonic()
        return self.per_ten_minutes - sum(1 for t, _, _ in list(self._recent) if now - t <= TEN_MINUTES)

    async def run(self, request: Callable[[], Awaitable[T]], *, key: Hashable, contract_key: Hashable,
                  bar_seconds: int, what: str) -> T:
        """Run one historical request when the rules allow it."""
        async with self._open:
            if bar_seconds <= SMALL_BAR_SECONDS:
                weight = 2 if what == "BID_ASK" else 1
                while True:
                    now = time.monotonic()
                    delay = self._delay(now, key, contract_key, weight)
                    if delay <= 0:
                        break
                    self.waited += delay
                    await asyncio.sleep(delay)
                for _ in range(weight):
                    self._recent.append((time.monotonic(), key, contract_key))
            self.requests += 1
            return await request()
