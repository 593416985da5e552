"""Daily clearing and review (TKT-7, 日清日审). Plain functions over a session; no Flask.

The seeds' procedure: every day the occupants' repairs, complaints and requests are cleared and summed up,
each checked against its time limit and for anything forgotten (是否有遗漏). Here an open ticket is listed
when one of its SLA deadlines is past due (running, warned or breached, not paused) or when nothing happened
to it (no step, no comment) for the policy's number of hours, both as of the end of the site's day, or now
for the current day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.sla.clocks import site_calendar, utc
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.rules import TICKET
from services.ticketing.tickets.tables import Ticket, TicketComment
from shared import policy
from shared.paging import keyset_page
from shared.problems import Problem

FORGOTTEN_HOURS = policy.define(
    "review.forgotten_hours", 24,
    "An open ticket with no step and no comment for this many hours (1–720) is listed as forgotten in the "
    "daily review.")
# Clocks still counting or past due; a paused clock is stopped and so not overdue.
_COUNTING = ("running", "warned", "breached")


def today(session: Session, site_id: str) -> date:
    return utcnow().astimezone(site_calendar(session, site_id).zone).date()


def review(session: Session, *, organization_id: str, site_id: str, day: date, query: dict) -> dict:
    """One page of the site's overdue and forgotten open tickets as of the end of `day` (site time)."""
    zone = site_calendar(session, site_id).zone
    end_of_day = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(timezone.utc)
    as_of = min(utcnow(), end_of_day)
    hours = policy.value(session, chassis, organization_id, site_id, FORGOTTEN_HOURS)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 720:
        raise Problem(409, "Conflict", f"The setting {FORGOTTEN_HOURS.key} holds {hours!r}: a whole number of "
                                       "hours from 1 to 720 is needed; correct it under /v1/policies.")
    quiet_since = as_of - timedelta(hours=hours)
    overdue = exists().where(Deadline.ticket_id == Ticket.id, Deadline.state.in_(_COUNTING),
                             Deadline.due_at <= as_of)
    commented = exists().where(TicketComment.ticket_id == Ticket.id, TicketComment.created_at > quiet_since)
    forgotten = and_(Ticket.updated_at <= quiet_since, not_(commented))
    stmt = select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.site_id == site_id,
        Ticket.state.not_in(sorted(TICKET.final)), Ticket.created_at <= as_of, or_(overdue, forgotten))
    page = keyset_page(session, stmt, (Ticket.created_at, Ticket.id), query)
    page["items"] = _annotated(session, page["items"], as_of, quiet_since)
    return {**page, "site_id": site_id, "date": day, "time_zone": zone.key, "as_of": as_of.astimezone(zone),
            "forgotten_hours": hours}


def _annotated(session: Session, tickets: list[Ticket], as_of: datetime, quiet_since: datetime) -> list[dict]:
    """Why each is listed: its past-due stages, and when anything last happened to it."""
    ids = [ticket.id for ticket in tickets]
    stages: dict[str, list[str]] = {}
    for ticket_id, stage in session.execute(
            select(Deadline.ticket_id, Deadline.stage).where(
                Deadline.ticket_id.in_(ids), Deadline.state.in_(_COUNTING), Deadline.due_at <= as_of)
            .order_by(Deadline.due_at)):
        stages.setdefault(ticket_id, []).append(stage)
    commented = dict(session.execute(select(TicketComment.ticket_id, func.max(TicketComment.created_at))
                                     .where(TicketComment.ticket_id.in_(ids)).group_by(TicketComment.ticket_id)).all())
    items = []
    for ticket in tickets:
        last = max(filter(None, (utc(ticket.updated_at), utc(commented.get(ticket.id)))))
        items.append({"ticket": ticket, "overdue_stages": stages.get(ticket.id, []), "last_activity_at": last,
                      "forgotten": last <= quiet_since})
    return items
