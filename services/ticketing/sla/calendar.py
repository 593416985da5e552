"""Working-time arithmetic on a site's calendar (X-4), pure: no database, no clock.

A reception-hours clock runs only inside the site's reception frames (several a day, e.g. around a lunch
break). Which frames a day has: the operator's override for that date wins; else the national calendar
(`chinese_calendar`) says whether the day is a public holiday (no frames: the clock stands still) or a
make-up working day (调休: the site's weekday hours, Monday's frames, although it falls on a weekend); else,
for a year the library does not know yet, the day keeps its own weekday's frames. A calendar clock runs
24 × 365 (emergencies, complaint intake). Instants go in and come out timezone-aware; results are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

CALENDAR = "calendar"
RECEPTION = "reception"
CLOCKS = (CALENDAR, RECEPTION)
HOLIDAY = "holiday"
WORKDAY = "workday"
# X-4's default reception hours, for a site whose own are not known yet.
DEFAULT_HOURS = tuple((weekday, "08:30", "18:00") for weekday in range(1, 6)) + tuple(
    (weekday, "09:00", "17:00") for weekday in (6, 7))
# No site is closed for longer than this; a calendar without any frame in it is refused, not looped over.
_HORIZON_DAYS = 400


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class SiteCalendar:
    """A site's time zone, weekly frames (ISO weekday → sorted (opens, closes) in minutes of the day) and
    operator overrides (date → "holiday" | "workday")."""

    zone: ZoneInfo
    week: Mapping[int, tuple[tuple[int, int], ...]]
    overrides: Mapping[date, str] = field(default_factory=dict)

    @classmethod
    def of(cls, time_zone: str, hours: Sequence[tuple[int, str, str]] = DEFAULT_HOURS,
           overrides: Mapping[date, str] | None = None) -> SiteCalendar:
        """From the places contract's shapes: frames as (weekday, "HH:MM", "HH:MM")."""
        week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(1, 8)}
        for weekday, opens, closes in hours:
            week[weekday].append((_minutes(opens), _minutes(closes)))
        return cls(ZoneInfo(time_zone or "Asia/Shanghai"),
                   {day: tuple(sorted(frames)) for day, frames in week.items()}, dict(overrides or {}))

    def kind_of(self, day: date) -> str | None:
        """"holiday", "workday" (a make-up working day) or None (an ordinary day of its weekday)."""
        return self.overrides.get(day) or _national(day)

    def frames_on(self, day: date) -> tuple[tuple[int, int], ...]:
        kind = self.kind_of(day)
        if kind == HOLIDAY:
            return ()
        if kind == WORKDAY and day.isoweekday() > 5:
            return self.week[1]
        return self.week[day.isoweekday()]

    def frames_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The frames (opening, closing, in UTC) that close after `start`, in order."""
        day = start.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            for opens, closes in self.frames_on(current):
                frame = (self._instant(current, opens), self._instant(current, closes))
                if frame[1] > start:
                    yield frame
        raise ValueError(f"no reception hours within {_HORIZON_DAYS} days of {start.isoformat()}")

    def _instant(self, day: date, minute: int) -> datetime:
        local = datetime.combine(day, time(minute // 60, minute % 60), self.zone)
        return local.astimezone(timezone.utc)


@lru_cache(maxsize=4096)
def _national(day: date) -> str | None:
    """The national calendar's word on a day, or None for a year it does not cover yet."""
    try:
        chinese_calendar.is_workday(day)  # raises for a year it does not cover
    except NotImplementedError:
        return None
    if day in chinese_calendar.holidays:
        return HOLIDAY
    if day in chinese_calendar.workdays and day.isoweekday() > 5:
        return WORKDAY
    return None


def add(calendar: SiteCalendar, clock: str, start: datetime, seconds: float) -> datetime:
    """The instant `seconds` of the clock's time after `start`; on a reception clock it never falls outside
    a frame (a frame's closing instant counts as inside)."""
    start = start.astimezone(timezone.utc)
    if clock == CALENDAR or seconds <= 0:
        return start + timedelta(seconds=max(seconds, 0))
    remaining = timedelta(seconds=seconds)
    for opens, closes in calendar.frames_from(start):
        begin = max(opens, start)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("frames_from ends by raising")


def between(calendar: SiteCalendar, clock: str, start: datetime, end: datetime) -> float:
    """Seconds of the clock's time from `start` to `end` (0 when `end` is not after `start`)."""
    if end <= start:
        return 0.0
    if clock == CALENDAR:
        return (end - start).total_seconds()
    total = timedelta()
    for opens, closes in calendar.frames_from(start):
        if opens >= end:
            break
        total += min(closes, end) - max(opens, start)
    return total.total_seconds()


def end_of_day(calendar: SiteCalendar, clock: str, start: datetime, days: int) -> datetime:
    """"The same day" (days 0) or "within N days": on a calendar clock the local midnight ending the day,
    or N × 24 h; on a reception clock the close of the Nth working day after the one `start` falls in (or,
    after hours, the next one)."""
    start = start.astimezone(timezone.utc)
    if clock == CALENDAR:
        if days:
            return start + timedelta(days=days)
        local = start.astimezone(calendar.zone).date() + timedelta(days=1)
        return datetime.combine(local, time(0), calendar.zone).astimezone(timezone.utc)
    last_close, seen = None, 0
    for _, closes in calendar.frames_from(start):
        if last_close is not None and closes.astimezone(calendar.zone).date() != last_close.astimezone(
                calendar.zone).date():
            if seen == days:
                return last_close
            seen += 1
        last_close = closes
    raise AssertionError("frames_from ends by raising")


def next_open(calendar: SiteCalendar, instant: datetime) -> datetime:
    """`instant` when the centre is open then, else its next opening."""
    opens, _ = next(calendar.frames_from(instant))
    return max(opens, instant.astimezone(timezone.utc))
