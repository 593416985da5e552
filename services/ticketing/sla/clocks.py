"""What the ticket lifecycle tells the SLA engine. The tickets capability calls these in the transaction of
each change; the engine decides which clocks start, pause, resume, stop or are met."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.models import chassis
from services.ticketing.sla import targets as sla
from services.ticketing.sla.calendar import DEFAULT_HOURS, SiteCalendar, add, between
from services.ticketing.sla.tables import Deadline, PolicyChangeSeen, SiteCalendarRow
from services.ticketing.tickets.tables import Ticket
from shared import bulk

PAUSED_STATES = ("waiting_parts", "waiting_occupant", "deferred_night")
# The states that end every clock still open: met if the state is what the stage waits for, else cancelled.
ENDING_STATES = ("invalid", "closed")
OPEN = ("running", "warned", "paused")
FIRING = ("running", "warned")


def utc(instant: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands DateTime(timezone=True) back naive, in UTC)."""
    if instant is None:
        return None
    return instant.replace(tzinfo=timezone.utc) if instant.tzinfo is None else instant.astimezone(timezone.utc)


def site_calendar(session: Session, site_id: str) -> SiteCalendar:
    """The site's calendar from occupants' events; X-4's defaults until its reception hours are known."""
    row = session.get(SiteCalendarRow, site_id)
    if row is None:
        return SiteCalendar.of("Asia/Shanghai")
    return SiteCalendar.of(row.time_zone, [tuple(frame) for frame in row.reception_hours] or DEFAULT_HOURS,
                           {date.fromisoformat(day): kind for day, kind in row.holiday_overrides.items()})


def on_transition(session: Session, ticket, action: str, from_state: str | None, to_state: str,
                  at: datetime, *, calendar: SiteCalendar | None = None) -> None:
    """A ticket was registered (from_state None) or took a lifecycle step; `calendar` is the site's, where
    the caller has it already."""
    at = utc(at)
    # A ticket just registered has no deadlines yet.
    rows = {} if from_state is None else _deadlines(session, ticket)
    calendar = calendar or site_calendar(session, ticket.site_id)
    if to_state in ENDING_STATES:
        for row in rows.values():
            if row.state in OPEN:
                _stop(row, at, "met" if to_state == sla.STAGES[row.stage].met_at else "cancelled")
        return
    if to_state in PAUSED_STATES:
        for row in rows.values():
            if row.state in FIRING:
                row.state, row.paused_at, row.next_fire_at, row.updated_at = "paused", at, None, at
        return
    if from_state in PAUSED_STATES:
        for row in rows.values():
            if row.state == "paused":
                _resume(calendar, row, at)
    reached = sla.RANK.get(to_state, -1)
    restarted = False
    for row in rows.values():
        stage = sla.STAGES[row.stage]
        if action == "reopen" and stage.starts == sla.RESOLVED and row.state in OPEN:
            _stop(row, at, "cancelled")  # the return visit waits for the work to be resolved again
        elif action == "reopen" and row.state == "met" and sla.RANK[stage.met_at] > reached \
                or to_state == sla.RESOLVED and stage.starts == sla.RESOLVED and row.state == "cancelled":
            _restart(row, at)
            restarted = True
    _sync(session, calendar, ticket, rows, at, reached,
          retarget=restarted or to_state in ("received", "registered", "classified"))
    for row in rows.values():
        stage = sla.STAGES[row.stage]
        if row.met_at is None and (sla.RANK[stage.met_at] <= reached or action in stage.met_by):
            if row.state in FIRING:
                _stop(row, at, "met")
            elif row.state == "breached":
                row.met_at = at  # met late: it stays counted as a breach


def recompute(session: Session, ticket) -> None:
    """The ticket's type, tier or category changed: its open deadlines follow the new targets."""
    at = datetime.now(timezone.utc)
    reached = sla.RANK.get(ticket.state, -1)
    _sync(session, site_calendar(session, ticket.site_id), ticket, _deadlines(session, ticket), at, reached,
          retarget=True)


def recompute_site(session: Session, organization_id: str, site_id: str | None) -> int:
    """After a policy change at a site (or organization-wide, site_id None): every open ticket's deadlines
    follow the targets now in force. Answers how many tickets."""
    query = select(Deadline.ticket_id).where(Deadline.organization_id == organization_id,
                                             Deadline.state.in_(OPEN)).distinct()
    if site_id:
        query = query.where(Deadline.site_id == site_id)
    ids = list(session.scalars(query))
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ids))):
        recompute(session, ticket)
    return len(ids)


def follow_policy_changes(sessions: sessionmaker) -> int:
    """The scheduled job: each SLA target policy changed since it was last seen recomputes the open tickets
    it governs, once (the changed policy rows are locked, SKIP LOCKED, until the recomputation commits)."""
    policies, seen = chassis.policies, PolicyChangeSeen.__table__
    with sessions() as session, session.begin():
        changed = session.execute(
            select(policies.c.organization_id, policies.c.site_id, policies.c.key, policies.c.updated_at)
            .select_from(policies.outerjoin(seen, and_(seen.c.organization_id == policies.c.organization_id,
                                                       seen.c.site_id == policies.c.site_id,
                                                       seen.c.key == policies.c.key)))
            .where(policies.c.key.like("sla.targets.%"),
                   or_(seen.c.updated_at.is_(None), policies.c.updated_at > seen.c.updated_at))
            .with_for_update(of=policies, skip_locked=True)).all()
        for change in changed:
            recompute_site(session, change.organization_id, change.site_id or None)
        bulk.insert(session, seen, [dict(change._mapping) for change in changed],
                    update_on=("organization_id", "site_id", "key"))
    return len(changed)


def _deadlines(session: Session, ticket) -> dict[str, Deadline]:
    rows = session.scalars(select(Deadline).where(Deadline.ticket_id == ticket.id).with_for_update())
    return {row.stage: row for row in rows}


def _sync(session: Session, calendar: SiteCalendar, ticket, rows: dict[str, Deadline], at: datetime,
          reached: int, *, retarget: bool) -> None:
    """Start the stages that apply and have begun; with `retarget`, move the open ones to the targets in
    force and cancel those that no longer apply."""
    wanted = sla.targets(session, chassis, ticket)
    for stage, row in rows.items():
        row.owner_id, row.ticket_number, row.site_id = ticket.owner_id, str(ticket.number), ticket.site_id
        if not retarget or row.state not in OPEN:
            continue
        if stage in wanted:
            _target(calendar, ticket, row, wanted[stage])
        else:
            _stop(row, at, "cancelled")
    for stage, target in wanted.items():
        begun = sla.STAGES[stage].starts == sla.INTAKE or reached >= sla.RANK[sla.RESOLVED]
        if stage in rows or not begun:
            continue
        started = utc(ticket.created_at) if sla.STAGES[stage].starts == sla.INTAKE else at
        row = Deadline(id=str(uuid.uuid4()), organization_id=ticket.organization_id, site_id=ticket.site_id,
                       ticket_id=ticket.id, ticket_number=str(ticket.number), owner_id=ticket.owner_id, stage=stage,
                       started_at=started, state="running", paused_seconds=0.0, pauses=0, updated_at=at)
        _target(calendar, ticket, row, target)
        session.add(row)
        rows[stage] = row


def _target(calendar: SiteCalendar, ticket, row: Deadline, target: dict) -> None:
    """Due and warning instants from the start, pushed on by the working time spent paused so far."""
    field = target.get("field")
    due = sla.due(calendar, target, utc(row.started_at), emergency=bool(ticket.emergency),
                  recorded=utc(getattr(ticket, field, None)) if field else None)
    row.clock = due.clock
    row.due_at = add(calendar, due.clock, due.due_at, row.paused_seconds)
    row.warn_at = due.warn_at and add(calendar, due.clock, due.warn_at, row.paused_seconds)
    _arm(row)


def _arm(row: Deadline) -> None:
    """The next instant the firing job must look at the row."""
    if row.state == "running" and row.warn_at is not None and row.warned_at is None:
        row.next_fire_at = row.warn_at
    elif row.state in FIRING:
        row.next_fire_at = row.due_at
    else:
        row.next_fire_at = None


def _resume(calendar: SiteCalendar, row: Deadline, at: datetime) -> None:
    """The due and warning instants move on by exactly the working time the ticket spent paused."""
    paused = between(calendar, row.clock, utc(row.paused_at), at)
    row.paused_seconds += paused
    row.pauses += 1
    row.due_at = add(calendar, row.clock, utc(row.due_at), paused)
    if row.warn_at is not None:
        row.warn_at = add(calendar, row.clock, utc(row.warn_at), paused)
    row.state, row.paused_at, row.updated_at = ("warned" if row.warned_at else "running"), None, at
    _arm(row)


def _restart(row: Deadline, at: datetime) -> None:
    """The stage begins again from `at` (a reopened ticket, a return visit after the work is redone)."""
    row.state, row.started_at, row.paused_seconds, row.updated_at = "running", at, 0.0, at
    row.warned_at = row.breached_at = row.met_at = row.paused_at = None


def _stop(row: Deadline, at: datetime, state: str) -> None:
    row.state, row.next_fire_at, row.updated_at = state, None, at
    if state == "met":
        row.met_at = at
