"""HTTP boundary of bookings: after-hours registrations, goods-lift bookings, temporary power and hot-work
permits."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, List, Method, String
from apiflask.validators import Length, OneOf

from services.access.bookings import rules
from services.access.bookings.tables import KINDS, Booking
from services.access.inputs import a_moment, an_id, ids, listed_at_site
from services.access.passes.tables import CREDENTIAL_KINDS
from services.access.places.tables import PassHolder, Unit
from shared.auth import auth, principal, require_role_at
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("bookings", __name__, url_prefix="/v1")


class BookingIn(Schema):
    kind = String(required=True, validate=OneOf(KINDS))
    unit_id = an_id()
    person_id = an_id(description="The occupant (or company) who asks, and pays.")
    applicant_name = String(required=True, validate=Length(1, 200))
    starts_at = a_moment()
    ends_at = a_moment()
    air_conditioning = Boolean(load_default=False, metadata={"description": "After hours: run the air "
                                                                            "conditioning (charged by billing)."})
    door_id = an_id(required=False, description="A goods-lift booking: the lift.")
    works_description = String(load_default="", validate=Length(max=2000))
    safety_measures = List(String(validate=Length(1, 200)), load_default=list, validate=Length(max=20))


class StepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class ApproveIn(StepIn):
    pass_holder_name = String(load_default=None, validate=Length(1, 200),
                              metadata={"description": "Issue a pass for the booking's window to this holder."})
    credential = String(load_default=None, validate=Length(1, 200))
    credential_kind = String(load_default="qr", validate=OneOf(CREDENTIAL_KINDS))
    door_ids = ids()
    zone_ids = ids()


class BookingQuery(PageQuery):
    site_id = an_id()
    kind = String(load_default=None, validate=OneOf(KINDS))
    state = String(load_default=None, validate=OneOf(rules.BOOKING.states))


class BookingOut(Schema):
    id = String()
    site_id = String()
    kind = String()
    unit_id = String()
    building_id = String()
    person_id = String()
    applicant_name = String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    air_conditioning = Boolean()
    door_id = String(allow_none=True)
    works_description = String()
    safety_measures = List(String())
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    pass_id = String(allow_none=True)
    applied_by = String()
    decided_by = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, booking) -> list[str]:
        return rules.BOOKING.allowed(booking.state)


@api.post("/bookings")
@api.auth_required(auth)
@idempotent
@api.input(BookingIn)
@api.output(BookingOut, status_code=201)
def apply(json_data):
    unit = get_referenced(Unit, json_data.pop("unit_id"), "unit_id", "unit")
    applicant = get_referenced(PassHolder, json_data["person_id"], "person_id", "person")
    if applicant.site_id != unit.site_id:
        raise unprocessable("person_id", "The person is not at this unit's site.")
    if principal().subject != applicant.person_id:
        require_role_at(unit.site_id, *rules.CS)
    return rules.apply(db_session(), unit, actor=principal().subject, **json_data)


@api.get("/bookings")
@api.auth_required(auth)
@api.input(BookingQuery, location="query")
@api.output(page_of(BookingOut))
def list_bookings(query_data):
    return listed_at_site(Booking, query_data, "kind", "state", roles=rules.CS | rules.SAFETY_APPROVERS)


@api.get("/bookings/<booking_id>")
@api.auth_required(auth)
@api.output(BookingOut)
def get_booking(booking_id):
    return get_visible(Booking, booking_id, "booking")


@api.post("/bookings/<booking_id>/approve")
@api.auth_required(auth)
@api.input(ApproveIn)
@api.output(BookingOut)
def approve(booking_id, json_data):
    return take_step(Booking, booking_id, "booking", rules.approve, json_data)


@api.post("/bookings/<booking_id>/refuse")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(BookingOut)
def refuse(booking_id, json_data):
    return take_step(Booking, booking_id, "booking", rules.refuse, json_data)


@api.post("/bookings/<booking_id>/cancel")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(BookingOut)
def cancel(booking_id, json_data):
    return take_step(Booking, booking_id, "booking", rules.cancel, json_data)
