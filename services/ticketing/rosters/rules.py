"""Night duty and deferral (TKT-5). Plain functions over a session; no Flask.

The seeds' procedure: what the night shift cannot handle and is no emergency waits in the night duty log;
at the morning handover the customer-service clerk on duty turns each entry into a work order and tells the
departments (夜班期间不能及时处理的…非应急情况…次日交接班时…填写相应维修工作单). Here the waiting is the
tickets' `deferred_night` pause, which stops the SLA clocks, and the conversion resumes every deferred
ticket of the site in one step.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.rosters import events
from services.ticketing.rosters.tables import DutyAssignment
from services.ticketing.sla.clocks import site_calendar, utc
from services.ticketing.tickets import rules as tickets
from services.ticketing.tickets.tables import Ticket
from shared import audit, policy
from shared.bus import outbox
from shared.problems import Problem

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
    hours = policy.value(session, chassis, ticket.organization_id, ticket.site_id, NIGHT_HOURS)
    if not (isinstance(hours, list) and len(hours) == 2
            and all(isinstance(hhmm, str) and _HHMM.match(hhmm) for hhmm in hours)):
        raise Problem(409, "Conflict", f"The setting {NIGHT_HOURS.key} holds {hours!r}: [from, to] as \"HH:MM\" is "
                                       "needed; correct it under /v1/policies.")
    starts, ends = (int(hhmm[:2]) * 60 + int(hhmm[3:]) for hhmm in hours)
    # A night runs over midnight: from the evening to the morning.
    return starts <= minute < ends if starts < ends else minute >= starts or minute < ends


def _audit(session: Session, duty: DutyAssignment, action: str, actor: str) -> None:
    audit.record_for(session, chassis.audit_log, duty, entity="duty_assignment", action=action, actor=actor,
                     data={"day": duty.day.isoformat(), "shift": duty.shift, "user_id": duty.user_id})
