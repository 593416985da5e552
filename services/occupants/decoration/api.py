"""HTTP boundary of decoration / renovation (OCC-8): the application's steps, overtime, violations."""

from __future__ import annotations

from datetime import datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, List, Method, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import post_dump
from sqlalchemy import select

from services.occupants.decoration import rules
from services.occupants.decoration.tables import Decoration, DecorationOvertime, DecorationViolation
from services.occupants.people.rules import shown_id_number
from services.occupants.places.api import site_row
from services.occupants.places.tables import Unit
from shared.roles import CUSTOMER_SERVICE
from shared.auth import auth, principal, require_role_at, roles_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("decoration", __name__, url_prefix="/v1")

_Id = String(required=True, validate=Length(36, 36))
_Moment = AwareDateTime(required=True, validate=Range(datetime(2000, 1, 1, tzinfo=timezone.utc),
                                                      datetime(2200, 1, 1, tzinfo=timezone.utc)),
                        metadata={"description": "ISO 8601 with offset."})
_HourMinute = String(required=True, validate=Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
                     metadata={"description": "HH:MM, site time."})


class DecorationIn(Schema):
    unit_id = _Id
    person_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                       metadata={"description": "The applicant, if registered as a person."})
    applicant_kind = String(required=True, validate=OneOf(rules.APPLICANT_KINDS))
    applicant_name = String(required=True, validate=Length(1, 200))
    applicant_phone = String(required=True, validate=Length(1, 40))
    contractor_name = String(required=True, validate=Length(1, 200))
    works_description = String(required=True, validate=Length(1, 2000))
    structural_change = Boolean(load_default=False, metadata={"description": "拆改主体结构"})
    load_increase = Boolean(load_default=False, metadata={"description": "明显加大荷载"})


class DecorationStepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class DecorationIdentityIn(DecorationStepIn):
    letter_of_authority_reference = String(load_default="", validate=Length(max=200),
                                           metadata={"description": "委托书; required when an agent applies."})


class DecorationPlanReviewIn(DecorationStepIn):
    decision = String(required=True, validate=OneOf(("approve", "reject")))


class DecorationGovernmentApprovalIn(DecorationStepIn):
    reference = String(required=True, validate=Length(1, 200))


class DecorationAgreementIn(DecorationStepIn):
    agreement_reference = String(required=True, validate=Length(1, 200))


class DecorationWorkerIn(Schema):
    full_name = String(required=True, validate=Length(1, 200))
    phone = String(required=True, validate=Length(1, 40))
    id_number = String(required=True, validate=Length(1, 40))


class WorkingHoursIn(Schema):
    start = _HourMinute
    end = _HourMinute


class DecorationPermitIn(DecorationStepIn):
    valid_from = _Moment
    valid_until = _Moment
    workers = List(Nested(DecorationWorkerIn), required=True, validate=Length(1, 50))
    working_days = List(String(validate=OneOf(rules.WEEKDAYS)), load_default=None, validate=Length(1, 7),
                        metadata={"description": "Default: the site's policy."})
    working_hours = List(Nested(WorkingHoursIn), load_default=None, validate=Length(1, 6),
                         metadata={"description": "Default: the site's policy."})
    prohibited_works = List(String(validate=Length(1, 200)), load_default=None, validate=Length(1, 30),
                            metadata={"description": "Default: the site's policy."})


class DecorationInspectionIn(DecorationStepIn):
    result = String(required=True, validate=OneOf(("pass", "fail")))
    rectification_items = List(String(validate=Length(1, 500)), load_default=list, validate=Length(max=50))


class DepositDeductionIn(Schema):
    amount = DecimalString(required=True, places=2, max_digits=14, minimum=0, exclusive_minimum=True)
    reason = String(required=True, validate=Length(1, 500))


class DepositRefundIn(DecorationStepIn):
    deductions = List(Nested(DepositDeductionIn), load_default=list, validate=Length(max=20))


class DecorationViolationIn(Schema):
    severity = String(required=True, validate=OneOf(rules.SEVERITIES))
    description = String(required=True, validate=Length(1, 2000))
    observed_at = AwareDateTime(load_default=None, validate=_Moment.validators)


class DecorationOvertimeIn(Schema):
    starts_at = _Moment
    ends_at = _Moment
    works = String(required=True, validate=Length(1, 500))


class OvertimeDecisionIn(DecorationStepIn):
    decision = String(required=True, validate=OneOf(rules.OVERTIME.actions))


class DecorationQuery(PageQuery):
    site_id = _Id
    state = String(load_default=None, validate=OneOf(rules.DECORATION.states))


class DecorationWorkerOut(Schema):
    full_name = String()
    phone = String()
    id_number = String(metadata={"description": "Masked unless the caller's role at the site may see it."})


class WorkingHoursOut(Schema):
    start = String()
    end = String()


class DepositDeductionOut(Schema):
    amount = String()
    reason = String()


class DecorationOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    person_id = String(allow_none=True)
    applicant_kind = String()
    applicant_name = String()
    applicant_phone = String()
    contractor_name = String()
    works_description = String()
    structural_change = Boolean()
    load_increase = Boolean()
    letter_of_authority_reference = String()
    government_approval_reference = String()
    agreement_reference = String()
    charges_request_id = String(allow_none=True)
    waste_removal_fee = DecimalString(places=2, max_digits=14, allow_none=True)
    deposit = DecimalString(places=2, max_digits=14, allow_none=True)
    currency = String()
    amount_paid = DecimalString(places=2, max_digits=14, allow_none=True)
    receipt_numbers = List(String())
    permit_id = String(allow_none=True)
    valid_from = UtcDateTime(allow_none=True)
    valid_until = UtcDateTime(allow_none=True)
    working_days = List(String())
    working_hours = List(Nested(WorkingHoursOut))
    prohibited_works = List(String())
    workers = List(Nested(DecorationWorkerOut))
    rectification_items = List(String())
    deductions = List(Nested(DepositDeductionOut))
    refund_amount = DecimalString(places=2, max_digits=14, allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, decoration) -> list[str]:
        return rules.DECORATION.allowed(decoration.state)

    @post_dump(pass_original=True)
    def _mask_id_numbers(self, data, decoration, **kwargs):
        held = roles_at(decoration.site_id)
        for worker in data.get("workers", []):
            worker["id_number"] = shown_id_number(worker["id_number"], held)
        return data


class DecorationOvertimeOut(Schema):
    id = String()
    decoration_id = String()
    site_id = String()
    state = String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    works = String()
    applied_by = String()
    decided_by = String()
    decision_reason = String()
    created_at = UtcDateTime()


class DecorationViolationOut(Schema):
    id = String()
    decoration_id = String()
    severity = String()
    description = String()
    observed_at = UtcDateTime()
    reported_by = String()


def _decoration(decoration_id: str) -> Decoration:
    return get_visible(Decoration, decoration_id, "decoration")


@api.post("/decorations")
@api.auth_required(auth)
@idempotent
@api.input(DecorationIn)
@api.output(DecorationOut, status_code=201)
def apply(json_data):
    unit = get_referenced(Unit, json_data.pop("unit_id"), "unit_id", "unit")
    require_role_at(unit.site_id, *CUSTOMER_SERVICE)
    return rules.apply(db_session(), unit, actor=principal().subject, **json_data)


@api.get("/decorations")
@api.auth_required(auth)
@api.input(DecorationQuery, location="query")
@api.output(page_of(DecorationOut))
def list_decorations(query_data):
    stmt = select(Decoration).where(Decoration.site_id == site_row(query_data["site_id"]).id)
    if query_data["state"]:
        stmt = stmt.where(Decoration.state == query_data["state"])
    return keyset_page(db_session(), stmt, (Decoration.id,), query_data)


@api.get("/decorations/<decoration_id>")
@api.auth_required(auth)
@api.output(DecorationOut)
def get_decoration(decoration_id):
    return _decoration(decoration_id)


@api.post("/decorations/<decoration_id>/identity-check")
@api.auth_required(auth)
@api.input(DecorationIdentityIn)
@api.output(DecorationOut)
def verify_identity(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.verify_identity, json_data)


@api.post("/decorations/<decoration_id>/plan-review")
@api.auth_required(auth)
@api.input(DecorationPlanReviewIn)
@api.output(DecorationOut)
def review_plan(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.review_plan, json_data)


@api.post("/decorations/<decoration_id>/government-approval")
@api.auth_required(auth)
@api.input(DecorationGovernmentApprovalIn)
@api.output(DecorationOut)
def record_government_approval(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.record_government_approval, json_data)


@api.post("/decorations/<decoration_id>/agreement")
@api.auth_required(auth)
@api.input(DecorationAgreementIn)
@api.output(DecorationOut)
def sign_agreement(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.sign_agreement, json_data)


@api.post("/decorations/<decoration_id>/permit")
@api.auth_required(auth)
@api.input(DecorationPermitIn)
@api.output(DecorationOut)
def issue_permit(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.issue_permit, json_data)


@api.post("/decorations/<decoration_id>/start")
@api.auth_required(auth)
@api.input(DecorationStepIn)
@api.output(DecorationOut)
def start_works(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.start_works, json_data)


@api.post("/decorations/<decoration_id>/inspections")
@api.auth_required(auth)
@api.input(DecorationInspectionIn)
@api.output(DecorationOut)
def inspect(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.inspect, json_data)


@api.post("/decorations/<decoration_id>/deposit-refund")
@api.auth_required(auth)
@api.input(DepositRefundIn)
@api.output(DecorationOut)
def request_refund(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.request_refund, json_data)


@api.post("/decorations/<decoration_id>/archive")
@api.auth_required(auth)
@api.input(DecorationStepIn)
@api.output(DecorationOut)
def archive(decoration_id, json_data):
    return take_step(Decoration, decoration_id, "decoration", rules.archive, json_data)


@api.post("/decorations/<decoration_id>/violations")
@api.auth_required(auth)
@idempotent
@api.input(DecorationViolationIn)
@api.output(DecorationViolationOut, status_code=201)
def report_violation(decoration_id, json_data):
    decoration = _decoration(decoration_id)
    require_role_at(decoration.site_id, *rules.OBSERVERS)
    return rules.report_violation(db_session(), decoration, actor=principal().subject, **json_data)


@api.get("/decorations/<decoration_id>/violations")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(DecorationViolationOut))
def list_violations(decoration_id, query_data):
    stmt = select(DecorationViolation).where(DecorationViolation.decoration_id == _decoration(decoration_id).id)
    return keyset_page(db_session(), stmt, (DecorationViolation.id,), query_data)


@api.post("/decorations/<decoration_id>/overtime")
@api.auth_required(auth)
@idempotent
@api.input(DecorationOvertimeIn)
@api.output(DecorationOvertimeOut, status_code=201)
def apply_overtime(decoration_id, json_data):
    decoration = _decoration(decoration_id)
    require_role_at(decoration.site_id, *CUSTOMER_SERVICE)
    return rules.apply_overtime(db_session(), decoration, actor=principal().subject, **json_data)


@api.get("/decorations/<decoration_id>/overtime")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(DecorationOvertimeOut))
def list_overtime(decoration_id, query_data):
    stmt = select(DecorationOvertime).where(DecorationOvertime.decoration_id == _decoration(decoration_id).id)
    return keyset_page(db_session(), stmt, (DecorationOvertime.id,), query_data)


@api.post("/decoration-overtime/<overtime_id>/decision")
@api.auth_required(auth)
@api.input(OvertimeDecisionIn)
@api.output(DecorationOvertimeOut)
def decide_overtime(overtime_id, json_data):
    overtime = get_visible(DecorationOvertime, overtime_id, "overtime application")
    rules.decide_overtime(db_session(), overtime, actor=principal().subject, roles=roles_at(overtime.site_id),
                          **json_data)
    return overtime
