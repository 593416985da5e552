"""HTTP boundary of customer profiles (OCC-9): key and silent customers and grades, stewards' assignments, the
households they know and the familiarity KPI."""

from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.occupants.people.tables import Person
from services.occupants.places.api import site_row
from services.occupants.places.tables import Building, Unit
from services.occupants.profile import rules
from services.occupants.profile.tables import CustomerProfile, FamiliarityRecord, StewardAssignment
from shared.roles import CUSTOMER_SERVICE
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("profile", __name__, url_prefix="/v1")

_Reason = String(load_default="", validate=Length(max=500), metadata={"description": "Why, for the audit trail."})


class CustomerProfileIn(Schema):
    """Only the fields given change."""

    key_customer = Boolean()
    key_customer_reason = String(validate=Length(max=500))
    silent_customer = Boolean()
    grade = String(allow_none=True, validate=Length(1, 20),
                   metadata={"description": "One of the site's grades (policy profile.grades); null: ungraded."})
    notes = String(validate=Length(max=2000))
    reason = _Reason


class CustomerProfileOut(Schema):
    person_id = String()
    site_id = String()
    key_customer = Boolean()
    key_customer_reason = String()
    silent_customer = Boolean()
    grade = String(allow_none=True)
    notes = String()
    updated_by = String(allow_none=True)
    updated_at = UtcDateTime(allow_none=True)


class CustomerProfileQuery(PageQuery):
    key_customer = Boolean(load_default=None)
    silent_customer = Boolean(load_default=None)
    grade = String(load_default=None, validate=Length(1, 20))


class StewardAssignmentIn(Schema):
    steward = String(required=True, validate=Length(1, 200),
                     metadata={"description": "The steward's user id (the token's `sub`)."})
    building_id = String(load_default=None, validate=Length(36, 36))
    unit_id = String(load_default=None, validate=Length(36, 36))


class StewardAssignmentOut(Schema):
    id = String()
    site_id = String()
    steward = String()
    building_id = String(allow_none=True)
    unit_id = String(allow_none=True)
    assigned_by = String()
    assigned_at = UtcDateTime()


class StewardAssignmentQuery(PageQuery):
    steward = String(load_default=None, validate=Length(1, 200))


class StewardUnassignIn(Schema):
    reason = _Reason


class FamiliarityRecordIn(Schema):
    unit_id = String(required=True, validate=Length(36, 36))
    steward = String(load_default=None, validate=Length(1, 200),
                     metadata={"description": "Whose household it is; absent: the caller's own."})
    known_on = Date(required=True, validate=Range(date(2000, 1, 1), date(2099, 12, 31)))
    how = String(required=True, validate=OneOf(rules.CONTACT_WAYS))
    note = String(load_default="", validate=Length(max=500))


class FamiliarityRecordOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    steward = String()
    known_on = Date()
    how = String()
    note = String()
    recorded_by = String()
    recorded_at = UtcDateTime()


class FamiliarityRecordQuery(PageQuery):
    steward = String(load_default=None, validate=Length(1, 200))
    unit_id = String(load_default=None, validate=Length(36, 36))


_Rate = DecimalString(places=4, max_digits=5, minimum=0, allow_none=True,
                      metadata={"description": "Known over assigned, e.g. \"0.9667\"; null without households."})


class FamiliarityFigureOut(Schema):
    assigned = Integer(metadata={"description": "Households (occupied units) the steward looks after."})
    known = Integer()
    rate = _Rate
    meets_target = Boolean(allow_none=True)


class StewardFamiliarityOut(FamiliarityFigureOut):
    steward = String()


class SiteFamiliarityOut(FamiliarityFigureOut):
    site_id = String()
    target = DecimalString(places=4, max_digits=5, minimum=0)
    stewards = List(Nested(StewardFamiliarityOut))


def _site_for(site_id: str, *roles: str):
    """The site, and the caller's roles there, which must include one of `roles`."""
    site = site_row(site_id)
    return site, require_role_at(site.id, *roles)


def _person(person_id: str) -> Person:
    return get_visible(Person, person_id, "person")


@api.get("/sites/<site_id>/customer-profiles/<person_id>")
@api.auth_required(auth)
@api.output(CustomerProfileOut)
def get_profile(site_id, person_id):
    site, _ = _site_for(site_id, *CUSTOMER_SERVICE)
    return rules.profile_of(db_session(), site, _person(person_id))


@api.patch("/sites/<site_id>/customer-profiles/<person_id>")
@api.auth_required(auth)
@api.input(CustomerProfileIn)
@api.output(CustomerProfileOut)
def change_profile(site_id, person_id, json_data):
    site, held = _site_for(site_id, *CUSTOMER_SERVICE)
    reason = json_data.pop("reason", "")
    return rules.change_profile(db_session(), site, _person(person_id), changes=json_data, reason=reason,
                                actor=principal().subject, held_roles=held)


@api.get("/sites/<site_id>/customer-profiles")
@api.auth_required(auth)
@api.input(CustomerProfileQuery, location="query")
@api.output(page_of(CustomerProfileOut))
def list_profiles(site_id, query_data):
    site, _ = _site_for(site_id, *CUSTOMER_SERVICE)
    stmt = select(CustomerProfile).where(CustomerProfile.site_id == site.id)
    for key in ("key_customer", "silent_customer", "grade"):
        if query_data[key] is not None:
            stmt = stmt.where(getattr(CustomerProfile, key) == query_data[key])
    return keyset_page(db_session(), stmt, (CustomerProfile.person_id, CustomerProfile.id), query_data)


@api.post("/sites/<site_id>/steward-assignments")
@api.auth_required(auth)
@idempotent
@api.input(StewardAssignmentIn)
@api.output(StewardAssignmentOut, status_code=201)
def assign_steward(site_id, json_data):
    site, _ = _site_for(site_id, *rules.SUPERVISORS)
    building = get_visible(Building, json_data["building_id"], "building") if json_data["building_id"] else None
    unit = get_visible(Unit, json_data["unit_id"], "unit") if json_data["unit_id"] else None
    return rules.assign_steward(db_session(), site, steward=json_data["steward"], building=building, unit=unit,
                                actor=principal().subject)


@api.get("/sites/<site_id>/steward-assignments")
@api.auth_required(auth)
@api.input(StewardAssignmentQuery, location="query")
@api.output(page_of(StewardAssignmentOut))
def list_assignments(site_id, query_data):
    site, _ = _site_for(site_id, *CUSTOMER_SERVICE)
    stmt = select(StewardAssignment).where(StewardAssignment.site_id == site.id)
    if query_data["steward"]:
        stmt = stmt.where(StewardAssignment.steward == query_data["steward"])
    return keyset_page(db_session(), stmt, (StewardAssignment.id,), query_data)


@api.delete("/steward-assignments/<assignment_id>")
@api.auth_required(auth)
@api.input(StewardUnassignIn, location="query")
@api.output({}, status_code=204)
def unassign_steward(assignment_id, query_data):
    assignment = get_visible(StewardAssignment, assignment_id, "steward assignment")
    require_role_at(assignment.site_id, *rules.SUPERVISORS)
    rules.unassign_steward(db_session(), assignment, actor=principal().subject, reason=query_data["reason"])
    return ""


@api.post("/sites/<site_id>/familiarity-records")
@api.auth_required(auth)
@idempotent
@api.input(FamiliarityRecordIn)
@api.output(FamiliarityRecordOut, status_code=201)
def record_familiarity(site_id, json_data):
    site, held = _site_for(site_id, *CUSTOMER_SERVICE)
    unit = get_visible(Unit, json_data.pop("unit_id"), "unit")
    steward = json_data.pop("steward") or principal().subject
    return rules.record_familiarity(db_session(), site, unit, steward=steward, actor=principal().subject,
                                    held_roles=held, **json_data)


@api.get("/sites/<site_id>/familiarity-records")
@api.auth_required(auth)
@api.input(FamiliarityRecordQuery, location="query")
@api.output(page_of(FamiliarityRecordOut))
def list_familiarity(site_id, query_data):
    site, _ = _site_for(site_id, *CUSTOMER_SERVICE)
    stmt = select(FamiliarityRecord).where(FamiliarityRecord.site_id == site.id)
    for key in ("steward", "unit_id"):
        if query_data[key]:
            stmt = stmt.where(getattr(FamiliarityRecord, key) == query_data[key])
    return keyset_page(db_session(), stmt, (FamiliarityRecord.id,), query_data)


@api.get("/sites/<site_id>/familiarity")
@api.auth_required(auth)
@api.output(SiteFamiliarityOut)
def familiarity(site_id):
    """Per steward and for the site: households assigned, known, the rate and whether it meets the target.
    One row per steward with assignments at the site, so the answer is as long as the site's staff."""
    site, _ = _site_for(site_id, *CUSTOMER_SERVICE)
    return rules.familiarity(db_session(), site)
