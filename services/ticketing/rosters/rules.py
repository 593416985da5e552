"""Night duty and deferral (TKT-5). Plain functions over a session; no Flask.

The seeds' procedure: what the night shift cannot handle and is no emergency waits in the night duty log;
at the morning handover the customer-service clerk on duty turns each entry into a work order and tells the
departments (夜班期间不能及时处理的…非应急情况…次日交接班时…填写相应维修工作单). Here the waiting is the
tickets' `deferred_night` pause, which stops the SLA clocks, and the conversion resumes every deferred
ticket of the site in one step.

The roster also says who is on duty at an instant and who is away, so an SLA alert reaches a supervisor who
is there (越级上报 skips one who is not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.rosters import events
from services.ticketing.rosters.tables import Absence, DutyAssignment
from services.ticketing.sla.clocks import site_calendar, utc
from services.ticketing.tickets import rules as tickets
from services.ticketing.tickets.tables import Ticket
from shared import audit, policy
from shared.bus import outbox
from shared.db import aware
from shared.problems import Problem, unprocessable

SHIFTS = ("day", "night")
NIGHT_HOURS = policy.define(
    "rosters.night_hours", ["18:00", "08:30"],
    "The night shift at the site, in its local time: [from, to] as \"HH:MM\". A non-emergency received in it "
    "may wait for the morning handover.")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def assign(session: Session, *, organization_id: str, site_id: str, actor: str, day, shift: str,
           user_id: str) -> DutyAssignment:
    duty = DutyAssignment(organization_id=organization_id, site_id=site_id, day=day, shift=shift, user_id=user_id,
                          assigned_by=actor, assigned_at=utcnow())
    try:
        with session.begin_nested():
            session.add(duty)
    except IntegrityError:
        raise Problem(409, "Conflict", f"{user_id} is on that shift already.", field="user_id") from None
    _audit(session, duty, "assign", actor)
    outbox.record(session, chassis.outbox, events.assigned(duty), organization_id=organization_id)
    return duty


def withdraw(session: Session, duty: DutyAssignment, *, actor: str) -> None:
    _audit(session, duty, "withdraw", actor)
    outbox.record(session, chassis.outbox, events.withdrawn(duty, actor), organization_id=duty.organization_id)
    session.delete(duty)


def record_absence(session: Session, *, organization_id: str, site_id: str, actor: str, user_id: str,
                   starts_at: datetime, ends_at: datetime, reason: str) -> Absence:
    starts_at, ends_at = aware(starts_at).astimezone(timezone.utc), aware(ends_at).astimezone(timezone.utc)
    if ends_at <= starts_at:
        raise unprocessable("ends_at", "An absence ends after it starts.")
    absence = Absence(organization_id=organization_id, site_id=site_id, user_id=user_id, starts_at=starts_at,
                      ends_at=ends_at, reason=reason, recorded_by=actor, recorded_at=utcnow())
    session.add(absence)
    session.flush()
    _audit_absence(session, absence, "record", actor)
    return absence


def cancel_absence(session: Session, absence: Absence, *, actor: str) -> None:
    _audit_absence(session, absence, "cancel", actor)
    session.delete(absence)


@dataclass(frozen=True)
class Presence:
    """Who the roster puts on the shift in force at a site, and who is away there, at one instant."""

    on_duty: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()


def presence(session: Session, organization_id: str, site_ids, at: datetime) -> dict[str, Presence]:
    """Each site's Presence at the instant, with one query for the duties and one for the absences."""
    at, site_ids = utc(at), set(site_ids)
    shifts = {site_id: shift_at(session, organization_id, site_id, at) for site_id in site_ids}
    on_duty, absent = {site_id: set() for site_id in site_ids}, {site_id: set() for site_id in site_ids}
    for site_id, day, shift, user_id in session.execute(select(
            DutyAssignment.site_id, DutyAssignment.day, DutyAssignment.shift, DutyAssignment.user_id).where(
            DutyAssignment.organization_id == organization_id, DutyAssignment.site_id.in_(site_ids),
            DutyAssignment.day.in_({day for day, _ in shifts.values()}))):
        if shifts[site_id] == (day, shift):
            on_duty[site_id].add(user_id)
    for site_id, user_id in session.execute(select(Absence.site_id, Absence.user_id).where(
            Absence.organization_id == organization_id, Absence.site_id.in_(site_ids), Absence.ends_at > at,
            Absence.starts_at <= at)):
        absent[site_id].add(user_id)
    return {site_id: Presence(frozenset(on_duty[site_id]), frozenset(absent[site_id])) for site_id in site_ids}


def shift_at(session: Session, organization_id: str, site_id: str, at: datetime) -> tuple[date, str]:
    """The roster's day and shift an instant falls in at the site. The hours of a night after midnight
    belong to the night of the day before; a malformed night setting counts as its default here, since an
    alert must go out all the same."""
    local = utc(at).astimezone(site_calendar(session, site_id).zone)
    night = _night(session, organization_id, site_id) or _night_of(NIGHT_HOURS.default)
    minute = local.hour * 60 + local.minute
    if not _within(night, minute):
        return local.date(), "day"
    return (local.date() - timedelta(days=1) if minute < night[0] else local.date()), "night"


def defer(session: Session, ticket: Ticket, *, actor: str, roles, reason: str) -> None:
    """A non-emergency received at night waits for the morning; an emergency is handled at once, and what
    came in during the day shift is the day shift's to handle."""
    if ticket.emergency:
        raise Problem(422, "Unprocessable Content", "An emergency is handled at once, never deferred.",
                      field="ticket_id")
    received = utc(ticket.created_at).astimezone(site_calendar(session, ticket.site_id).zone)
    if not _at_night(session, ticket, received.hour * 60 + received.minute):
        raise Problem(409, "Conflict", f"Received at {received:%H:%M}, outside the night shift "
                                       f"({NIGHT_HOURS.key}): it is handled, not deferred.", field="ticket_id")
    tickets.take(session, ticket, actor=actor, roles=roles, action="defer", reason=reason)


def convert_deferred(session: Session, *, organization_id: str, site_id: str, actor: str, roles) -> list[Ticket]:
    """The morning handover: every ticket deferred at the site becomes a work order again, each through the
    tickets' own `resume` step (audited, published, clocks resumed), all in the caller's transaction."""
    deferred = session.scalars(select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.site_id == site_id, Ticket.state == "deferred_night")
        .order_by(Ticket.created_at, Ticket.id)).all()
    for ticket in deferred:
        tickets.take(session, ticket, actor=actor, roles=roles, action="resume")
    return deferred


def _at_night(session: Session, ticket: Ticket, minute: int) -> bool:
    night = _night(session, ticket.organization_id, ticket.site_id)
    if night is None:
        hours = policy.value(session, chassis, ticket.organization_id, ticket.site_id, NIGHT_HOURS)
        raise Problem(409, "Conflict", f"The setting {NIGHT_HOURS.key} holds {hours!r}: [from, to] as \"HH:MM\" is "
                                       "needed; correct it under /v1/policies.")
    return _within(night, minute)


def _night(session: Session, organization_id: str, site_id: str) -> tuple[int, int] | None:
    """The night shift at the site as minutes of the local day, [from, to); None if the setting is malformed."""
    hours = policy.value(session, chassis, organization_id, site_id, NIGHT_HOURS)
    if not (isinstance(hours, list) and len(hours) == 2
            and all(isinstance(hhmm, str) and _HHMM.match(hhmm) for hhmm in hours)):
        return None
    return _night_of(hours)


def _night_of(hours: list[str]) -> tuple[int, int]:
    starts, ends = (int(hhmm[:2]) * 60 + int(hhmm[3:]) for hhmm in hours)
    return starts, ends


def _within(night: tuple[int, int], minute: int) -> bool:
    starts, ends = night
    # A night runs over midnight: from the evening to the morning.
    return starts <= minute < ends if starts < ends else minute >= starts or minute < ends


def _audit(session: Session, duty: DutyAssignment, action: str, actor: str) -> None:
    audit.record_for(session, chassis.audit_log, duty, entity="duty_assignment", action=action, actor=actor,
                     data={"day": duty.day.isoformat(), "shift": duty.shift, "user_id": duty.user_id})


def _audit_absence(session: Session, absence: Absence, action: str, actor: str) -> None:
    audit.record_for(session, chassis.audit_log, absence, entity="staff_absence", action=action, actor=actor,
                     data={"user_id": absence.user_id, "starts_at": utc(absence.starts_at).isoformat(),
                           "ends_at": utc(absence.ends_at).isoformat()})
