"""HTTP boundary of repairs (TKT-8): work orders from tickets, their dispatch by assignment or from the pool,
the technician's check-in and check-out, the occupant's acceptance, and the paid-service catalogue."""

from __future__ import annotations

from datetime import datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.ticketing.patrols.api import at_visible_sites
from services.ticketing.repairs import rules
from services.ticketing.repairs.tables import CatalogueEntry, WorkOrder
from services.ticketing.tickets.tables import Ticket
from shared.audit import AuditEntryOut
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import ALL
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("repairs", __name__, url_prefix="/v1")

_Id = String(load_default=None, validate=Length(36, 36))


class PricingIn(Schema):
    item = String(load_default=None, validate=Length(1, 40), metadata={
        "description": "The warranty item (policy repairs.warranty_months, e.g. plumbing, waterproofing): within "
                       "its warranty from the unit's handover the work is free."})
    service_code = String(load_default=None, validate=Length(1, 60), metadata={
        "description": "Paid work: the site's catalogue code (GET /v1/repair-catalogue)."})
    quantity = DecimalString(places=2, max_digits=10, minimum=0, exclusive_minimum=True, load_default=None,
                             metadata={"description": "Paid work: how many of the service's unit; default 1."})


class WorkOrderIn(PricingIn):
    ticket_id = String(required=True, validate=Length(36, 36))
    preferred_at = AwareDateTime(load_default=None, allow_none=True,
                                 validate=Range(datetime(2000, 1, 1, tzinfo=timezone.utc), None),
                                 metadata={"description": "When the occupant would like the technician to come."})
    technician_id = String(load_default=None, validate=Length(1, 200), metadata={
        "description": "Assign at once (customer service); empty: the order waits in the pool."})


class StepIn(Schema):
    action = String(required=True, validate=OneOf(rules.PLAIN_ACTIONS), metadata={
        "description": "assign (names technician_id), take (from the pool), start_emergency, check_in, complete, "
                       "leave_unfinished, refuse, release, cancel (the last four need a reason)."})
    reason = String(load_default="", validate=Length(max=1000))
    technician_id = String(load_default=None, validate=Length(1, 200))


class AcceptanceIn(Schema):
    acceptance = String(required=True, validate=OneOf(rules.ACCEPTANCES))
    acceptance_reference = String(load_default="", validate=Length(max=200),
                                  metadata={"description": "signature (required): the signed order's reference."})
    payer_id = String(load_default=None, validate=Length(36, 36), metadata={
        "description": "Paid work: the person charged; default the ticket's reporter."})


class WorkOrderQuery(PageQuery):
    site_id = _Id
    ticket_id = _Id
    state = String(load_default=None, validate=OneOf(rules.WORK_ORDER.states))
    pool = Boolean(load_default=False, metadata={
        "description": "Only the open orders waiting in the pool for a technician to take."})
    mine = Boolean(load_default=False, metadata={"description": "Only the orders the caller holds."})


class CatalogueQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))


class WorkOrderOut(Schema):
    id = String()
    site_id = String()
    ticket_id = String()
    ticket_number = String()
    unit_id = String(allow_none=True)
    summary = String()
    emergency = Boolean()
    state = String(metadata={"enum": rules.WORK_ORDER.states})
    technician_id = String(allow_none=True)
    dispatched_by = String(allow_none=True)
    dispatched_at = UtcDateTime(allow_none=True)
    preferred_at = UtcDateTime(allow_none=True)
    paperwork_pending = Boolean()
    item = String(allow_none=True)
    under_warranty = Boolean(allow_none=True)
    warranty_until = UtcDateTime(allow_none=True)
    service_code = String(allow_none=True)
    quantity = DecimalString(places=2, allow_none=True)
    unit_price = DecimalString(places=2, max_digits=12, allow_none=True)
    amount = DecimalString(places=2, max_digits=12, allow_none=True)
    currency = String(allow_none=True)
    checked_in_at = UtcDateTime(allow_none=True)
    checked_out_at = UtcDateTime(allow_none=True)
    unfinished_reason = String()
    payer_id = String(allow_none=True)
    acceptance = String()
    acceptance_reference = String()
    accepted_at = UtcDateTime(allow_none=True)
    created_by = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    allowed_actions = List(String())
    history = List(Nested(AuditEntryOut))


class CatalogueEntryOut(Schema):
    site_id = String()
    code = String()
    name = String()
    price = DecimalString(places=2, max_digits=12)
    currency = String()
    unit = String()
    offered = Boolean()
    updated_at = UtcDateTime()


def _shown(order: WorkOrder, with_history: bool = True) -> dict:
    shown = {column.key: getattr(order, column.key) for column in WorkOrder.__table__.columns}
    return {**shown, "allowed_actions": rules.WORK_ORDER.allowed(order.state),
            "history": rules.history(db_session(), order) if with_history else []}


@api.post("/work-orders")
@api.auth_required(auth)
@idempotent
@api.input(WorkOrderIn)
@api.output(WorkOrderOut, status_code=201)
def open_order(json_data):
    """A work order for a repair ticket: free within the item's warranty, else a paid service quoted from the
    catalogue; an emergency may start before its paperwork."""
    ticket = get_referenced(Ticket, json_data.pop("ticket_id"), "ticket_id", "ticket")
    roles = require_role_at(ticket.site_id, *rules.DISPATCHERS, *rules.WORKERS)
    return _shown(rules.open_order(db_session(), ticket, actor=principal().subject, roles=roles, **json_data))


@api.get("/work-orders")
@api.auth_required(auth)
@api.input(WorkOrderQuery, location="query")
@api.output(page_of(WorkOrderOut))
def list_orders(query_data):
    """Oldest first. `pool=true` is a technician's view of the orders he may take."""
    stmt = at_visible_sites(select(WorkOrder), WorkOrder, query_data["site_id"])
    for name in ("ticket_id", "state"):
        if query_data[name]:
            stmt = stmt.where(getattr(WorkOrder, name) == query_data[name])
    if query_data["pool"]:
        stmt = stmt.where(WorkOrder.state == rules.WORK_ORDER.initial)
    if query_data["mine"]:
        stmt = stmt.where(WorkOrder.technician_id == principal().subject)
    page = keyset_page(db_session(), stmt, (WorkOrder.created_at, WorkOrder.id), query_data)
    return {**page, "items": [_shown(order, with_history=False) for order in page["items"]]}


@api.get("/work-orders/<order_id>")
@api.auth_required(auth)
@api.output(WorkOrderOut)
def get_order(order_id):
    return _shown(get_visible(WorkOrder, order_id, "work order"))


@api.post("/work-orders/<order_id>/transitions")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(WorkOrderOut)
@api.doc(description="```mermaid\n" + rules.WORK_ORDER.mermaid() + "\n```")
def transition(order_id, json_data):
    """A step of the work order; taking one from the pool twice answers 409 for the second technician."""
    return _shown(take_step(WorkOrder, order_id, "work order", rules.take, json_data))


@api.post("/work-orders/<order_id>/paperwork")
@api.auth_required(auth)
@api.input(PricingIn)
@api.output(WorkOrderOut)
def backfill(order_id, json_data):
    """An emergency's paperwork after the work started: the warranty item or the paid service."""
    return _shown(take_step(WorkOrder, order_id, "work order", rules.backfill, json_data))


@api.post("/work-orders/<order_id>/acceptance")
@api.auth_required(auth)
@api.input(AcceptanceIn)
@api.output(WorkOrderOut)
def accept(order_id, json_data):
    """The occupant accepted the work; paid work is charged by billing from repair.work_accepted.v1. A
    second acceptance answers 409."""
    return _shown(take_step(WorkOrder, order_id, "work order", rules.accept, json_data))


@api.get("/repair-catalogue")
@api.auth_required(auth)
@api.input(CatalogueQuery, location="query")
@api.output(page_of(CatalogueEntryOut))
def catalogue(query_data):
    """The site's paid services as billing priced them (BIL-6), withdrawn ones flagged."""
    stmt = at_visible_sites(select(CatalogueEntry), CatalogueEntry, query_data["site_id"])
    require_role_at(query_data["site_id"], *ALL)
    return keyset_page(db_session(), stmt, (CatalogueEntry.code, CatalogueEntry.site_id), query_data)
