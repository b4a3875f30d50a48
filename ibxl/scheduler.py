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
        # [time, request key, contract key]; the time is moved to the answer's arrival (below)
        self._recent: deque[list] = deque()
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
            times = sorted(t for t, _, _ in recent)
            waits.append(times[len(times) + weight - self.per_ten_minutes - 1] + TEN_MINUTES - now)
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
                entries = [[time.monotonic(), key, contract_key] for _ in range(weight)]
                self._recent.extend(entries)
                self.requests += 1
                try:
                    return await request()
                finally:
                    # TWS counts a request when it reads it, which can be well after it was sent
                    # (a busy client loop, a busy gateway); the answer's arrival is the latest
                    # moment it can have been counted, so later requests are spaced from that
                    done = time.monotonic()
                    for entry in entries:
                        entry[0] = done
            self.requests += 1
            return await request()


def estimate_seconds(requests: int, bar_seconds: int, what: str = "TRADES",
                     seconds_per_answer: float = 0.5) -> float:
    """About how long ``requests`` historical requests for one contract take under IB's pacing:
    bars of 30 seconds or less are held to 60 requests in 10 minutes (BID_ASK counts twice) and 5
    in 2 seconds; larger bars only wait for their answers (``seconds_per_answer`` each)."""
    if requests <= 0:
        return 0.0
    answers = requests * seconds_per_answer
    if bar_seconds > SMALL_BAR_SECONDS:
        return answers
    weighted = requests * (2 if what == "BID_ASK" else 1)
    beyond = max(0, weighted - PER_TEN_MINUTES)
    return max(answers, weighted * SAME_CONTRACT_WINDOW / SAME_CONTRACT_MAX, beyond * TEN_MINUTES / PER_TEN_MINUTES)


def describe_seconds(seconds: float) -> str:
    """A duration for people: '40 s', '12 min', '3 h 20 min', '2 days 4 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, mins = divmod(int(minutes), 60)
    if hours < 48:
        return f"{hours} h {mins} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"
