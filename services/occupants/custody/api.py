"""HTTP boundary of custody (OCC-6): custody agreements of vacant units, their meter readings, and heavy-rain
warnings that call for patrols of the units in custody."""

from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Date, Function, Integer, List, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.occupants.custody import rules
from services.occupants.custody.tables import CustodyAgreement, CustodyReading
from services.occupants.people.tables import Person
from services.occupants.places.api import site_row
from services.occupants.places.tables import Unit
from shared.roles import CUSTOMER_SERVICE
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("custody", __name__, url_prefix="/v1")

_Id = String(required=True, validate=Length(36, 36))
# Agreements are dated this century; the bounds keep date arithmetic and the columns safe.
_Day = Date(required=True, validate=Range(date(2000, 1, 1), date(2099, 12, 31)))
_Reading = DecimalString(places=2, max_digits=12, minimum=0)


class CustodyAgreementIn(Schema):
    unit_id = _Id
    owner_id = String(required=True, validate=Length(36, 36), metadata={"description": "The owner's person id."})
    starts_on = _Day
    ends_on = _Day
    keys_held = Integer(required=True, validate=Range(0, 99),
                        metadata={"description": "Keys of the unit the service centre holds."})
    water_start = DecimalString(required=True, places=2, max_digits=12, minimum=0)
    electricity_start = DecimalString(required=True, places=2, max_digits=12, minimum=0)


class CustodyAgreementOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    owner_id = String()
    state = String()
    allowed = Function(lambda agreement: rules.CUSTODY.allowed(agreement.state),
                       metadata={"type": "array", "items": {"type": "string"},
                                 "description": "The steps the agreement may take next."})
    starts_on = Date()
    ends_on = Date()
    ended_on = Date(allow_none=True)
    keys_held = Integer()
    water_start = _Reading
    electricity_start = _Reading
    fee_rate = DecimalString(places=2, max_digits=3, minimum=0,
                             metadata={"description": "Share of the management fee charged, e.g. \"0.70\"."})
    water_alerted_at = UtcDateTime(allow_none=True)
    electricity_alerted_at = UtcDateTime(allow_none=True)
    created_by = String()
    created_at = UtcDateTime()


class CustodyAgreementQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))
    unit_id = String(load_default=None, validate=Length(36, 36))
    state = String(load_default=None, validate=OneOf(rules.CUSTODY.states))


class CustodyReadingIn(Schema):
    meter = String(required=True, validate=OneOf(rules.METERS))
    reading = DecimalString(required=True, places=2, max_digits=12, minimum=0)


class CustodyReadingOut(Schema):
    id = String()
    number = Integer()
    meter = String()
    reading = _Reading
    used = DecimalString(places=2, max_digits=12, minimum=0,
                         metadata={"description": "Use since the agreement's start reading of this meter."})
    read_by = String()
    read_at = UtcDateTime()


class RecordedCustodyReadingOut(CustodyReadingOut):
    limit = DecimalString(places=2, max_digits=12, minimum=0)
    over_limit = Function(lambda recorded: recorded["used"] > recorded["limit"], metadata={"type": "boolean"})


class CustodyEndIn(Schema):
    ended_on = Date(load_default=None, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
                    metadata={"description": "The last day in custody; absent: today at the site."})
    reason = String(load_default="", validate=Length(max=500))


class CustodyExtendIn(Schema):
    ends_on = Date(required=True, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
                   metadata={"description": "The new agreed last day, after the present one."})
    reason = String(load_default="", validate=Length(max=500))


class HeavyRainWarningIn(Schema):
    expected_start = AwareDateTime(required=True, metadata={"description": "With its offset."})
    expected_end = AwareDateTime(required=True, metadata={"description": "With its offset."})


class HeavyRainWarningOut(Schema):
    id = String()
    site_id = String()
    expected_start = UtcDateTime()
    expected_end = UtcDateTime()
    unit_ids = List(String(), metadata={"description": "The units in custody patrolled before and after."})


def _agreement(agreement_id: str) -> CustodyAgreement:
    return get_visible(CustodyAgreement, agreement_id, "custody agreement")


@api.post("/custody-agreements")
@api.auth_required(auth)
@idempotent
@api.input(CustodyAgreementIn)
@api.output(CustodyAgreementOut, status_code=201)
def start_custody(json_data):
    unit = get_visible(Unit, json_data.pop("unit_id"), "unit")
    require_role_at(unit.site_id, *CUSTOMER_SERVICE)
    owner = get_visible(Person, json_data.pop("owner_id"), "person")
    return rules.start(db_session(), unit, owner, actor=principal().subject, **json_data)


@api.get("/custody-agreements")
@api.auth_required(auth)
@api.input(CustodyAgreementQuery, location="query")
@api.output(page_of(CustodyAgreementOut))
def list_custody_agreements(query_data):
    stmt = select(CustodyAgreement).where(CustodyAgreement.site_id == site_row(query_data["site_id"]).id)
    if query_data["unit_id"]:
        stmt = stmt.where(CustodyAgreement.unit_id == query_data["unit_id"])
    if query_data["state"]:
        stmt = stmt.where(CustodyAgreement.state == query_data["state"])
    return keyset_page(db_session(), stmt, (CustodyAgreement.id,), query_data)


@api.get("/custody-agreements/<agreement_id>")
@api.auth_required(auth)
@api.output(CustodyAgreementOut)
def get_custody_agreement(agreement_id):
    return _agreement(agreement_id)


@api.post("/custody-agreements/<agreement_id>/readings")
@api.auth_required(auth)
@idempotent
@api.input(CustodyReadingIn)
@api.output(RecordedCustodyReadingOut, status_code=201)
def record_reading(agreement_id, json_data):
    agreement = _agreement(agreement_id)
    held = require_role_at(agreement.site_id, *CUSTOMER_SERVICE)
    reading, limit = rules.record_reading(db_session(), agreement, actor=principal().subject, held_roles=held,
                                          **json_data)
    return {**{key: getattr(reading, key) for key in CustodyReadingOut().fields}, "limit": limit}


@api.get("/custody-agreements/<agreement_id>/readings")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(CustodyReadingOut))
def list_readings(agreement_id, query_data):
    stmt = select(CustodyReading).where(CustodyReading.agreement_id == _agreement(agreement_id).id)
    return keyset_page(db_session(), stmt, (CustodyReading.number,), query_data)


@api.post("/custody-agreements/<agreement_id>/extend")
@api.auth_required(auth)
@api.input(CustodyExtendIn)
@api.output(CustodyAgreementOut)
def extend_custody(agreement_id, json_data):
    agreement = _agreement(agreement_id)
    held = require_role_at(agreement.site_id, *CUSTOMER_SERVICE)
    return rules.extend(db_session(), agreement, actor=principal().subject, held_roles=held, **json_data)


@api.post("/custody-agreements/<agreement_id>/end")
@api.auth_required(auth)
@api.doc(description="The unit goes back to vacant, billing charges the full fee again and the weekly patrol is "
                     "withdrawn. The worker takes this step itself the day after the agreed end."
                     f"\n\n```mermaid\n{rules.CUSTODY.mermaid()}\n```")
@api.input(CustodyEndIn)
@api.output(CustodyAgreementOut)
def end_custody(agreement_id, json_data):
    agreement = _agreement(agreement_id)
    held = require_role_at(agreement.site_id, *CUSTOMER_SERVICE)
    return rules.end(db_session(), agreement, actor=principal().subject, held_roles=held, **json_data)


@api.post("/sites/<site_id>/heavy-rain-warnings")
@api.auth_required(auth)
@idempotent
@api.input(HeavyRainWarningIn)
@api.output(HeavyRainWarningOut, status_code=201)
def announce_heavy_rain(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.id, *CUSTOMER_SERVICE)
    warning, unit_ids = rules.announce_heavy_rain(db_session(), site, actor=principal().subject, **json_data)
    return {"id": warning.id, "site_id": warning.site_id, "expected_start": warning.expected_start,
            "expected_end": warning.expected_end, "unit_ids": unit_ids}
