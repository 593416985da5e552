"""The firing job: warnings and breaches as they fall due, each once, escalated one level up the chain.

The job claims due rows through the index on `next_fire_at` with one UPDATE … RETURNING whose inner SELECT
locks with SKIP LOCKED, and records the events in the same transaction: a second worker skips what the
first holds, and a worker that dies before committing leaves the rows to fire on the next run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from prometheus_client import Counter, Gauge
from psp.ticketing.v1.sla_pb2 import SlaRecipient, TicketSlaBreached, TicketSlaWarning
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.models import chassis
from services.ticketing.rosters.rules import Presence, presence
from services.ticketing.sla import targets
from services.ticketing.sla.calendar import RECEPTION, next_open
from services.ticketing.sla.clocks import FIRING, site_calendar, utc
from services.ticketing.sla.tables import Deadline, StaffMember
from services.ticketing.tickets.tables import Ticket
from shared import policy
from shared.bus import outbox
from shared.roles import CS_SPECIALIST, CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER

SERVICE = "ticketing"
CHAIN = (CS_SPECIALIST, CS_SUPERVISOR, SITE_MANAGER, PROPERTY_MANAGER, GENERAL_MANAGER)
BATCH = 2000

SLA_WARNINGS = Counter("ticket_sla_warnings_total", "SLA warnings fired, by stage.", ["service", "stage"])
SLA_BREACHES = Counter("ticket_sla_breaches_total", "SLA breaches fired, by stage.", ["service", "stage"])
SLA_DUE_PENDING = Gauge("ticket_sla_due_pending", "Warnings and breaches due but not fired yet.", ["service"],
                        multiprocess_mode="max")
SLA_OLDEST_OVERDUE = Gauge("ticket_sla_oldest_overdue_seconds",
                           "How long the oldest warning or breach not fired yet has been due, 0 when none.",
                           ["service"], multiprocess_mode="max")


def fire_due(sessions: sessionmaker) -> int:
    """Fire every warning and breach due now, a batch per transaction; answers how many fired."""
    fired = 0
    while True:
        with sessions() as session, session.begin():
            count = fire_batch(session, datetime.now(timezone.utc))
        fired += count
        if count < BATCH:
            return fired


def fire_batch(session: Session, now: datetime, limit: int = BATCH) -> int:
    """Fire up to `limit` warnings and breaches due at `now`; answers how many fired."""
    now, table = now.astimezone(timezone.utc), Deadline.__table__
    due = (select(table.c.id).where(table.c.next_fire_at <= now, table.c.state.in_(FIRING))
           .order_by(table.c.next_fire_at).limit(limit).with_for_update(skip_locked=True))
    breached = table.c.due_at <= now
    rows = session.execute(
        update(table).where(table.c.id.in_(due.scalar_subquery()), table.c.next_fire_at <= now,
                            table.c.state.in_(FIRING))
        .values(state=case((breached, "breached"), else_="warned"),
                breached_at=case((breached, now), else_=table.c.breached_at),
                warned_at=case((breached, table.c.warned_at), else_=now),
                next_fire_at=case((breached, None), else_=table.c.due_at), updated_at=now)
        .returning(table.c.organization_id, table.c.site_id, table.c.ticket_id, table.c.ticket_number,
                   table.c.owner_id, table.c.stage, table.c.clock, table.c.due_at, table.c.state)).all()
    if not rows:
        return 0
    alerts = _Alerts(session, now, rows)
    payloads = defaultdict(list)
    for row in rows:
        payloads[row.organization_id].append(alerts.event(row))
        (SLA_BREACHES if row.state == "breached" else SLA_WARNINGS).labels(SERVICE, row.stage).inc()
    for organization_id, events in payloads.items():
        outbox.record_many(session, chassis.outbox, events, organization_id=organization_id)
    return len(rows)


class _Alerts:
    """Builds the events of one batch, reading each organization's staff, each site's calendar, policy and
    roster, and the tickets' owners once. The owner is the ticket's current one (a hand-over tells the clocks nothing);
    the deadline's copy serves for a ticket no longer there."""

    def __init__(self, session: Session, now: datetime, rows):
        self.session, self.now = session, now
        self.staff = defaultdict(list)
        organizations = {row.organization_id for row in rows}
        for member in session.scalars(select(StaffMember).where(StaffMember.organization_id.in_(organizations))):
            self.staff[member.organization_id].append(member)
        self.owners = dict(session.execute(select(Ticket.id, Ticket.owner_id).where(
            Ticket.id.in_({row.ticket_id for row in rows}))).all())
        self.deliver_after: dict[tuple[str, str], datetime] = {}
        sites = defaultdict(set)
        for row in rows:
            sites[row.organization_id].add(row.site_id)
        self.presence = {(organization_id, site_id): at_site
                         for organization_id, site_ids in sites.items()
                         for site_id, at_site in presence(session, organization_id, site_ids, now).items()}

    def event(self, row):
        kind = TicketSlaBreached if row.state == "breached" else TicketSlaWarning
        message = kind(ticket_id=row.ticket_id, ticket_number=row.ticket_number, site_id=row.site_id,
                       stage=row.stage, clock=row.clock,
                       recipients=escalation(self.staff[row.organization_id], row.site_id,
                                             self.owners.get(row.ticket_id, row.owner_id),
                                             self.presence[row.organization_id, row.site_id]))
        message.due_at.FromDatetime(utc(row.due_at))
        message.deliver_after.FromDatetime(self._deliver_after(row))
        return message

    def _deliver_after(self, row) -> datetime:
        """A reception-hours stage's alert outside the site's hours waits for the opening, if the policy says so."""
        if row.clock != RECEPTION:
            return self.now
        key = (row.organization_id, row.site_id)
        if key not in self.deliver_after:
            wait = policy.value(self.session, chassis, row.organization_id, row.site_id, targets.ALERTS_WAIT)
            self.deliver_after[key] = (next_open(site_calendar(self.session, row.site_id), self.now)
                                       if wait is True else self.now)
        return self.deliver_after[key]


def escalation(staff: list[StaffMember], site_id: str, owner_id: str | None,
               roster: Presence = Presence()) -> list[SlaRecipient]:
    """The owner, then the first level above the owner's with anyone active, reachable and not away at the
    site (越级上报: a level with nobody there is skipped): those of its members the roster puts on the shift
    in force, or all of them when it puts none of them on it. An owner holding no chain role counts as a
    specialist."""
    owner = next((member for member in staff if member.user_id == owner_id), None)
    level = max((CHAIN.index(role) for role in owner.roles_at(site_id) if role in CHAIN), default=0) if owner else 0
    recipients = [SlaRecipient(member_id=owner.member_id if owner else "", user_id=owner_id, role="owner")] \
        if owner_id else []
    for role in CHAIN[level + 1:]:
        above = [member for member in staff if member.active and member.reachable and role in member.roles_at(site_id)
                 and member.user_id != owner_id and member.user_id not in roster.absent]
        on_duty = [member for member in above if member.user_id in roster.on_duty]
        if above:
            recipients += [SlaRecipient(member_id=m.member_id, user_id=m.user_id, role=role)
                           for m in sorted(on_duty or above, key=lambda m: m.member_id)]
            break
    return recipients


def observe_backlog(sessions: sessionmaker) -> None:
    """Warnings and breaches due but not fired: how many, and how late the oldest is."""
    now = datetime.now(timezone.utc)
    with sessions() as session:
        count, oldest = session.execute(select(func.count(), func.min(Deadline.next_fire_at)).where(
            Deadline.next_fire_at <= now)).one()
    SLA_DUE_PENDING.labels(SERVICE).set(count)
    SLA_OLDEST_OVERDUE.labels(SERVICE).set((now - utc(oldest)).total_seconds() if oldest else 0)
