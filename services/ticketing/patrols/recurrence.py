"""Patrol schedules as RFC 5545 recurrence rules, in the subset the seeds' patrols need.

python-dateutil is not among the pinned dependencies, so the forms are parsed here: FREQ=DAILY or WEEKLY,
INTERVAL, BYDAY (weekly), BYHOUR and BYMINUTE (a supervisor's two or three rounds a day) and COUNT is not
taken (a plan ends at its end date). Occurrences fall on the site's local clock, so a 08:00 round stays at
08:00 whatever the UTC offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.problems import Problem

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE")


@dataclass(frozen=True)
class Rule:
    freq: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()


def parse(text: str, field: str = "rrule") -> Rule | None:
    """The rule, or None for a one-off patrol (empty text); 422 naming `field` for anything else."""
    text = text.strip().removeprefix("RRULE:")
    if not text:
        return None
    parts = {}
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name not in _PARTS or not value or name in parts:
            raise _bad(field, f"{part!r} is not understood; use {', '.join(_PARTS)} once each.")
        parts[name] = value
    if parts.get("FREQ") not in ("DAILY", "WEEKLY"):
        raise _bad(field, "FREQ=DAILY or FREQ=WEEKLY.")
    if "BYDAY" in parts and parts["FREQ"] != "WEEKLY":
        raise _bad(field, "BYDAY goes with FREQ=WEEKLY.")
    try:
        days = tuple(sorted({WEEKDAYS.index(day) for day in parts["BYDAY"].split(",")})) if "BYDAY" in parts else ()
        return Rule(parts["FREQ"], _number(parts.get("INTERVAL", "1"), 1, 366), days,
                    _numbers(parts.get("BYHOUR"), 0, 23), _numbers(parts.get("BYMINUTE"), 0, 59))
    except ValueError:
        raise _bad(field, "INTERVAL 1–366, BYDAY of MO…SU, BYHOUR 0–23 and BYMINUTE 0–59, comma-separated.") from None


def occurrences(rule: Rule | None, starts_at: datetime, zone: ZoneInfo, after: datetime, until: datetime,
                ends_at: datetime | None = None) -> list[datetime]:
    """The rule's moments in (after, until], none before `starts_at` nor after `ends_at`, as aware datetimes."""
    last = min(until, ends_at) if ends_at is not None else until
    if rule is None:
        return [starts_at] if after < starts_at <= last else []
    start = starts_at.astimezone(zone)
    times = sorted({time(h, m) for h in rule.hours or (start.hour,) for m in rule.minutes or (start.minute,)})
    weekdays = rule.weekdays or (start.weekday(),)
    day = max(start.date(), after.astimezone(zone).date())
    found = []
    while day <= last.astimezone(zone).date():
        if _on(rule, start.date(), day, weekdays):
            for moment in (datetime.combine(day, at, zone) for at in times):
                if starts_at <= moment and after < moment <= last:
                    found.append(moment)
        day += timedelta(days=1)
    return found


def _on(rule: Rule, first, day, weekdays) -> bool:
    if rule.freq == "DAILY":
        return (day - first).days % rule.interval == 0
    weeks = ((day - timedelta(days=day.weekday())) - (first - timedelta(days=first.weekday()))).days // 7
    return day.weekday() in weekdays and weeks % rule.interval == 0


def _number(value: str, low: int, high: int) -> int:
    number = int(value)
    if not low <= number <= high:
        raise ValueError(value)
    return number


def _numbers(value: str | None, low: int, high: int) -> tuple[int, ...]:
    return tuple(sorted({_number(item, low, high) for item in value.split(",")})) if value else ()


def _bad(field: str, why: str) -> Problem:
    return Problem(422, "Unprocessable Content", f"The recurrence rule: {why}", field=field)
