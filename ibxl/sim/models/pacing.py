"""IB's historical-data pacing rules, enforced per gateway as TWS does.

For bars of 30 seconds or less: no identical request within 15 s, fewer than 6 requests for
one contract, exchange and data type within 2 s, at most 60 requests in any 10 minutes
(BID_ASK counts twice). For every bar size: at most 50 requests open at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from ..config import Limits
from ..errors import HistoryError

PACING_TEXT = "Historical data request pacing violation"
#: bars of this many seconds or less are "small": stricter pacing, and six months of history only
SMALL_BAR_SECONDS = 30


class HistoricalPacing:
    """Remembers recent historical requests and refuses the ones TWS would refuse."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._recent: deque[tuple[float, Hashable, Hashable]] = deque()
        self.open_requests = 0
        self.violations = 0

    def check(self, now: float, request_key: Hashable, contract_key: Hashable, bar_seconds: int,
              weight: int = 1) -> None:
        """Record a request, or raise error 162 (TWS's pacing violation) if it breaks a rule."""
        lim = self.limits
        if self.open_requests >= lim.hist_open_requests:
            self._refuse(f"{lim.hist_open_requests} historical requests are already open; cancel "
                         "keepUpToDate requests you no longer need")
        if bar_seconds > SMALL_BAR_SECONDS:
            return
        recent = self._recent
        while recent and now - recent[0][0] > 600:
            recent.popleft()
        if any(key == request_key and now - t < lim.hist_identical_seconds for t, key, _ in recent):
            self._refuse("an identical request was made less than "
                         f"{lim.hist_identical_seconds:g} seconds ago")
        same = sum(1 for t, _, ck in recent if ck == contract_key and now - t < 2.0)
        if same + 1 >= lim.hist_same_contract_per_2s:
            self._refuse(f"{lim.hist_same_contract_per_2s} or more requests for the same contract, exchange "
                         "and data type within 2 seconds")
        if len(recent) + weight > lim.hist_requests_per_10min:
            self._refuse(f"more than {lim.hist_requests_per_10min} requests within 10 minutes")
        for _ in range(weight):
            recent.append((now, request_key, contract_key))

    def _refuse(self, why: str) -> None:
        self.violations += 1
        raise HistoryError(162, f"{PACING_TEXT} ({why}; wait and retry)")
