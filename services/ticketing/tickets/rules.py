"""Rules for tickets (TKT-1 … TKT-3). Plain functions over a session; no Flask.

The seeds' procedure: every request, whatever way it comes in, is registered centrally (统一登记) with one
number; the staff member who first receives it owns the contact with the customer until it is closed
(首问责任制), whichever department does the work; staff outside customer service only record and pass it on
to customer service. The result is told to the complainant, a return visit asks whether they are satisfied,
and only then is the matter closed; an unfounded complaint (无效投诉) is explained and closed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, new_id, utcnow
from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.sla import clocks
from services.ticketing.tickets import categories, events, metrics
from services.ticketing.tickets.tables import Ticket, TicketAttachment, TicketComment, TicketCounter
from shared import audit, policy
from shared.bus.outbox import record
from shared.db import aware
from shared.files import FileStore
from shared.problems import Problem, unprocessable
from shared.roles import CUSTOMER_SERVICE
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)

TYPES = ("repair", "complaint", "inquiry", "help", "suggestion", "violation", "patrol_finding",
         "internal_complaint", "rectification", "paid_service")
TIERS = ("major", "important", "minor")
CHANNELS = ("phone", "walk_in", "letter", "fax", "email", "app", "contact_box", "patrol", "staff",
            "access_control")
LOCATIONS = ("in_unit", "public_area")
ACCEPTANCES = ("signature", "confirmation")
VISIBILITIES = ("internal", "occupant")

# Steps that change no state but are on record, and meet an SLA stage: a clear answer to the complainant
# (reply), the arrival plan told to the reporter (tell_plan), the matter brought to the supervisor or the site
# manager (escalate). Not from a paused state: the clock stays stopped there.
RECORDED = ("reply", "tell_plan", "escalate")
_ACTIVE = ("registered", "classified", "assigned", "in_progress", "reopened")

TICKET = Workflow("ticket", "received", [
    # Recorded by staff outside customer service: customer service enters it in the register.
    Step("received", "register", "registered", roles=CS),
    Step("registered", "classify", "classified", roles=CS),
    # An unfounded complaint (无效投诉): explained to the occupant and closed.
    Step("registered", "declare_invalid", "invalid", roles=CS),
    Step("classified", "declare_invalid", "invalid", roles=CS),
    Step("classified", "dispatch", "assigned", roles=CS),
    Step("reopened", "dispatch", "assigned", roles=CS),
    Step("assigned", "start", "in_progress"),
    # At night a non-emergency waits for the morning handover, which makes it a work order again.
    Step("assigned", "defer", "deferred_night"),
    Step("deferred_night", "resume", "assigned"),
    Step("in_progress", "pause_for_parts", "waiting_parts"),
    Step("waiting_parts", "resume", "in_progress"),
    Step("in_progress", "wait_for_occupant", "waiting_occupant"),
    Step("waiting_occupant", "resume", "in_progress"),
    Step("in_progress", "resolve", "resolved"),
    Step("resolved", "inform", "customer_informed", roles=CS),
    Step("customer_informed", "visit", "return_visit", roles=CS),
    Step("return_visit", "reopen", "reopened", roles=CS),
    # Closing: after the return visit, or without one where none is due, the occupant cannot be reached or
    # the complaint was anonymous (the rules say which needs what).
    Step("return_visit", "close", "closed", roles=CS),
    Step("customer_informed", "close", "closed", roles=CS),
    Step("resolved", "close", "closed", roles=CS),
    *(Step(state, action, state, roles=CS) for action in RECORDED for state in _ACTIVE),
], final=("closed", "invalid"))
metrics.start_at_zero(TYPES, TICKET.final)

# Types with fields of their own (TKT-1): a ticket changes type only among the others.
OWN_FIELDS = ("repair", "inquiry", "internal_complaint")
# Steps /transitions takes; classifying and closing have their own endpoints and fields.
PLAIN_ACTIONS = tuple(a for a in TICKET.actions if a not in ("classify", "close"))
NEEDS_REASON = ("declare_invalid", "reopen", "defer")

# The owner of a request another service raised, until a person registers it and so owns it.
PLATFORM = "platform"
_FROM_EVENTS = uuid.UUID("0c6f3b7e-2a41-4d8e-9b55-1f0e6c3a9d27")

NUMBER_PREFIX = policy.define(
    "tickets.number_prefix", "T",
    "Prefix of the site's register numbers (e.g. the site code: HG-2026-000123); 1–10 capital letters or digits. "
    "A year's register keeps the prefix it opened with.")
_PREFIX = re.compile(r"^[A-Z0-9]{1,10}$")


# -- intake ------------------------------------------------------------------------------------------------


# Intake's statements, built once: building one costs as much CPU as running it. Plain Core on the tables, so
# they skip the ORM's compile and result stages.
_units, _reporters, _counters = Unit.__table__, Reporter.__table__, TicketCounter.__table__
# Whether the unit is at the site and the reporter is known, in one round trip.
_KNOWN = select(
    exists().where(_units.c.unit_id == bindparam("unit_id"), _units.c.site_id == bindparam("site_id"),
                   _units.c.organization_id == bindparam("organization_id")),
    exists().where(_reporters.c.person_id == bindparam("reporter_id"),
                   _reporters.c.organization_id == bindparam("organization_id")))
_TAKE_NUMBER = (update(_counters)
                .where(_counters.c.site_id == bindparam("site"), _counters.c.year == bindparam("in_year"))
                .values(last=_counters.c.last + 1).returning(_counters.c.prefix, _counters.c.last))


def register(session: Session, *, organization_id: str, site_id: str, actor: str, roles, type: str,
             channel: str, subject: str, description: str = "", reporter_id: str | None = None,
             contact_name: str = "", contact_phone: str = "", unit_id: str | None = None,
             category_id: str | None = None, tier: str | None = None, emergency: bool = False,
             anonymous: bool = False, location: str | None = None, place: str = "",
             about_department: str | None = None, source_reference: str = "",
             promised_reply_at: datetime | None = None, requested_resolution_at: datetime | None = None) -> Ticket:
    """A request, entered by the staff member who received it, who owns the contact with the customer until
    closure. Customer service registers it at once; anyone else records it for customer service."""
    now = utcnow()
    _check_type_fields(type, tier=tier, emergency=emergency, anonymous=anonymous, location=location,
                       about_department=about_department, promised_reply_at=promised_reply_at, now=now)
    if requested_resolution_at is not None and aware(requested_resolution_at) <= now:
        raise unprocessable("requested_resolution_at", "The deadline asked for must be in the future.")
    if unit_id is not None or reporter_id is not None:
        unit_known, reporter_known = session.execute(_KNOWN, {
            "unit_id": unit_id, "reporter_id": reporter_id, "organization_id": organization_id, "site_id": site_id,
        }).one()
        if unit_id is not None and not unit_known:
            raise unprocessable("unit_id", "No such unit at this site.")
        if reporter_id is not None and not reporter_known:
            raise unprocessable("reporter_id", "No such person.")
    category = categories.usable(session, organization_id, category_id) if category_id is not None else None
    in_cs = bool(CS.intersection(roles or ()))
    state = "registered" if in_cs else "received"
    department = category.department if category is not None and in_cs else categories.CUSTOMER_SERVICE
    ticket = Ticket(
        organization_id=organization_id, site_id=site_id, type=type, tier=tier, emergency=emergency, state=state,
        channel=channel, category_id=category_id, department=department, owner_id=actor, reporter_id=reporter_id,
        contact_name=contact_name, contact_phone=contact_phone, anonymous=anonymous, unit_id=unit_id,
        location=location, place=place, about_department=about_department, source_reference=source_reference,
        subject=subject, description=description, promised_reply_at=promised_reply_at,
        requested_resolution_at=requested_resolution_at)
    return _enter(session, ticket, "register" if in_cs else "receive", actor, now)


def receive_rectification(session: Session, organization_id: str, request) -> Ticket | None:
    """A defect occupants found at a move-in inspection (rectification.requested.v1) becomes one
    rectification ticket, received for customer service; whoever registers it owns it. Its id follows from
    the defect's, so a request delivered twice opens one ticket."""
    ticket_id = str(uuid.uuid5(_FROM_EVENTS, f"rectification/{request.rectification_id}"))
    if session.get(Ticket, ticket_id) is not None:
        return None
    due = request.due_at.ToDatetime(timezone.utc) if request.HasField("due_at") else None
    ticket = Ticket(
        id=ticket_id, organization_id=organization_id, site_id=request.site_id, type="rectification", tier=None,
        emergency=False, state="received", channel="staff", category_id=None,
        department=categories.CUSTOMER_SERVICE, owner_id=PLATFORM, reporter_id=request.person_id or None,
        unit_id=request.unit_id or None, place=request.location[:200],
        source_reference=f"{request.purpose}:{request.reference_id}"[:100],
        subject=f"整改 Rectification: {request.location}"[:200], description=request.description,
        requested_resolution_at=due)
    return _enter(session, ticket, "receive", PLATFORM, utcnow())


def _enter(session: Session, ticket: Ticket, action: str, actor: str, now: datetime) -> Ticket:
    """Into the register: its number, the audit row, ticket.registered.v1 and the SLA clocks, in the caller's
    transaction."""
    calendar = clocks.site_calendar(session, ticket.site_id)
    ticket.number = _next_number(session, ticket.organization_id, ticket.site_id, now.astimezone(calendar.zone).year)
    ticket.created_at = ticket.updated_at = now
    session.add(ticket)
    session.flush()
    _audit(session, ticket, action, actor, to_state=ticket.state,
           data={"number": ticket.number, "channel": ticket.channel})
    _publish(session, ticket, events.registered(ticket))
    clocks.on_transition(session, ticket, action, None, ticket.state, now, calendar=calendar)
    metrics.opened(session, ticket.type)
    return ticket


def _check_type_fields(type: str, *, tier, emergency, anonymous, location, about_department, promised_reply_at,
                       now) -> None:
    """What each type of request must, and must not, carry (TKT-1)."""
    if tier is not None and type != "complaint":
        raise unprocessable("tier", "Only a complaint has a tier.")
    if emergency and type != "repair":
        raise unprocessable("emergency", "Only a repair is an emergency; an emergency incident is a repair.")
    if anonymous and type != "complaint":
        raise unprocessable("anonymous", "Only a complaint may be anonymous.")
    if (location is None) == (type == "repair"):
        raise unprocessable("location", "A repair says whether it is in the unit or in a public area; "
                                         "nothing else does.")
    if (about_department is None) == (type == "internal_complaint"):
        raise unprocessable("about_department", "An internal complaint names the department it is about; "
                                                 "nothing else does.")
    if type == "inquiry":
        if promised_reply_at is None or aware(promised_reply_at) <= now:
            raise unprocessable("promised_reply_at", "An inquiry records the reply time promised to the "
                                                      "occupant, which must be in the future.")
    elif promised_reply_at is not None:
        raise unprocessable("promised_reply_at", "Only an inquiry has a promised reply time.")


def _next_number(session: Session, organization_id: str, site_id: str, year: int) -> str:
    """The site's next register number in the year, e.g. HG-2026-000123. The counter row is updated in place
    and the new value read back in one statement, so two tickets at once get two numbers and a rolled-back
    one leaves no gap. The year is the site's (its time zone from occupants' events); the year's first ticket
    opens the row with the prefix then in force."""
    taken = {"site": site_id, "in_year": year}  # not the columns' names, which UPDATE keeps for SET
    row = session.execute(_TAKE_NUMBER, taken).first()
    if row is None:
        prefix = policy.value(session, chassis, organization_id, site_id, NUMBER_PREFIX)
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise Problem(409, "Conflict", f"The setting {NUMBER_PREFIX.key} holds {prefix!r}: 1–10 capital "
                                           "letters or digits are needed; correct it under /v1/policies.")
        try:
            with session.begin_nested():
                session.add(TicketCounter(site_id=site_id, year=year, organization_id=organization_id,
                                          prefix=prefix, last=1))
            row = (prefix, 1)
        except IntegrityError:  # another request opened the year's register meanwhile
            row = session.execute(_TAKE_NUMBER, taken).one()
    prefix, last = row
    return f"{prefix}-{year}-{last:06d}"


# -- lifecycle ---------------------------------------------------------------------------------------------


def take(session: Session, ticket: Ticket, *, actor: str, roles, action: str, reason: str = "",
         assignee_id: str | None = None) -> None:
    """One lifecycle step other than classifying and closing."""
    step = TICKET.step(ticket.state, action, roles)
    reason = reason.strip()
    if action in NEEDS_REASON and not reason:
        raise unprocessable("reason", f"{action!r} needs a reason (told to the occupant where it concerns them).")
    if assignee_id is not None and action != "dispatch":
        raise unprocessable("assignee_id", "Only dispatching names who does the work.")
    data = {}
    if action == "register" and ticket.category_id is not None:
        ticket.department = categories.usable(session, ticket.organization_id, ticket.category_id).department
    if action == "register" and ticket.owner_id == PLATFORM:
        ticket.owner_id = data["owner_id"] = actor
    if action == "dispatch" and assignee_id is not None:
        ticket.assignee_id = assignee_id
        data["assignee_id"] = assignee_id
    if step.target == "invalid":
        ticket.closed_at, ticket.close_reason = utcnow(), reason
    _move(session, ticket, step, actor, reason, data)


def classify(session: Session, ticket: Ticket, *, actor: str, roles, category_id: str, type: str | None = None,
             tier: str | None = None, reason: str = "") -> None:
    """Classify a registered ticket (category, and for a complaint its tier), or re-classify an open one:
    it is routed to the category's department and its open deadlines follow the new targets."""
    if ticket.state == "registered":
        step = TICKET.step(ticket.state, "classify", roles)
    else:
        step = None
        if ticket.state in TICKET.final or ticket.state == "received":
            allowed = TICKET.allowed(ticket.state)
            raise Problem(409, "Conflict", f"A ticket in state {ticket.state!r} cannot be classified; allowed: "
                                           f"{', '.join(allowed) or 'nothing, it is finished'}.",
                          field="action", extra={"state": ticket.state, "allowed": allowed})
        if not CS.intersection(roles or ()):
            raise Problem(403, "Forbidden", "Re-classifying needs a customer-service role at this site.")
    new_type = type or ticket.type
    if new_type != ticket.type and (ticket.type in OWN_FIELDS or new_type in OWN_FIELDS or ticket.anonymous):
        raise unprocessable("type", f"A {ticket.type} cannot become a {new_type}: the types' own fields differ; "
                                     "register it anew.")
    if new_type == "complaint" and tier is None:
        raise unprocessable("tier", "A complaint is classified major, important or minor.")
    if new_type != "complaint" and tier is not None:
        raise unprocessable("tier", "Only a complaint has a tier.")
    category = categories.usable(session, ticket.organization_id, category_id)
    before = (ticket.type, ticket.tier, ticket.category_id)
    ticket.type, ticket.tier, ticket.category_id, ticket.department = new_type, tier, category.id, category.department
    changed = before != (ticket.type, ticket.tier, ticket.category_id)
    data = {"type": ticket.type, "tier": ticket.tier, "category_id": category.id, "department": category.department}
    if step is not None:
        _move(session, ticket, step, actor, reason, data)
    else:
        ticket.updated_at = utcnow()
        _audit(session, ticket, "reclassify", actor, reason, ticket.state, ticket.state, data)
        _publish(session, ticket, events.transitioned(ticket, "reclassify", ticket.state, actor, reason,
                                                      ticket.updated_at))
    if changed:
        clocks.recompute(session, ticket)


def close(session: Session, ticket: Ticket, *, actor: str, roles, acceptance: str | None = None,
          acceptance_reference: str = "", rating: int | None = None, unreachable: bool = False,
          reason: str = "") -> None:
    """Closed with the occupant's acceptance (a signature, or a confirmation recorded on the phone) and their
    rating; an anonymous complaint or an occupant who cannot be reached closes with a reason instead."""
    step = TICKET.step(ticket.state, "close", roles)
    reason, acceptance_reference = reason.strip(), acceptance_reference.strip()
    if acceptance is not None:
        if rating is None:
            raise unprocessable("rating", "Closing with the occupant's acceptance records their satisfaction rating.")
        if acceptance == "signature" and not acceptance_reference:
            raise unprocessable("acceptance_reference", "Name the signed sheet (its reference or scan).")
    else:
        if not (ticket.anonymous or unreachable):
            raise unprocessable("acceptance", "Closing needs the occupant's acceptance (signature or recorded "
                                               "confirmation) and a rating; only an anonymous complaint or an "
                                               "unreachable occupant closes without, with a reason.")
        if not reason:
            raise unprocessable("reason", "Say why it closes without the occupant's acceptance.")
    ticket.acceptance, ticket.acceptance_reference, ticket.rating = acceptance or "", acceptance_reference, rating
    ticket.close_reason, ticket.closed_at = reason, utcnow()
    _move(session, ticket, step, actor, reason, {"acceptance": ticket.acceptance, "rating": rating,
                                                 "unreachable": unreachable})


def transfer(session: Session, ticket: Ticket, *, actor: str, roles, department: str, reason: str = "") -> None:
    """Another department becomes responsible (转交); the owner of the customer contact stays. Staff outside
    customer service may only pass a request on to customer service."""
    _open(ticket)
    if not CS.intersection(roles or ()) and department != categories.CUSTOMER_SERVICE:
        raise Problem(403, "Forbidden", "Staff outside customer service may only forward to customer service.")
    if department == ticket.department:
        raise unprocessable("department", f"{department} is responsible already.")
    previous, ticket.department, ticket.updated_at = ticket.department, department, utcnow()
    _audit(session, ticket, "transfer", actor, reason.strip(), data={"from": previous, "to": department})
    _publish(session, ticket, events.transferred(ticket, previous, reason.strip(), actor, ticket.updated_at))


def hand_over(session: Session, ticket: Ticket, *, actor: str, roles, owner_id: str, reason: str = "") -> None:
    """The customer contact passes explicitly to another staff member, for a reason on record."""
    _open(ticket)
    if not CS.intersection(roles or ()):
        raise Problem(403, "Forbidden", "Handing over a ticket needs a customer-service role at this site.")
    if not reason.strip():
        raise unprocessable("reason", "Handing over the customer contact needs a reason.")
    if owner_id == ticket.owner_id:
        raise unprocessable("owner_id", "They own it already.")
    previous, ticket.owner_id, ticket.updated_at = ticket.owner_id, owner_id, utcnow()
    _audit(session, ticket, "hand_over", actor, reason.strip(), data={"from": previous, "to": owner_id})
    _publish(session, ticket, events.owner_changed(ticket, previous, reason.strip(), actor, ticket.updated_at))


def shows_identity(ticket: Ticket, roles) -> bool:
    """An anonymous complainant is known to customer service at the site only (TKT-3)."""
    return not ticket.anonymous or bool(CS.intersection(roles or ()))


def history(session: Session, ticket: Ticket) -> list:
    return audit.trail(session, chassis.audit_log, organization_id=ticket.organization_id, entity="ticket",
                       entity_id=ticket.id)


# -- comments and attachments ------------------------------------------------------------------------------


def comment(session: Session, ticket: Ticket, *, actor: str, body: str, visibility: str) -> TicketComment:
    note = TicketComment(organization_id=ticket.organization_id, ticket_id=ticket.id, visibility=visibility,
                         body=body, author=actor)
    session.add(note)
    session.flush()
    _audit(session, ticket, "comment", actor, data={"comment_id": note.id, "visibility": visibility})
    return note


def attach(session: Session, store: FileStore, ticket: Ticket, *, actor: str, filename: str, content_type: str,
           content: bytes) -> TicketAttachment:
    attachment_id = new_id()
    stored = store.put_with(session, f"tickets/{ticket.organization_id}/{ticket.id}/{attachment_id}", content)
    attachment = TicketAttachment(id=attachment_id, organization_id=ticket.organization_id, ticket_id=ticket.id,
                                  filename=filename, content_type=content_type, size_bytes=stored.size,
                                  sha256=stored.sha256, storage_key=stored.key, uploaded_by=actor)
    session.add(attachment)
    session.flush()
    _audit(session, ticket, "attach", actor, data={"attachment_id": attachment.id, "sha256": stored.sha256})
    return attachment


# -- inside ------------------------------------------------------------------------------------------------


def _open(ticket: Ticket) -> None:
    if ticket.state in TICKET.final:
        raise Problem(409, "Conflict", f"The ticket is {ticket.state}.", field="action",
                      extra={"state": ticket.state, "allowed": []})


def _move(session: Session, ticket: Ticket, step: Step, actor: str, reason: str, data: dict | None = None) -> None:
    """Take the step only from the state it was read in: of two requests racing on one ticket, the second
    finds it moved on and answers 409 instead of repeating the step's effects. The SLA clocks follow in the
    same transaction."""
    previous, at = ticket.state, utcnow()
    session.flush()
    moved = session.execute(update(Ticket).where(Ticket.id == ticket.id, Ticket.state == previous)
                            .values(state=step.target, updated_at=at).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The ticket changed meanwhile; read it again.", field="action")
    ticket.state, ticket.updated_at = step.target, at
    _audit(session, ticket, step.action, actor, reason, previous, step.target, data)
    if step.target in TICKET.final:
        _publish(session, ticket, events.closed(ticket, actor))
        metrics.closed(session, ticket.type, step.target)
    else:
        _publish(session, ticket, events.transitioned(ticket, step.action, previous, actor, reason, at))
    clocks.on_transition(session, ticket, step.action, previous, step.target, at)


def _audit(session: Session, ticket: Ticket, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record(session, chassis.audit_log, organization_id=ticket.organization_id, site_id=ticket.site_id,
                 entity="ticket", entity_id=ticket.id, action=action, from_state=from_state, to_state=to_state,
                 actor=actor, reason=reason, data=data)


def _publish(session: Session, ticket: Ticket, payload) -> None:
    record(session, chassis.outbox, payload, organization_id=ticket.organization_id)


