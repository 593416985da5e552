"""The payloads decoration publishes; contracts in proto/psp/occupants/v1/decoration.proto, charges.proto and
patrols.proto."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from psp.occupants.v1.charges_pb2 import ChargesRequested, RequestedCharge
from psp.occupants.v1.decoration_pb2 import (
    DecorationCompleted,
    DecorationDepositRefundRequested,
    DecorationOvertimeApproved,
    DecorationPermitted,
    DecorationViolationReported,
    DecorationWorker,
    DecorationWorkingHours,
    DepositDeduction,
)
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn

from shared.db import aware

PURPOSE = "decoration"


def _at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(aware(moment))
    return stamp


def charges_requested(decoration) -> ChargesRequested:
    return ChargesRequested(
        request_id=decoration.charges_request_id, purpose=PURPOSE, reference_id=decoration.id,
        site_id=decoration.site_id, unit_id=decoration.unit_id, person_id=decoration.person_id or "",
        charges=[
            RequestedCharge(item="decoration_waste_removal", amount=str(decoration.waste_removal_fee),
                            currency=decoration.currency, description="装修垃圾清运费 Decoration waste removal"),
            RequestedCharge(item="decoration_deposit", amount=str(decoration.deposit),
                            currency=decoration.currency, description="装修保证金 Decoration deposit"),
        ])


def permitted(decoration) -> DecorationPermitted:
    return DecorationPermitted(
        permit_id=decoration.permit_id, decoration_id=decoration.id, site_id=decoration.site_id,
        unit_id=decoration.unit_id, valid_from=_at(decoration.valid_from), valid_until=_at(decoration.valid_until),
        working_days=decoration.working_days,
        working_hours=[DecorationWorkingHours(start=p["start"], end=p["end"]) for p in decoration.working_hours],
        prohibited_works=decoration.prohibited_works,
        workers=[DecorationWorker(full_name=w["full_name"], phone=w["phone"], id_number=w["id_number"])
                 for w in decoration.workers],
        contractor_name=decoration.contractor_name)


def completed(decoration, at: datetime) -> DecorationCompleted:
    return DecorationCompleted(permit_id=decoration.permit_id, decoration_id=decoration.id,
                               site_id=decoration.site_id, unit_id=decoration.unit_id, completed_at=_at(at))


def deposit_refund_requested(decoration) -> DecorationDepositRefundRequested:
    return DecorationDepositRefundRequested(
        request_id=decoration.refund_request_id, decoration_id=decoration.id, site_id=decoration.site_id,
        unit_id=decoration.unit_id, person_id=decoration.person_id or "",
        charges_request_id=decoration.charges_request_id, deposit=str(decoration.deposit),
        refund_amount=str(decoration.refund_amount), currency=decoration.currency,
        deductions=[DepositDeduction(amount=d["amount"], reason=d["reason"]) for d in decoration.deductions])


def violation_reported(decoration, violation) -> DecorationViolationReported:
    return DecorationViolationReported(
        violation_id=violation.id, decoration_id=decoration.id, site_id=decoration.site_id,
        unit_id=decoration.unit_id, category=PURPOSE, severity=violation.severity,
        description=violation.description, observed_at=_at(violation.observed_at),
        reported_by=violation.reported_by)


def overtime_approved(decoration, overtime) -> DecorationOvertimeApproved:
    return DecorationOvertimeApproved(
        overtime_id=overtime.id, permit_id=decoration.permit_id, decoration_id=decoration.id,
        site_id=decoration.site_id, unit_id=decoration.unit_id, starts_at=_at(overtime.starts_at),
        ends_at=_at(overtime.ends_at), works=overtime.works)


def patrol_plan(decoration, *, plan_id: str, rrule: str, starts_at: datetime, checkpoints: Iterable[str],
                patrol_role: str) -> PatrolPlanPublished:
    """A plan for the works' duration: it ends with the permit, or earlier when withdrawn at completion."""
    return PatrolPlanPublished(
        plan_id=plan_id, purpose=PURPOSE, reference_id=decoration.id, site_id=decoration.site_id,
        unit_id=decoration.unit_id, rrule=rrule, starts_at=_at(starts_at), ends_at=_at(decoration.valid_until),
        checkpoints=list(checkpoints), patrol_role=patrol_role)


def patrol_plan_withdrawn(decoration, plan_id: str, reason: str) -> PatrolPlanWithdrawn:
    return PatrolPlanWithdrawn(plan_id=plan_id, site_id=decoration.site_id, reason=reason)
