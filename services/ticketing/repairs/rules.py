"""Rules for repairs (TKT-8). Plain functions over a session; no Flask.

The seeds' procedure (报修接待, 维修派工): customer service records the request, decides from the warranty
period whether the repair is free or a paid service (业主报修登记表 / 有偿服务登记表), and sends a technician
with the work order (派工单) at the time agreed. An emergency repair starts at once and its paperwork is
filled in afterwards. The technician finishes the job unless the occupant asks him to stop, has the occupant
try it and sign the order, and only then leaves; paid work is charged once the occupant has accepted it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timezone
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.models import chassis, utcnow
from services.ticketing.people.tables import Reporter
from services.ticketing.repairs import events, metrics
from services.ticketing.repairs.tables import CatalogueEntry, UnitHandover, WorkOrder
from services.ticketing.sla.tables import StaffMember
from services.ticketing.tickets import rules as tickets
from services.ticketing.tickets.tables import Ticket
from shared import audit, policy
from shared.bus.outbox import record
from shared.db import aware
from shared.problems import Problem, unprocessable
from shared.roles import CUSTOMER_SERVICE, NIGHT_DUTY, TECHNICIAN
from shared.workflow import Step, Workflow

DISPATCHERS = frozenset(CUSTOMER_SERVICE)
# The night-duty officer repairs what he can at night (TKT-5).
WORKERS = frozenset((TECHNICIAN, NIGHT_DUTY))
ACCEPTANCES = tickets.ACCEPTANCES
# Tickets whose work is engineering's.
REPAIRABLE = ("repair", "paid_service", "patrol_finding", "rectification")

WORK_ORDER = Workflow("work order", "open", [
    # Dispatch: customer service names the technician, or a technician takes the order from the pool.
    Step("open", "assign", "dispatched", roles=DISPATCHERS),
    Step("open", "take", "dispatched", roles=WORKERS),
    # An emergency: the technician goes at once; the paperwork is back-filled.
    Step("open", "start_emergency", "on_site", roles=WORKERS),
    Step("dispatched", "assign", "dispatched", roles=DISPATCHERS),
    Step("dispatched", "release", "open", roles=DISPATCHERS | WORKERS),
    Step("dispatched", "check_in", "on_site", roles=WORKERS),
    # Checking out: the work is done, or it is left unfinished for a reason.
    Step("on_site", "complete", "completed", roles=WORKERS),
    Step("on_site", "leave_unfinished", "unfinished", roles=WORKERS),
    Step("unfinished", "check_in", "on_site", roles=WORKERS),
    Step("unfinished", "assign", "dispatched", roles=DISPATCHERS),
    Step("unfinished", "release", "open", roles=DISPATCHERS | WORKERS),
    # The occupant tries the work: accepts it (paid work is then charged) or refuses it, and it is redone.
    Step("completed", "accept", "accepted", roles=DISPATCHERS | WORKERS),
    Step("completed", "refuse", "unfinished", roles=DISPATCHERS | WORKERS),
    *(Step(state, "cancel", "cancelled", roles=DISPATCHERS) for state in ("open", "dispatched", "unfinished")),
], final=("accepted", "cancelled"))
metrics.work_orders(dict.fromkeys(WORK_ORDER.states, 0))  # every state's series exists before the first count

# Steps /transitions takes; accepting has its own endpoint and fields.
PLAIN_ACTIONS = tuple(action for action in WORK_ORDER.actions if action != "accept")
NEEDS_REASON = ("leave_unfinished", "refuse", "release", "cancel")
# Steps only the technician holding the order takes.
TECHNICIANS_OWN = ("check_in", "complete", "leave_unfinished")
DISPATCHING = ("assign", "take", "start_emergency")
# What each step does to the order's ticket, where the ticket's lifecycle allows it: the ticket's dispatch and
# arrival clocks are met by the work order's dispatch and the technician's check-in, and the ticket is resolved
# when the occupant accepts the work (a refusal sends the work back, not the ticket).
TICKET_FOLLOWS = {"assign": ("dispatch",), "take": ("dispatch",), "start_emergency": ("dispatch", "start"),
                  "check_in": ("start",), "accept": ("resolve",)}

# Months each item is under warranty from the unit's handover (建设工程质量管理条例 art. 40: waterproofing
# five years; heating and cooling two seasons; wiring, pipes, equipment and fittings two years).
WARRANTY_MONTHS = policy.define(
    "repairs.warranty_months",
    {"waterproofing": 60, "heating_cooling": 24, "electrical": 24, "plumbing": 24, "equipment": 24,
     "fittings": 24},
    "Warranty period in months per repair item, from the unit's handover: {item: months}.")
HANDOVER_DATES = policy.define(
    "repairs.handover_dates", {},
    "Handover day of units whose move-in the platform did not record (or recorded wrongly), from which their "
    "warranty runs: {unit_id: \"YYYY-MM-DD\"}; wins over the recorded move-in.")


def warranty_items(session: Session, organization_id: str, site_id: str) -> dict[str, int]:
    held = policy.value(session, chassis, organization_id, site_id, WARRANTY_MONTHS)
    if isinstance(held, dict) and held and all(type(months) is int and 0 <= months <= 1200
                                               for months in held.values()):
        return held
    return WARRANTY_MONTHS.default


# -- intake ------------------------------------------------------------------------------------------------


def open_order(session: Session, ticket: Ticket, *, actor: str, roles, item: str | None = None,
               service_code: str | None = None, quantity: Decimal | None = None,
               preferred_at: datetime | None = None, technician_id: str | None = None) -> WorkOrder:
    """A work order for a ticket's repair, priced at once (free under warranty, else quoted from the
    catalogue) unless it is an emergency, whose paperwork may follow. Customer service opens it; a technician
    the occupant asked directly may open one for an emergency."""
    if ticket.type not in REPAIRABLE:
        raise unprocessable("ticket_id", f"A {ticket.type} ticket has no repair work; work orders are for "
                                         f"{', '.join(REPAIRABLE)}.")
    if ticket.state in tickets.TICKET.final:
        raise unprocessable("ticket_id", f"The ticket is {ticket.state}.")
    if not DISPATCHERS.intersection(roles) and not (ticket.emergency and WORKERS.intersection(roles)):
        raise Problem(403, "Forbidden", "Customer service opens work orders; a technician only for an emergency.")
    if preferred_at is not None:
        preferred_at = aware(preferred_at).astimezone(timezone.utc)
        if preferred_at <= utcnow():
            raise unprocessable("preferred_at", "The time the occupant prefers must be in the future.")
    order = WorkOrder(
        organization_id=ticket.organization_id, site_id=ticket.site_id, ticket_id=ticket.id,
        ticket_number=ticket.number, unit_id=ticket.unit_id if ticket.location != "public_area" else None,
        summary=ticket.subject, emergency=ticket.emergency, state=WORK_ORDER.initial, preferred_at=preferred_at,
        paperwork_pending=False, created_by=actor)
    _price(session, order, item=item, service_code=service_code, quantity=quantity)
    session.add(order)
    session.flush()
    _audit(session, order, "open", actor, to_state=order.state, data=_priced(order))
    if technician_id is not None:
        take(session, order, actor=actor, roles=roles, action="assign", technician_id=technician_id)
    return order


def backfill(session: Session, order: WorkOrder, *, actor: str, roles, item: str | None = None,
             service_code: str | None = None, quantity: Decimal | None = None) -> None:
    """An emergency's paperwork, after the work started: the warranty item or the paid service."""
    if not DISPATCHERS.intersection(roles):
        raise Problem(403, "Forbidden", "Customer service back-fills the paperwork.")
    if not order.paperwork_pending:
        raise Problem(409, "Conflict", "The work order's paperwork is complete.", field="item")
    if order.state == "cancelled":
        raise Problem(409, "Conflict", "The work order is cancelled.", field="item")
    if item is None and service_code is None:
        raise unprocessable("item", "Back-filling names the warranty item or the paid service.")
    _price(session, order, item=item, service_code=service_code, quantity=quantity)
    order.updated_at = utcnow()
    _audit(session, order, "backfill", actor, data=_priced(order))


def _price(session: Session, order: WorkOrder, *, item, service_code, quantity) -> None:
    """Warranty decides: work on a unit within the item's warranty, or in a public area, is free; otherwise it
    is the catalogue's paid service at the site, quoted now and charged when the occupant accepts it."""
    if quantity is not None and service_code is None:
        raise unprocessable("quantity", "Only paid work has a quantity.")
    if item is None and service_code is None:
        if not order.emergency:
            raise unprocessable("item", "Name the warranty item, or the paid service; only an emergency starts "
                                        "before its paperwork.")
        order.paperwork_pending = True
        return
    order.paperwork_pending = False
    if item is not None:
        months = warranty_items(session, order.organization_id, order.site_id)
        if item not in months:
            raise unprocessable("item", f"No such warranty item; the items are {', '.join(sorted(months))}.")
        order.item = item
        if order.unit_id is None:
            if service_code is not None:
                raise unprocessable("service_code", "Work in a public area is free: no occupant pays for it.")
            return
        start = _handover(session, order)
        order.warranty_until = _months_after(start, months[item]) if start is not None else None
        order.under_warranty = order.warranty_until is not None and utcnow() < order.warranty_until
        if order.under_warranty:
            if service_code is not None:
                raise unprocessable("service_code", f"The work is free: under warranty until "
                                                    f"{order.warranty_until.date()}.")
            return
    if service_code is None:
        since = f"since {order.warranty_until.date()}" if order.warranty_until else "(no handover on record)"
        raise unprocessable("service_code", f"Out of warranty {since}: name the paid service from the site's "
                                            "catalogue.")
    entry = session.get(CatalogueEntry, (order.site_id, service_code))
    if entry is None or not entry.offered or entry.organization_id != order.organization_id:
        raise unprocessable("service_code", f"No paid service {service_code!r} is offered at this site.")
    quantity = Decimal("1") if quantity is None else quantity
    order.service_code, order.quantity, order.unit_price, order.currency = service_code, quantity, entry.price, \
        entry.currency
    order.amount = (entry.price * quantity).quantize(Decimal("0.01"))


def _handover(session: Session, order: WorkOrder) -> datetime | None:
    if order.unit_id is None:
        return None
    corrected = policy.value(session, chassis, order.organization_id, order.site_id, HANDOVER_DATES)
    day = corrected.get(order.unit_id) if isinstance(corrected, dict) else None
    try:
        return datetime.combine(date.fromisoformat(day), time(), timezone.utc)
    except (TypeError, ValueError):
        row = session.get(UnitHandover, order.unit_id)
        return row and aware(row.handed_over_at)


def _months_after(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


# -- dispatch, visits, acceptance --------------------------------------------------------------------------


def take(session: Session, order: WorkOrder, *, actor: str, roles, action: str, reason: str = "",
         technician_id: str | None = None) -> None:
    """One step of the work order other than accepting. Of two technicians taking one order from the pool,
    the first wins and the second gets 409."""
    step = WORK_ORDER.step(order.state, action, roles)
    reason = reason.strip()
    if action in NEEDS_REASON and not reason:
        raise unprocessable("reason", f"{action!r} needs a reason.")
    if (technician_id is None) == (action == "assign"):
        raise unprocessable("technician_id", "Assigning, and only assigning, names the technician.")
    if action == "start_emergency" and not order.emergency:
        raise Problem(409, "Conflict", "Only an emergency starts before it is dispatched.", field="action",
                      extra={"state": order.state, "allowed": WORK_ORDER.allowed(order.state)})
    if action == "assign":
        _check_technician(session, order, technician_id)
    if action in TECHNICIANS_OWN and order.technician_id != actor:
        raise Problem(403, "Forbidden", "Only the technician holding the work order checks in and out.")
    if action == "release" and not DISPATCHERS.intersection(roles) and order.technician_id != actor:
        raise Problem(403, "Forbidden", "A technician releases only the work orders he holds.")
    now = utcnow()
    _move(session, order, step, actor, reason, now)
    data = {}
    if action in DISPATCHING:
        order.technician_id = data["technician_id"] = technician_id or actor
        order.dispatched_by, order.dispatched_at = actor, now
    if action == "release":
        order.technician_id = order.dispatched_by = order.dispatched_at = None
    if action in ("check_in", "start_emergency"):
        order.checked_in_at = now
    if action == "check_in" and step.source == "dispatched":
        metrics.checked_in(session, (now - aware(order.dispatched_at)).total_seconds())
    if action in ("complete", "leave_unfinished"):
        order.checked_out_at = now
    if action in ("leave_unfinished", "refuse"):
        order.unfinished_reason = reason
    _audit(session, order, action, actor, reason, step.source, step.target, data)
    if action in DISPATCHING:
        _publish(session, order, events.dispatched(order, _member_id(session, order)))
    _follow_ticket(session, order, action, actor)


def accept(session: Session, order: WorkOrder, *, actor: str, roles, acceptance: str, acceptance_reference: str = "",
           payer_id: str | None = None) -> None:
    """The occupant accepted the work (signed the order, or confirmed on the phone). Paid work is charged now,
    once: repair.work_accepted.v1 leaves through the outbox with the quoted price."""
    step = WORK_ORDER.step(order.state, "accept", roles)
    if order.paperwork_pending:
        raise Problem(409, "Conflict", "Back-fill the emergency's paperwork (warranty item or paid service) "
                                       "before the occupant accepts the work.", field="action",
                      extra={"state": order.state, "allowed": ["refuse"]})
    acceptance_reference = acceptance_reference.strip()
    if acceptance == "signature" and not acceptance_reference:
        raise unprocessable("acceptance_reference", "Name the signed work order (its reference or scan).")
    if order.service_code is not None:
        payer_id = payer_id or session.get(Ticket, order.ticket_id).reporter_id
        payer = payer_id and session.get(Reporter, payer_id)
        if not payer or payer.organization_id != order.organization_id:
            raise unprocessable("payer_id", "Paid work is charged to a person: name who pays.")
    elif payer_id is not None:
        raise unprocessable("payer_id", "Free work is charged to no one.")
    now = utcnow()
    _move(session, order, step, actor, "", now)
    order.acceptance, order.acceptance_reference, order.accepted_at, order.payer_id = \
        acceptance, acceptance_reference, now, payer_id
    _audit(session, order, "accept", actor, "", step.source, step.target,
           {"acceptance": acceptance, "payer_id": payer_id, "amount": order.amount and str(order.amount)})
    if order.service_code is not None:
        _publish(session, order, events.work_accepted(order))
    _follow_ticket(session, order, "accept", actor)


def observe_work_orders(sessions: sessionmaker) -> None:
    """The scheduled job behind the work_orders gauge: how many stand in each state, 0 where none do."""
    with sessions() as session:
        counts = dict(session.execute(select(WorkOrder.state, func.count()).group_by(WorkOrder.state)).all())
    metrics.work_orders({state: counts.get(state, 0) for state in WORK_ORDER.states})


def history(session: Session, order: WorkOrder) -> list:
    return audit.trail(session, chassis.audit_log, organization_id=order.organization_id, entity="work_order",
                       entity_id=order.id)


# -- inside ------------------------------------------------------------------------------------------------


def _move(session: Session, order: WorkOrder, step: Step, actor: str, reason: str, at: datetime) -> None:
    """Take the step only from the state the order was read in: the second of two racing requests answers 409
    and changes nothing."""
    session.flush()
    moved = session.execute(update(WorkOrder).where(WorkOrder.id == order.id, WorkOrder.state == step.source)
                            .values(state=step.target, updated_at=at).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", f"The work order is no longer {step.source!r}: someone took or changed it "
                                       "meanwhile; read it again.", field="action")
    order.state, order.updated_at = step.target, at


def _follow_ticket(session: Session, order: WorkOrder, action: str, actor: str) -> None:
    """The ticket takes the steps the work order's step implies, where its lifecycle allows them, as steps
    the platform takes (the work order's step was the one authorised)."""
    ticket = session.get(Ticket, order.ticket_id)
    for ticket_action in TICKET_FOLLOWS.get(action, ()):
        if ticket_action in tickets.TICKET.allowed(ticket.state):
            tickets.take(session, ticket, actor=actor, roles=None, action=ticket_action,
                         assignee_id=order.technician_id if ticket_action == "dispatch" else None)


def _check_technician(session: Session, order: WorkOrder, technician_id: str) -> None:
    """Only someone the staff directory has active as a technician (or night-duty officer) at the order's
    site is sent: a mistyped id would leave the work order with nobody."""
    members = session.scalars(select(StaffMember).where(StaffMember.organization_id == order.organization_id,
                                                        StaffMember.user_id == technician_id, StaffMember.active))
    if not any(WORKERS.intersection(member.roles_at(order.site_id)) for member in members):
        raise unprocessable("technician_id", f"{technician_id!r} is no active technician at the work order's site "
                                             "in the staff directory.")


def _member_id(session: Session, order: WorkOrder) -> str:
    """The staff directory's id of the technician, for the notice to reach him; empty if not known."""
    return session.scalar(select(StaffMember.member_id).where(
        StaffMember.organization_id == order.organization_id, StaffMember.user_id == order.technician_id)) or ""


def _priced(order: WorkOrder) -> dict:
    return {"item": order.item, "under_warranty": order.under_warranty, "service_code": order.service_code,
            "amount": order.amount and str(order.amount), "paperwork_pending": order.paperwork_pending}


def _audit(session: Session, order: WorkOrder, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, order, entity="work_order", action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)


def _publish(session: Session, order: WorkOrder, payload) -> None:
    record(session, chassis.outbox, payload, organization_id=order.organization_id)
