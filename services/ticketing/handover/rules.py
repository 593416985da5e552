"""Shift handover (TKT-6, 交接班). Plain functions over a session; no Flask.

The seeds' procedure: what a shift leaves unfinished is written into the handover record (交接班记录), and
repairs, complaints and major matters always in writing; the next shift follows them up. Here the record
lists the site's open items from the tickets table when it is written, and the incoming shift acknowledges
it: someone other than its writer, once.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing.handover import events
from services.ticketing.handover.tables import Handover
from services.ticketing.models import chassis, utcnow
from services.ticketing.tickets.rules import TICKET
from services.ticketing.tickets.tables import Ticket
from shared import audit
from shared.bus import outbox
from shared.problems import Problem
from shared.roles import CUSTOMER_SERVICE
from shared.workflow import Step, Workflow

HANDOVER = Workflow("handover", "written", [
    Step("written", "acknowledge", "acknowledged", roles=CUSTOMER_SERVICE),
], final=("acknowledged",))
# What must be handed over in writing: repairs, complaints and major matters (an emergency, a major complaint).
HANDED_OVER_TYPES = ("repair", "complaint", "internal_complaint")


def open_items(session: Session, organization_id: str, site_id: str) -> list[dict]:
    rows = session.scalars(select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.site_id == site_id,
        Ticket.state.not_in(sorted(TICKET.final)),
        or_(Ticket.type.in_(HANDED_OVER_TYPES), Ticket.emergency.is_(True), Ticket.tier == "major"))
        .order_by(Ticket.created_at, Ticket.id))
    return [{"ticket_id": t.id, "number": t.number, "type": t.type, "tier": t.tier, "emergency": t.emergency,
             "state": t.state, "subject": t.subject} for t in rows]


def write(session: Session, *, organization_id: str, site_id: str, actor: str, day, shift: str,
          notes: str) -> Handover:
    record = Handover(organization_id=organization_id, site_id=site_id, day=day, shift=shift,
                      state=HANDOVER.initial, notes=notes, items=open_items(session, organization_id, site_id),
                      written_by=actor, written_at=utcnow())
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        raise Problem(409, "Conflict", "That shift's handover is written already.", field="shift") from None
    _audit(session, record, "write", actor, None, record.state)
    outbox.record(session, chassis.outbox, events.written(record), organization_id=organization_id)
    return record


def acknowledge(session: Session, record: Handover, *, actor: str, roles) -> None:
    """The incoming shift signs for what it takes over; the writer cannot sign for the next shift."""
    step = HANDOVER.step(record.state, "acknowledge", roles)
    if actor == record.written_by:
        raise Problem(409, "Conflict", "The incoming shift acknowledges, not the one who wrote the handover.",
                      field="action")
    at = utcnow()
    # Only from the state it was read in: of two acknowledgements at once, the second answers 409.
    moved = session.execute(update(Handover).where(Handover.id == record.id, Handover.state == step.source)
                            .values(state=step.target, acknowledged_by=actor, acknowledged_at=at)
                            .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The handover was acknowledged meanwhile.", field="action")
    record.state, record.acknowledged_by, record.acknowledged_at = step.target, actor, at
    _audit(session, record, step.action, actor, step.source, step.target)
    outbox.record(session, chassis.outbox, events.acknowledged(record), organization_id=record.organization_id)


def _audit(session: Session, record: Handover, action: str, actor: str, from_state, to_state) -> None:
    audit.record_for(session, chassis.audit_log, record, entity="handover", action=action, actor=actor,
                     from_state=from_state, to_state=to_state,
                     data={"day": record.day.isoformat(), "shift": record.shift, "items": len(record.items)})
