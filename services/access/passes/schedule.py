"""When in its window a pass opens: on some weekdays, between some hours of the site's day, and in extra
periods granted later. A decoration permit allows works on its working days and hours only, and overtime
outside them needs an approved application (SPEC §2 decoration, 装修加班申请): its workers' passes follow.

Stored on the pass as JSON {"time_zone", "days": ["MO", …], "hours": [["08:00", "12:00"], …],
"overtime": [[from, until] as epoch seconds, …]}; an empty `days` or `hours` does not restrict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.problems import unprocessable

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def minute_of(text: str, field: str) -> int:
    """"HH:MM" as minutes since midnight; "24:00" is the day's end."""
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        value = -1
    if not 0 <= value <= 24 * 60 or len(text) != 5:
        raise unprocessable(field, f"Not a time of day as HH:MM: {text!r}.")
    return value


def stored(time_zone: str, days, hours) -> dict | None:
    """The schedule to store for working days and hours as a permit names them; None when they do not
    restrict. Unknown weekday codes or times are refused naming the field."""
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown:
        raise unprocessable("working_days", f"Not ISO weekday codes: {', '.join(unknown)}.")
    for start, end in hours:
        minute_of(start, "working_hours"), minute_of(end, "working_hours")
    if not days and not hours:
        return None
    return {"time_zone": time_zone, "days": list(dict.fromkeys(days)), "hours": [list(h) for h in hours],
            "overtime": []}


def with_overtime(schedule: dict, starts: float, ends: float) -> dict:
    """The schedule with one more approved period; the same schedule when it has it already."""
    period = [starts, ends]
    if period in schedule["overtime"]:
        return schedule
    return {**schedule, "overtime": [*schedule["overtime"], period]}


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule made ready for a decision at every swipe."""

    zone: ZoneInfo
    days: frozenset[int]
    hours: tuple[tuple[int, int], ...]
    overtime: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, stored_schedule: dict | None) -> Schedule | None:
        if not stored_schedule:
            return None
        return cls(zone=ZoneInfo(stored_schedule["time_zone"]),
                   days=frozenset(WEEKDAYS.index(d) for d in stored_schedule["days"]),
                   hours=tuple((minute_of(s, "hours"), minute_of(e, "hours")) for s, e in stored_schedule["hours"]),
                   overtime=tuple((float(s), float(e)) for s, e in stored_schedule["overtime"]))

    def allows(self, now: float) -> bool:
        if any(starts <= now < ends for starts, ends in self.overtime):
            return True
        local = datetime.fromtimestamp(now, self.zone)
        if self.days and local.weekday() not in self.days:
            return False
        minute = local.hour * 60 + local.minute
        return not self.hours or any(_within(minute, start, end) for start, end in self.hours)


def _within(minute: int, start: int, end: int) -> bool:
    """Whether the minute falls in [start, end); a range ending before it starts runs past midnight."""
    return start <= minute < end if start < end else minute >= start or minute < end
