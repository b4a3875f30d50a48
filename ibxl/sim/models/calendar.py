"""Trading calendars: when each kind of market is open, from ``exchange_calendars``.

Equities and equity options follow NYSE's calendar (XNYS: holidays and early closes, such as
the day after Thanksgiving), CME futures follow CME Globex (CMES), FX trades 24x5 from Sunday
17:15 New York and crypto 24x7.

``mode="exchange"`` follows the calendars throughout. ``mode="always"`` (the default, so that a
demo on a Sunday is alive) keeps only the *current* trading day open around the clock: every
past session follows its exchange's calendar and hours, so history looks like TWS's.

Session tables are computed once per calendar (numpy-free dict lookups by date) because
history generation and the live feed ask about sessions many thousands of times.
"""

from __future__ import annotations

import time as _clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")

#: the first and last dates the session tables cover
FIRST_DAY = date(2009, 6, 1)
LAST_DAY = date(2031, 12, 31)

Span = tuple[float, float]  # (start, end) epoch seconds


@dataclass(frozen=True)
class _Spec:
    tz: ZoneInfo
    tz_id: str  # the name TWS puts in contract details
    source: str  # exchange_calendars name, or "fx" / "crypto" for rule-based calendars


_SPECS: dict[str, _Spec] = {
    "us_equity": _Spec(NEW_YORK, "US/Eastern", "XNYS"),  # 04:00-20:00 with 09:30-16:00 RTH
    "us_option": _Spec(NEW_YORK, "US/Eastern", "XNYS"),  # 09:30-16:00
    "us_index": _Spec(NEW_YORK, "US/Eastern", "XNYS"),  # 09:30-16:15 (index options trade to 16:15)
    "cme": _Spec(CHICAGO, "US/Central", "CMES"),  # 17:00-16:00 Globex with 08:30-15:00 RTH
    "fx": _Spec(NEW_YORK, "US/Eastern", "fx"),
    "crypto": _Spec(NEW_YORK, "US/Eastern", "crypto"),
}


def _spec(calendar: str) -> _Spec:
    return _SPECS.get(calendar, _SPECS["us_equity"])


@lru_cache(maxsize=4)
def _exchange_schedule(name: str) -> dict[date, Span]:
    """{session date: (open, close)} in epoch seconds from exchange_calendars (loaded once)."""
    import exchange_calendars as xc  # imported lazily: it takes a quarter second

    cal = xc.get_calendar(name, start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat())
    sched = cal.schedule
    opens = sched["open"].astype("int64").to_numpy() // 10**9
    closes = sched["close"].astype("int64").to_numpy() // 10**9
    return {d.date(): (float(o), float(c)) for d, o, c in zip(sched.index, opens, closes, strict=True)}


def _local(day: date, at: time, tz: ZoneInfo, days: int = 0) -> float:
    return datetime.combine(day + timedelta(days=days), at, tz).timestamp()


@lru_cache(maxsize=16)
def _table(calendar: str) -> dict[date, tuple[Span, Span]]:
    """{trading day: (full session, regular session)} for one calendar, in epoch seconds."""
    spec = _spec(calendar)
    out: dict[date, tuple[Span, Span]] = {}
    if spec.source in ("fx", "crypto"):
        day = FIRST_DAY
        while day <= LAST_DAY:
            if spec.source == "crypto":
                span = (_local(day, time(0), spec.tz), _local(day, time(0), spec.tz, 1))
                out[day] = (span, span)
            elif day.weekday() < 5:  # the FX day runs from 17:15 the evening before to 17:00
                span = (_local(day, time(17, 15), spec.tz, -1), _local(day, time(17), spec.tz))
                out[day] = (span, span)
            day += timedelta(days=1)
        return out
    for day, (open_, close) in _exchange_schedule(spec.source).items():
        if calendar == "us_equity":
            # extended hours: 04:00 to four hours after the close (20:00, 17:00 on early closes)
            full = (_local(day, time(4), spec.tz), close + 4 * 3600)
            out[day] = (full, (open_, close))
        elif calendar == "us_index":
            out[day] = ((open_, close + 900), (open_, close))
        elif calendar == "us_option":
            out[day] = ((open_, close), (open_, close))
        else:  # cme: Globex session, with the pit-era regular hours 08:30-15:00 Chicago
            rth = (max(open_, _local(day, time(8, 30), spec.tz)), min(close, _local(day, time(15), spec.tz)))
            out[day] = ((open_, close), rth if rth[1] > rth[0] else (open_, close))
    return out


def is_holiday(day: date) -> bool:
    """True when NYSE is closed all day on a weekday (a holiday)."""
    return day.weekday() < 5 and day not in _table("us_equity") and FIRST_DAY <= day <= LAST_DAY


def is_early_close(day: date) -> bool:
    """True when NYSE closes early on this day (e.g. 13:00 on the day after Thanksgiving)."""
    spans = _table("us_equity").get(day)
    if spans is None:
        return False
    return datetime.fromtimestamp(spans[1][1], NEW_YORK).time() < time(16)


class TradingCalendar:
    """Answers when an instrument's market is open, in either hours mode."""

    def __init__(self, mode: str = "always", now: Callable[[], float] | None = None) -> None:
        if mode not in ("always", "exchange"):
            raise ValueError(f"hours mode must be 'always' or 'exchange', not {mode!r}")
        self.mode = mode
        #: the current moment (epoch seconds): in ``always`` mode its trading day stays open
        self.now: Callable[[], float] = now or _clock.time

    @staticmethod
    def timezone(calendar: str) -> ZoneInfo:
        """The exchange's local timezone."""
        return _spec(calendar).tz

    @staticmethod
    def timezone_id(calendar: str) -> str:
        """The timezone name TWS puts in contract details (``US/Eastern``...)."""
        return _spec(calendar).tz_id

    def current_day(self, calendar: str) -> date:
        """Today's date in the calendar's zone (the day ``always`` mode keeps open)."""
        return datetime.fromtimestamp(self.now(), _spec(calendar).tz).date()

    def session_spans(self, calendar: str, day: date, rth: bool = False) -> list[Span]:
        """The session(s) of one trading day as (start, end) epoch seconds (empty when closed)."""
        spans = _table(calendar).get(day)
        if self.mode == "always" and day == self.current_day(calendar):
            # today stays open around the clock: from its real open (or midnight) to midnight
            tz = _spec(calendar).tz
            start, end = _local(day, time(0), tz), _local(day, time(0), tz, 1)
            if spans is not None:
                start, end = min(start, spans[0][0]), max(end, spans[0][1])
            return [(start, end)]
        if spans is None:
            return []
        return [spans[1] if rth else spans[0]]

    def sessions(self, calendar: str, day: date, rth: bool = False) -> list[tuple[datetime, datetime]]:
        """The session(s) of one trading day as aware UTC (start, end) pairs."""
        return [(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC))
                for s, e in self.session_spans(calendar, day, rth)]

    def continuous(self, calendar: str) -> bool:
        """True when the calendar trades around the clock every day (crypto)."""
        return _spec(calendar).source == "crypto"

    def is_open(self, calendar: str, ts: datetime, rth: bool = False) -> bool:
        """True when ``ts`` (aware) falls inside a session."""
        t = ts.timestamp()
        local = ts.astimezone(self.timezone(calendar)).date()
        for day in (local, local + timedelta(days=1)):
            for start, end in self.session_spans(calendar, day, rth):
                if start <= t < end:
                    return True
        return False

    def trading_day(self, calendar: str, ts: datetime) -> date:
        """The trading day a moment belongs to (evening sessions count for the next day)."""
        local = ts.astimezone(self.timezone(calendar)).date()
        if self.mode == "always" and local == self.current_day(calendar):
            return local
        t = ts.timestamp()
        nxt = local + timedelta(days=1)
        spans = _table(calendar).get(nxt)
        if spans is not None and spans[0][0] <= t and not (self.mode == "always" and nxt == self.current_day(calendar)):
            return nxt
        return local

    def hours_string(self, calendar: str, first: date, days: int = 7, rth: bool = False) -> str:
        """TWS's ``tradingHours``/``liquidHours`` text, e.g. ``20261124:0930-20261124:1600;...``."""
        tz = self.timezone(calendar)
        parts = []
        for i in range(days):
            day = first + timedelta(days=i)
            sess = self.session_spans(calendar, day, rth)
            if not sess:
                parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            for start, end in sess:
                s, e = datetime.fromtimestamp(start, tz), datetime.fromtimestamp(end, tz)
                parts.append(f"{s:%Y%m%d:%H%M}-{e:%Y%m%d:%H%M}")
        return ";".join(parts)

    def next_business_day_on_or_before(self, day: date) -> date:
        """``day`` moved back over weekends and NYSE holidays (for expiry dates)."""
        while day.weekday() >= 5 or is_holiday(day):
            day -= timedelta(days=1)
        return day
