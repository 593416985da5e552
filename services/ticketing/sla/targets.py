"""SLA targets (TKT-4): per ticket type (complaints per tier) and stage, as policies an organization may
override and a site may override again.

A target is a JSON object:
  {"clock": "calendar" | "reception", "minutes": N}     N minutes of that clock's time after the start;
  {"clock": …, "days": N}                              "the same day" (0) or "within N days" (calendar.end_of_day);
  {"field": "promised_reply_at"}                       an instant the ticket itself records (else the rest applies);
plus its warning point: "warn_percent" (of the target's time) or "warn_minutes_before" (of the clock's time).
A policy may hold "categories": {category code: {stage: target}}, the targets a category (a subcategory's
own, else its parent's) sets for the type; they win over the type's. An emergency ticket's clocks all count
calendar time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.ticketing.tickets.tables import Category
from shared import policy
from services.ticketing.sla.calendar import CALENDAR, CLOCKS, RECEPTION, SiteCalendar, add, between, end_of_day

INTAKE = "intake"
RESOLVED = "resolved"
# The lifecycle's order (TKT-3): a stage is met once the ticket reaches its state or one after it. A reopened
# ticket stands where a classified one does: it is dispatched again.
ORDER = ("received", "registered", "classified", "assigned", "in_progress", "resolved", "customer_informed",
         "return_visit", "closed")
RANK = {**{state: rank for rank, state in enumerate(ORDER)}, "reopened": ORDER.index("classified")}


@dataclass(frozen=True)
class Stage:
    """When a stage's clock starts (at intake, or when the work is resolved) and what meets it."""

    met_at: str
    starts: str = INTAKE
    met_by: tuple[str, ...] = ()


STAGES = {
    "dispatch": Stage(met_at="assigned"),
    "arrival_plan": Stage(met_at="in_progress", met_by=("tell_plan",)),
    "reach_supervisor": Stage(met_at="assigned", met_by=("escalate",)),
    "reach_manager": Stage(met_at="assigned", met_by=("escalate",)),
    "first_reply": Stage(met_at="customer_informed", met_by=("reply", "tell_plan")),
    "answer": Stage(met_at="customer_informed", met_by=("reply",)),
    "resolution": Stage(met_at="resolved"),
    "return_visit": Stage(met_at="return_visit", starts=RESOLVED),
}


def _minutes(clock: str, minutes: int, warn: int = 80) -> dict:
    return {"clock": clock, "minutes": minutes, "warn_percent": warn}


def _days(clock: str, days: int, warn: int = 80) -> dict:
    return {"clock": clock, "days": days, "warn_percent": warn}


_REPLY_72H = _minutes(CALENDAR, 72 * 60)
_RETURN_VISIT = _days(RECEPTION, 2)
CATEGORIES = "categories"
DEFAULTS = {
    # A leak is visited again within 3 days of the leak test (试漏) that resolves it; safety facilities and
    # everything else within 2 days.
    "repair": {"dispatch": _minutes(RECEPTION, 5, 60), "arrival_plan": _minutes(RECEPTION, 10, 60),
               "return_visit": _RETURN_VISIT, CATEGORIES: {"repair.leak": {"return_visit": _days(RECEPTION, 3)}}},
    "complaint": {"first_reply": _REPLY_72H},
    "complaint.major": {"reach_manager": _days(CALENDAR, 0), "first_reply": _REPLY_72H,
                        "answer": _days(CALENDAR, 2), "resolution": _days(CALENDAR, 10),
                        "return_visit": _RETURN_VISIT},
    "complaint.important": {"reach_supervisor": _minutes(CALENDAR, 60), "first_reply": _REPLY_72H,
                            "resolution": _days(CALENDAR, 3), "return_visit": _RETURN_VISIT},
    "complaint.minor": {"first_reply": _REPLY_72H,
                        "resolution": {"field": "requested_resolution_at", **_days(CALENDAR, 2)},
                        "return_visit": _RETURN_VISIT},
    "internal_complaint": {"first_reply": _minutes(RECEPTION, 8 * 60), "resolution": _days(RECEPTION, 3)},
    "inquiry": {"first_reply": {"field": "promised_reply_at", **_days(RECEPTION, 1)}},
    "help": {"first_reply": _minutes(RECEPTION, 60)},
    "suggestion": {"first_reply": _days(RECEPTION, 3)},
    "violation": {"resolution": _days(RECEPTION, 3)},
    "patrol_finding": {"dispatch": _minutes(RECEPTION, 60), "resolution": _days(RECEPTION, 3)},
    "rectification": {"resolution": _days(RECEPTION, 7)},
    "paid_service": {"dispatch": _minutes(RECEPTION, 30), "arrival_plan": _minutes(RECEPTION, 60)},
}
SETTINGS = {kind: policy.define(f"sla.targets.{kind}", stages, (
    f"SLA targets of {kind.replace('.', ' tickets, tier ') if '.' in kind else kind + ' tickets'}, "
    f"per stage ({', '.join(STAGES)}): "
    '{"clock": "calendar"|"reception", "minutes"|"days": N, "warn_percent"|"warn_minutes_before": N}; '
    '"field" names a time the ticket records instead; "categories": {category code: {stage: target}} '
    'wins over the type for tickets of that category or its subcategories.')) for kind, stages in DEFAULTS.items()}
ALERTS_WAIT = policy.define(
    "sla.alerts_wait_for_reception_hours", True,
    "Whether a warning or breach on a reception-hours clock outside the site's reception hours is delivered "
    "only when the centre opens (calendar-time clocks, i.e. emergencies and complaint intake, never wait).")


def kind_of(ticket) -> str:
    """The policy a ticket's targets come from: its type, and for a complaint with a tier, the tier's."""
    if ticket.type == "complaint" and ticket.tier:
        return f"complaint.{ticket.tier}"
    return ticket.type


FIELDS = ("promised_reply_at", "requested_resolution_at")
_BOUNDS = {"minutes": 366 * 24 * 60, "days": 366, "warn_percent": 100, "warn_minutes_before": 366 * 24 * 60}


def valid(target) -> bool:
    """Whether an override's target can be computed: a clock, minutes or days, a warning point in bounds.
    Overrides are JSON anyone with the role may write; a bad one must not stop intake."""
    if not isinstance(target, dict) or target.get("clock") not in CLOCKS or ("minutes" in target) == (
            "days" in target) or target.get("field", FIELDS[0]) not in FIELDS:
        return False
    return all(type(target[name]) is int and 0 <= target[name] <= bound
               for name, bound in _BOUNDS.items() if name in target)


def targets(session, tables, ticket) -> dict[str, dict]:
    """The stages that apply to the ticket with their targets in force at its site, its category's winning
    over its type's; a stage whose override is malformed keeps its default target (and is left out if it has
    none), a category's malformed target is ignored."""
    kind = kind_of(ticket)
    setting = SETTINGS.get(kind)
    if setting is None:
        return {}
    held = policy.value(session, tables, ticket.organization_id, ticket.site_id, setting)
    held = held if isinstance(held, dict) else DEFAULTS[kind]
    answer = {}
    for stage, target in held.items():
        if stage in STAGES and (valid(target) or stage in DEFAULTS[kind]):
            answer[stage] = target if valid(target) else DEFAULTS[kind][stage]
    for stage, target in _of_category(session, ticket.category_id, held.get(CATEGORIES)).items():
        if stage in STAGES and valid(target):
            answer[stage] = target
    return answer


def _of_category(session, category_id: str | None, by_category) -> dict:
    """The targets the policy sets for the ticket's category, else for its parent category."""
    if not isinstance(by_category, dict) or not by_category or category_id is None:
        return {}
    category = session.get(Category, category_id)
    while category is not None:
        if isinstance(by_category.get(category.code), dict):
            return by_category[category.code]
        category = category.parent_id and session.get(Category, category.parent_id)
    return {}


@dataclass(frozen=True)
class Due:
    clock: str
    due_at: datetime
    warn_at: datetime | None


def clock_of(target: dict, emergency: bool) -> str:
    return CALENDAR if emergency else target["clock"]


def due(calendar: SiteCalendar, target: dict, start: datetime, *, emergency: bool = False,
        recorded: datetime | None = None) -> Due:
    """When a stage started at `start` falls due and when it warns. `recorded` is the instant the ticket
    records for a "field" target (promised reply, requested deadline), which wins when given."""
    clock = clock_of(target, emergency)
    if recorded is not None:
        due_at = recorded
    elif "days" in target:
        due_at = end_of_day(calendar, clock, start, target["days"])
    else:
        due_at = add(calendar, clock, start, target["minutes"] * 60)
    span = between(calendar, clock, start, due_at)
    if "warn_minutes_before" in target:
        ahead = span - target["warn_minutes_before"] * 60
    elif "warn_percent" in target:
        ahead = span * target["warn_percent"] / 100
    else:
        return Due(clock, due_at, None)
    warn_at = add(calendar, clock, start, max(ahead, 0))
    return Due(clock, due_at, warn_at if warn_at < due_at else None)
