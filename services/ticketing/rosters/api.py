"""HTTP boundary of duty rosters and night deferral (TKT-5)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Date, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.ticketing.rosters import rules
from services.ticketing.rosters.tables import Absence, DutyAssignment
from services.ticketing.tickets.api import TicketOut, TicketSummaryOut
from services.ticketing.tickets.tables import Ticket
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import CS_SUPERVISOR, CUSTOMER_SERVICE, MANAGERS, NIGHT_DUTY, TECHNICIAN
from shared.web import db_session, get_visible

api = APIBlueprint("rosters", __name__, url_prefix="/v1")

PLANNERS = (*MANAGERS, CS_SUPERVISOR)
# Whoever keeps the night: the duty technician, the night watch and customer service.
NIGHT_STAFF = (*CUSTOMER_SERVICE, TECHNICIAN, NIGHT_DUTY)
DAYS = Range(date(2000, 1, 1), date(2199, 12, 31))
MOMENTS = Range(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))


class DutyIn(Schema):
    day = Date(required=True, validate=DAYS)
    shift = String(required=True, validate=OneOf(rules.SHIFTS),
                   metadata={"description": "day, or night (the night that begins that evening)."})
    user_id = String(required=True, validate=Length(1, 200), metadata={"description": "The staff member's user id."})


class DutyOut(Schema):
    id = String()
    site_id = String()
    day = Date()
    shift = String(metadata={"enum": list(rules.SHIFTS)})
    user_id = String()
    assigned_by = String()
    assigned_at = UtcDateTime()


class DutyQuery(PageQuery):
    day = Date(load_default=None, validate=DAYS)
    shift = String(load_default=None, validate=OneOf(rules.SHIFTS))
    user_id = String(load_default=None, validate=Length(1, 200))


class AbsenceIn(Schema):
    user_id = String(required=True, validate=Length(1, 200), metadata={"description": "The staff member's user id."})
    starts_at = AwareDateTime(required=True, validate=MOMENTS, metadata={"description": "ISO 8601 with offset."})
    ends_at = AwareDateTime(required=True, validate=MOMENTS,
                            metadata={"description": "ISO 8601 with offset; after starts_at."})
    reason = String(load_default="", validate=Length(max=1000), metadata={"description": "Leave, sickness, training…"})


class AbsenceOut(Schema):
    id = String()
    site_id = String()
    user_id = String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    reason = String()
    recorded_by = String()
    recorded_at = UtcDateTime()


class AbsenceQuery(PageQuery):
    user_id = String(load_default=None, validate=Length(1, 200))
    at = AwareDateTime(load_default=None, validate=MOMENTS,
                       metadata={"description": "Only the absences covering this instant."})


class DeferralIn(Schema):
    reason = String(required=True, validate=Length(1, 1000), metadata={"description": "Why it waits for the morning."})


class ConversionOut(Schema):
    tickets = List(Nested(TicketSummaryOut), metadata={"description": "The tickets made work orders again."})


@api.post("/sites/<site_id>/duty-roster")
@api.auth_required(auth)
@idempotent
@api.input(DutyIn)
@api.output(DutyOut, status_code=201)
def assign(site_id, json_data):
    """A CS supervisor or a manager at the site puts a staff member on a shift."""
    return _planned(site_id, rules.assign, json_data)


@api.get("/sites/<site_id>/duty-roster")
@api.auth_required(auth)
@api.input(DutyQuery, location="query")
@api.output(page_of(DutyOut))
def list_roster(site_id, query_data):
    """Who is on duty at the site, by day and shift."""
    site_id = visible_site(site_id)
    stmt = select(DutyAssignment).where(DutyAssignment.organization_id == principal().organization_id,
                                        DutyAssignment.site_id == site_id)
    for name in ("day", "shift", "user_id"):
        if query_data[name] is not None:
            stmt = stmt.where(getattr(DutyAssignment, name) == query_data[name])
    return keyset_page(db_session(), stmt, (DutyAssignment.day, DutyAssignment.shift, DutyAssignment.id),
                       query_data)


@api.delete("/duty-roster/<duty_id>")
@api.auth_required(auth)
@api.output({}, status_code=204)
def withdraw(duty_id):
    return _unplanned(get_visible(DutyAssignment, duty_id, "duty"), rules.withdraw)


@api.post("/sites/<site_id>/absences")
@api.auth_required(auth)
@idempotent
@api.input(AbsenceIn)
@api.output(AbsenceOut, status_code=201)
def record_absence(site_id, json_data):
    """A CS supervisor or a manager at the site records a staff member away; SLA alerts pass them over."""
    return _planned(site_id, rules.record_absence, json_data)


@api.get("/sites/<site_id>/absences")
@api.auth_required(auth)
@api.input(AbsenceQuery, location="query")
@api.output(page_of(AbsenceOut))
def list_absences(site_id, query_data):
    """Who is, was or will be away from the site."""
    site_id = visible_site(site_id)
    stmt = select(Absence).where(Absence.organization_id == principal().organization_id, Absence.site_id == site_id)
    if query_data["user_id"] is not None:
        stmt = stmt.where(Absence.user_id == query_data["user_id"])
    if query_data["at"] is not None:
        at = query_data["at"].astimezone(timezone.utc)
        stmt = stmt.where(Absence.starts_at <= at, Absence.ends_at > at)
    return keyset_page(db_session(), stmt, (Absence.starts_at, Absence.id), query_data)


@api.delete("/absences/<absence_id>")
@api.auth_required(auth)
@api.output({}, status_code=204)
def cancel_absence(absence_id):
    return _unplanned(get_visible(Absence, absence_id, "absence"), rules.cancel_absence)


def _planned(site_id: str, change, fields: dict):
    """A roster change at the site, which only its planners make, in their organization and by them."""
    site_id = visible_site(site_id)
    require_role_at(site_id, *PLANNERS)
    caller = principal()
    return change(db_session(), organization_id=caller.organization_id, site_id=site_id, actor=caller.subject,
                  **fields)


def _unplanned(entry, undo) -> str:
    require_role_at(entry.site_id, *PLANNERS)
    undo(db_session(), entry, actor=principal().subject)
    return ""


@api.post("/tickets/<ticket_id>/night-deferral")
@api.auth_required(auth)
@api.input(DeferralIn)
@api.output(TicketOut)
def defer(ticket_id, json_data):
    """At night a non-emergency waits for the morning handover; its SLA clocks stop meanwhile."""
    ticket = get_visible(Ticket, ticket_id, "ticket")
    roles = require_role_at(ticket.site_id, *NIGHT_STAFF)
    rules.defer(db_session(), ticket, actor=principal().subject, roles=roles, reason=json_data["reason"])
    return ticket


@api.post("/sites/<site_id>/deferred-tickets/conversion")
@api.auth_required(auth)
@idempotent
@api.output(ConversionOut)
def convert(site_id):
    """The morning handover: customer service turns every ticket deferred at the site into a work order."""
    site_id = visible_site(site_id)
    roles = require_role_at(site_id, *CUSTOMER_SERVICE)
    caller = principal()
    return {"tickets": rules.convert_deferred(db_session(), organization_id=caller.organization_id,
                                              site_id=site_id, actor=caller.subject, roles=roles)}
