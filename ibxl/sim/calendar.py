"""Trading calendars: when each kind of market is open, as plain date arithmetic.

``mode="always"`` keeps every market open around the clock (the default, so that a demo
on a Sunday is alive); ``mode="exchange"`` follows real sessions, weekends and NYSE holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")

# calendar name -> (timezone, TWS timeZoneId, full session, liquid (RTH) session, days open)
# A session is (start, end) in local time; start > end means it begins the evening before.
_SESSIONS: dict[str, tuple[ZoneInfo, str, tuple[time, time], tuple[time, time], str]] = {
    "us_equity": (NEW_YORK, "US/Eastern", (time(4), time(20)), (time(9, 30), time(16)), "weekdays"),
    "us_index": (NEW_YORK, "US/Eastern", (time(9, 30), time(16, 15)), (time(9, 30), time(16)), "weekdays"),
    "cme": (CHICAGO, "US/Central", (time(17), time(16)), (time(8, 30), time(15)), "weekdays"),
    "fx": (NEW_YORK, "US/Eastern", (time(17, 15), time(17)), (time(17, 15), time(17)), "weekdays"),
    "crypto": (NEW_YORK, "US/Eastern", (time(0), time(0)), (time(0), time(0)), "everyday"),
}


@lru_cache(maxsize=64)
def _nyse_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.financial_holidays("NYSE", years=year).keys())


def is_holiday(day: date) -> bool:
    """True when NYSE is closed all day for a holiday."""
    return day in _nyse_holidays(day.year)


class TradingCalendar:
    """Answers when an instrument's market is open, in either hours mode."""

    def __init__(self, mode: str = "always") -> None:
        if mode not in ("always", "exchange"):
            raise ValueError(f"hours mode must be 'always' or 'exchange', not {mode!r}")
        self.mode = mode

    @staticmethod
    def timezone(calendar: str) -> ZoneInfo:
        """The exchange's local timezone."""
        return _SESSIONS.get(calendar, _SESSIONS["us_equity"])[0]

    @staticmethod
    def timezone_id(calendar: str) -> str:
        """The timezone name TWS puts in contract details (``US/Eastern``...)."""
        return _SESSIONS.get(calendar, _SESSIONS["us_equity"])[1]

    def trades_on(self, calendar: str, day: date) -> bool:
        """True when the market has a session on this (local) trading day."""
        if self.mode == "always":
            return True
        days = _SESSIONS.get(calendar, _SESSIONS["us_equity"])[4]
        if days == "everyday":
            return True
        return day.weekday() < 5 and not is_holiday(day)

    def sessions(self, calendar: str, day: date, rth: bool = False) -> list[tuple[datetime, datetime]]:
        """The session(s) of one trading day as aware UTC (start, end) pairs."""
        if self.continuous(calendar):
            tz = self.timezone(calendar)
            start = datetime.combine(day, time(0), tz)
            return [(start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))]
        if not self.trades_on(calendar, day):
            return []
        tz, _, full, liquid, _ = _SESSIONS.get(calendar, _SESSIONS["us_equity"])
        begin, end = liquid if rth else full
        start_day = day - timedelta(days=1) if begin >= end else day
        start = datetime.combine(start_day, begin, tz)
        stop = datetime.combine(day, end, tz)
        return [(start.astimezone(UTC), stop.astimezone(UTC))]

    def continuous(self, calendar: str) -> bool:
        """True when the calendar trades around the clock (every market in ``always`` mode, crypto)."""
        return self.mode == "always" or _SESSIONS.get(calendar, _SESSIONS["us_equity"])[4] == "everyday"

    def is_open(self, calendar: str, ts: datetime, rth: bool = False) -> bool:
        """True when ``ts`` (aware) falls inside a session."""
        if self.mode == "always":
            return True
        local = ts.astimezone(self.timezone(calendar)).date()
        for day in (local, local + timedelta(days=1)):
            for start, end in self.sessions(calendar, day, rth):
                if start <= ts < end:
                    return True
        return False

    def trading_day(self, calendar: str, ts: datetime) -> date:
        """The trading day a moment belongs to (evening sessions count for the next day)."""
        local = ts.astimezone(self.timezone(calendar))
        if self.mode == "exchange":
            full = _SESSIONS.get(calendar, _SESSIONS["us_equity"])[2]
            if full[0] >= full[1] and full[0] != full[1] and local.time() >= full[0]:
                return local.date() + timedelta(days=1)
        return local.date()

    def hours_string(self, calendar: str, first: date, days: int = 7, rth: bool = False) -> str:
        """TWS's ``tradingHours``/``liquidHours`` text, e.g. ``20261124:0930-20261124:1600;...``."""
        tz = self.timezone(calendar)
        parts = []
        for i in range(days):
            day = first + timedelta(days=i)
            sess = self.sessions(calendar, day, rth)
            if not sess:
                parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            for start, end in sess:
                s, e = start.astimezone(tz), end.astimezone(tz)
                parts.append(f"{s:%Y%m%d:%H%M}-{e:%Y%m%d:%H%M}")
        return ";".join(parts)

    def previous_trading_day(self, calendar: str, day: date) -> date:
        """The last trading day strictly before ``day``."""
        d = day - timedelta(days=1)
        while not self.trades_on(calendar, d):
            d -= timedelta(days=1)
        return d

    def next_business_day_on_or_before(self, day: date) -> date:
        """``day`` moved back over weekends and NYSE holidays (for expiry dates)."""
        while day.weekday() >= 5 or is_holiday(day):
            day -= timedelta(days=1)
        return day
