"""HTTP boundary of move-in (OCC-3): the move-in's steps, its papers and records, concentrated move-in
batches and the spot checks of move-in records."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Date, Dict, Integer, List, Method, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import pre_dump
from sqlalchemy import select

from services.occupants.movein import batches, rules, spotchecks
from services.occupants.movein.tables import MoveIn, MoveInBatch, MoveInDocument, MoveInRecord, MoveInSpotCheck
from services.occupants.places.api import site_row
from services.occupants.places.tables import Unit
from shared.roles import CUSTOMER_SERVICE
from shared.audit import AuditEntryOut
from shared.auth import auth, principal, require_role_at, roles_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("movein", __name__, url_prefix="/v1")

_Id = String(required=True, validate=Length(36, 36))
_MOMENTS = Range(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
_DAYS = Range(date(2000, 1, 1), date(2200, 1, 1))
_Moment = AwareDateTime(required=True, validate=_MOMENTS, metadata={"description": "ISO 8601 with offset."})
_Reading = DecimalString(places=2, max_digits=12, minimum=0)


# -- input -------------------------------------------------------------------------------------------------


class MoveInIn(Schema):
    unit_id = _Id
    person_id = String(required=True, validate=Length(36, 36),
                       metadata={"description": "The incoming occupant (a company for an organization)."})
    applicant_type = String(required=True, validate=OneOf(rules.APPLICANT_TYPES),
                            metadata={"description": "owner in person, agent (受托人) or organization (单位)."})
    occupancy_role = String(required=True, validate=OneOf(rules.OCCUPANCY_ROLES),
                            metadata={"description": "owner (purchase contract) or tenant (lease)."})
    agent_name = String(load_default="", validate=Length(max=200), metadata={"description": "Required for an agent."})
    appointment_at = AwareDateTime(load_default=None, allow_none=True, validate=_MOMENTS,
                                   metadata={"description": "ISO 8601 with offset; or give `slot_id`."})
    slot_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                     metadata={"description": "A concentrated move-in batch's slot (集中入伙)."})
    reason = String(load_default="", validate=Length(max=500))


class MoveInDocumentIn(Schema):
    kind = String(required=True, validate=OneOf(rules.DOCUMENT_KINDS))
    reference = String(load_default="", validate=Length(max=200),
                       metadata={"description": "Its number, or a note identifying the copy on file."})
    notarised = Boolean(load_default=False)


class MoveInStepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class HouseholdMemberIn(Schema):
    full_name = String(required=True, validate=Length(1, 200))
    relation = String(required=True, validate=Length(1, 40))


class CheckInIn(MoveInStepIn):
    """The registration form (住户登记表)."""

    household_members = List(Nested(HouseholdMemberIn), load_default=list, validate=Length(max=20))
    contact_phone = String(load_default="", validate=Length(max=40))
    emergency_contact = String(load_default="", validate=Length(max=200))
    vehicle_plates = List(String(validate=Length(1, 20)), load_default=list, validate=Length(max=10))
    notes = String(load_default="", validate=Length(max=2000))


class MoveInAgreementsIn(MoveInStepIn):
    agreements = List(String(validate=OneOf(rules.AGREEMENTS)), required=True, validate=Length(max=10),
                      metadata={"description": "Signed agreements; all four are needed."})
    handbooks = List(String(validate=OneOf(rules.HANDBOOKS)), load_default=list, validate=Length(max=10),
                     metadata={"description": "Documents handed over."})
    entrusted_services = List(String(validate=Length(1, 100)), load_default=list, validate=Length(max=20),
                              metadata={"description": "Services the occupant entrusts to the centre (委托代办)."})


class MoveInChargeIn(Schema):
    item = String(required=True, validate=Length(1, 60), metadata={"description": "A fee item code billing knows."})
    amount = DecimalString(places=2, max_digits=14, minimum=0, load_default=None, allow_none=True,
                           metadata={"description": "Empty: billing prices it from its rates."})
    description = String(load_default="", validate=Length(max=200))


class FeesRequestIn(MoveInStepIn):
    charges = List(Nested(MoveInChargeIn), load_default=None, validate=Length(1, 20),
                   metadata={"description": "Default: the site's move-in fee items (policy movein.fee_items)."})


class OpeningReadingsIn(MoveInStepIn):
    water = DecimalString(places=2, max_digits=12, minimum=0, required=True)
    electricity = DecimalString(places=2, max_digits=12, minimum=0, required=True)
    gas = DecimalString(places=2, max_digits=12, minimum=0, load_default=None, allow_none=True,
                        metadata={"description": "Omitted where the unit has no gas."})


class MoveInDefectIn(Schema):
    location = String(required=True, validate=Length(1, 100))
    description = String(required=True, validate=Length(1, 500))


class FailedInspectionIn(MoveInStepIn):
    defects = List(Nested(MoveInDefectIn), required=True, validate=Length(1, 50))


class MoveInRectificationIn(MoveInStepIn):
    deadline_days = Integer(load_default=None, allow_none=True, validate=Range(1, 365),
                            metadata={"description": "Default: the site's policy movein.rectification_days."})


class HandedKeyIn(Schema):
    kind = String(required=True, validate=Length(1, 40), metadata={"description": "e.g. unit_door, mailbox."})
    count = Integer(required=True, validate=Range(1, 50))


class AcceptanceIn(MoveInStepIn):
    keys = List(Nested(HandedKeyIn), required=True, validate=Length(1, 20))
    start_date = Date(load_default=None, allow_none=True, validate=_DAYS,
                      metadata={"description": "The occupancy's first day; default today (site time)."})


class MoveInQuery(PageQuery):
    site_id = _Id
    state = String(load_default=None, validate=OneOf(rules.MOVE_IN.states))
    batch_id = String(load_default=None, validate=Length(36, 36))


class MoveInSlotIn(Schema):
    starts_at = _Moment
    ends_at = _Moment
    capacity = Integer(required=True, validate=Range(1, 500))


class MoveInBatchIn(Schema):
    site_id = _Id
    name = String(required=True, validate=Length(1, 200))
    starts_on = Date(required=True, validate=_DAYS)
    ends_on = Date(required=True, validate=_DAYS)
    slots = List(Nested(MoveInSlotIn), required=True, validate=Length(1, 500))


class MoveInSiteQuery(PageQuery):
    site_id = _Id


class MoveInSpotCheckQuery(MoveInSiteQuery):
    month = String(load_default=None, validate=Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
                   metadata={"description": "YYYY-MM"})
    state = String(load_default=None, validate=OneOf(spotchecks.SPOT_CHECK.states))


class MoveInSpotCheckIn(Schema):
    conforming = Boolean(required=True)
    findings = String(load_default="", validate=Length(max=4000))


# -- output ------------------------------------------------------------------------------------------------


class MoveInSummaryOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    applicant_type = String()
    occupancy_role = String()
    agent_name = String()
    state = String()
    allowed_actions = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    appointment_at = UtcDateTime()
    batch_id = String(allow_none=True)
    slot_id = String(allow_none=True)
    agreements = List(String())
    handbooks = List(String())
    fees_request_id = String(allow_none=True)
    water_reading = DecimalString(places=2, max_digits=12, allow_none=True)
    electricity_reading = DecimalString(places=2, max_digits=12, allow_none=True)
    gas_reading = DecimalString(places=2, max_digits=12, allow_none=True)
    readings_at = UtcDateTime(allow_none=True)
    inspection_round = Integer()
    accepted_at = UtcDateTime(allow_none=True)
    created_by = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, move_in) -> list[str]:
        return rules.MOVE_IN.allowed(move_in.state)


class MoveInDocumentOut(Schema):
    id = String()
    kind = String()
    reference = String()
    notarised = Boolean()
    recorded_by = String()
    recorded_at = UtcDateTime()


class MoveInDefectOut(Schema):
    id = String()
    inspection_round = Integer()
    location = String()
    description = String()
    due_at = UtcDateTime(allow_none=True)
    recorded_by = String()
    recorded_at = UtcDateTime()


class MoveInOut(MoveInSummaryOut):
    required_documents = List(String())
    missing_documents = List(String())
    documents = List(Nested(MoveInDocumentOut))
    defects = List(Nested(MoveInDefectOut))
    history = List(Nested(AuditEntryOut), metadata={"description": "The audit trail, oldest first."})

    @pre_dump
    def _expand(self, move_in, **kwargs):
        session = db_session()
        return SimpleNamespace(
            **{column.key: getattr(move_in, column.key) for column in MoveIn.__table__.columns},
            required_documents=rules.required_documents(session, move_in),
            missing_documents=rules.missing_documents(session, move_in),
            documents=session.scalars(select(MoveInDocument).where(MoveInDocument.move_in_id == move_in.id)
                                      .order_by(MoveInDocument.recorded_at, MoveInDocument.id)).all(),
            defects=rules.defects_of(session, move_in),
            history=rules.history(session, move_in))


class MoveInRecordOut(Schema):
    id = String()
    kind = String(metadata={"enum": list(rules.RECORD_KINDS)})
    details = Dict()
    recorded_by = String()
    recorded_at = UtcDateTime()


class MoveInSlotOut(Schema):
    id = String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    capacity = Integer()
    booked = Integer()


class MoveInBatchSummaryOut(Schema):
    id = String()
    site_id = String()
    name = String()
    starts_on = Date()
    ends_on = Date()
    created_by = String()
    created_at = UtcDateTime()


class MoveInBatchOut(MoveInBatchSummaryOut):
    slots = List(Nested(MoveInSlotOut))

    @pre_dump
    def _expand(self, batch, **kwargs):
        return SimpleNamespace(**{column.key: getattr(batch, column.key) for column in MoveInBatch.__table__.columns},
                               slots=batches.slots_of(db_session(), batch))


class MoveInSpotCheckOut(Schema):
    id = String()
    site_id = String()
    month = String()
    ordinal = Integer()
    move_in_id = String()
    state = String()
    scheduled_at = UtcDateTime()
    done_at = UtcDateTime(allow_none=True)
    done_by = String()
    conforming = Boolean(allow_none=True)
    findings = String()


# -- views -------------------------------------------------------------------------------------------------


def _move_in(move_in_id: str) -> MoveIn:
    return get_visible(MoveIn, move_in_id, "move-in")


@api.post("/move-ins")
@api.auth_required(auth)
@idempotent
@api.input(MoveInIn)
@api.output(MoveInOut, status_code=201)
def book(json_data):
    unit = get_referenced(Unit, json_data.pop("unit_id"), "unit_id", "unit")
    require_role_at(unit.site_id, *CUSTOMER_SERVICE)
    return rules.book(db_session(), unit, actor=principal().subject, **json_data)


@api.get("/move-ins")
@api.auth_required(auth)
@api.input(MoveInQuery, location="query")
@api.output(page_of(MoveInSummaryOut))
def list_move_ins(query_data):
    stmt = select(MoveIn).where(MoveIn.site_id == site_row(query_data["site_id"]).id)
    if query_data["state"]:
        stmt = stmt.where(MoveIn.state == query_data["state"])
    if query_data["batch_id"]:
        stmt = stmt.where(MoveIn.batch_id == query_data["batch_id"])
    return keyset_page(db_session(), stmt, (MoveIn.id,), query_data)


@api.get("/move-ins/<move_in_id>")
@api.auth_required(auth)
@api.output(MoveInOut)
def get_move_in(move_in_id):
    return _move_in(move_in_id)


@api.post("/move-ins/<move_in_id>/documents")
@api.auth_required(auth)
@idempotent
@api.input(MoveInDocumentIn)
@api.output(MoveInDocumentOut, status_code=201)
def record_document(move_in_id, json_data):
    move_in = _move_in(move_in_id)
    require_role_at(move_in.site_id, *CUSTOMER_SERVICE)
    return rules.record_document(db_session(), move_in, actor=principal().subject, **json_data)


@api.get("/move-ins/<move_in_id>/records")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(MoveInRecordOut))
def list_records(move_in_id, query_data):
    """The six records (registration form, inspection sign-off, materials sign-off, key receipt, entrusted
    services, move-in charges), as the steps that produce them wrote them."""
    stmt = select(MoveInRecord).where(MoveInRecord.move_in_id == _move_in(move_in_id).id)
    return keyset_page(db_session(), stmt, (MoveInRecord.kind, MoveInRecord.id), query_data)


@api.post("/move-ins/<move_in_id>/check-in")
@api.auth_required(auth)
@api.input(CheckInIn)
@api.output(MoveInOut)
def check_in(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.check_in, json_data)


@api.post("/move-ins/<move_in_id>/identity-verification")
@api.auth_required(auth)
@api.input(MoveInStepIn)
@api.output(MoveInOut)
def verify_identity(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.verify_identity, json_data)


@api.post("/move-ins/<move_in_id>/agreements")
@api.auth_required(auth)
@api.input(MoveInAgreementsIn)
@api.output(MoveInOut)
def sign_agreements(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.sign_agreements, json_data)


@api.post("/move-ins/<move_in_id>/fees-request")
@api.auth_required(auth)
@api.input(FeesRequestIn)
@api.output(MoveInOut)
def request_fees(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.request_fees, json_data)


@api.post("/move-ins/<move_in_id>/inspection")
@api.auth_required(auth)
@api.input(OpeningReadingsIn)
@api.output(MoveInOut)
def begin_inspection(move_in_id, json_data):
    """The joint inspection begins with the opening meter readings; billing is told them."""
    return take_step(MoveIn, move_in_id, "move-in", rules.begin_inspection, json_data)


@api.post("/move-ins/<move_in_id>/inspection-failure")
@api.auth_required(auth)
@api.input(FailedInspectionIn)
@api.output(MoveInOut)
def fail_inspection(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.fail_inspection, json_data)


@api.post("/move-ins/<move_in_id>/rectification")
@api.auth_required(auth)
@api.input(MoveInRectificationIn)
@api.output(MoveInOut)
def open_rectification(move_in_id, json_data):
    """Each defect of the failed inspection goes to ticketing with its deadline."""
    return take_step(MoveIn, move_in_id, "move-in", rules.open_rectification, json_data)


@api.post("/move-ins/<move_in_id>/reinspection")
@api.auth_required(auth)
@api.input(MoveInStepIn)
@api.output(MoveInOut)
def begin_reinspection(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.begin_reinspection, json_data)


@api.post("/move-ins/<move_in_id>/acceptance")
@api.auth_required(auth)
@api.input(AcceptanceIn)
@api.output(MoveInOut)
def accept(move_in_id, json_data):
    """The unit is accepted and the keys handed over: the applicant becomes its occupant."""
    return take_step(MoveIn, move_in_id, "move-in", rules.accept, json_data)


@api.post("/move-ins/<move_in_id>/archive")
@api.auth_required(auth)
@api.input(MoveInStepIn)
@api.output(MoveInOut)
def archive(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.archive, json_data)


class CancellationIn(Schema):
    reason = String(required=True, validate=Length(1, 500), metadata={"description": "Why it is off."})


@api.post("/move-ins/<move_in_id>/cancellation")
@api.auth_required(auth)
@api.input(CancellationIn)
@api.output(MoveInOut)
@api.doc(description="Before the identity check only; a slot's place is given back.")
def cancel(move_in_id, json_data):
    return take_step(MoveIn, move_in_id, "move-in", rules.cancel, json_data)


@api.post("/move-in-batches")
@api.auth_required(auth)
@idempotent
@api.input(MoveInBatchIn)
@api.output(MoveInBatchOut, status_code=201)
def create_batch(json_data):
    site = site_row(json_data.pop("site_id"))
    require_role_at(site.id, *rules.SUPERVISORS)
    return batches.create_batch(db_session(), site, actor=principal().subject, **json_data)


@api.get("/move-in-batches")
@api.auth_required(auth)
@api.input(MoveInSiteQuery, location="query")
@api.output(page_of(MoveInBatchSummaryOut))
def list_batches(query_data):
    stmt = select(MoveInBatch).where(MoveInBatch.site_id == site_row(query_data["site_id"]).id)
    return keyset_page(db_session(), stmt, (MoveInBatch.id,), query_data)


@api.get("/move-in-batches/<batch_id>")
@api.auth_required(auth)
@api.output(MoveInBatchOut)
def get_batch(batch_id):
    return get_visible(MoveInBatch, batch_id, "move-in batch")


@api.get("/move-in-spot-checks")
@api.auth_required(auth)
@api.input(MoveInSpotCheckQuery, location="query")
@api.output(page_of(MoveInSpotCheckOut))
def list_spot_checks(query_data):
    stmt = select(MoveInSpotCheck).where(MoveInSpotCheck.site_id == site_row(query_data["site_id"]).id)
    if query_data["month"]:
        stmt = stmt.where(MoveInSpotCheck.month == query_data["month"])
    if query_data["state"]:
        stmt = stmt.where(MoveInSpotCheck.state == query_data["state"])
    return keyset_page(db_session(), stmt, (MoveInSpotCheck.month, MoveInSpotCheck.ordinal, MoveInSpotCheck.id),
                       query_data)


@api.post("/move-in-spot-checks/<spot_check_id>/record")
@api.auth_required(auth)
@api.input(MoveInSpotCheckIn)
@api.output(MoveInSpotCheckOut)
def record_spot_check(spot_check_id, json_data):
    check = get_visible(MoveInSpotCheck, spot_check_id, "spot check")
    spotchecks.record(db_session(), check, actor=principal().subject, roles=roles_at(check.site_id), **json_data)
    return check
