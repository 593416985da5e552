"""Rules for decoration / renovation (OCC-8). Plain functions over a session; no Flask.

The seeds' procedure: check who applies (an agent brings a letter of authority), review the plan, have the
government's approval on file when the main structure or the load changes, sign the decoration agreement,
collect the waste-removal fee and the deposit, issue the permit with its hours and prohibited works, watch
the works (daily patrol, supervisor spot checks, violations), inspect at completion, refund the deposit
minus deductions, archive.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.decoration import events
from services.occupants.decoration.tables import FINISHED, Decoration, DecorationOvertime, DecorationViolation
from services.occupants.models import chassis, new_id, utcnow
from services.occupants.contacts import normalise_phone
from services.occupants.people.rules import check_id_number
from services.occupants.people.tables import Person
from services.occupants.places.tables import Site, Unit
from shared.roles import (
    CS_SUPERVISOR,
    CUSTOMER_SERVICE,
    MANAGERS,
    SECURITY_GUARD,
    SITE_MANAGER,
    TECHNICIAN,
)
from shared import audit, policy
from shared.db import aware
from shared.bus.outbox import record_many
from shared.problems import Problem
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)
REVIEWERS = frozenset({TECHNICIAN, CS_SUPERVISOR})
APPROVERS = frozenset({CS_SUPERVISOR, SITE_MANAGER})

DECORATION = Workflow("decoration", "applied", [
    Step("applied", "verify_identity", "identity_verified", roles=CS),
    Step("identity_verified", "approve_plan", "plan_approved", roles=REVIEWERS),
    # 拆改主体结构 / 明显加大荷载: the plan goes on only with the government's approval on file.
    Step("identity_verified", "approve_structural_plan", "awaiting_government_approval", roles=REVIEWERS),
    Step("identity_verified", "reject_plan", "rejected", roles=REVIEWERS),
    Step("awaiting_government_approval", "record_government_approval", "plan_approved", roles=APPROVERS),
    Step("plan_approved", "sign_agreement", "awaiting_payment", roles=CS),
    # Taken by billing's ChargesSettled, never by a person.
    Step("awaiting_payment", "settle_fees", "paid"),
    Step("paid", "issue_permit", "permitted", roles=APPROVERS),
    Step("permitted", "start_works", "under_way", roles=CS),
    Step("under_way", "pass_inspection", "completed", roles=REVIEWERS),
    Step("under_way", "fail_inspection", "rectifying", roles=REVIEWERS),
    Step("rectifying", "pass_inspection", "completed", roles=REVIEWERS),
    Step("rectifying", "fail_inspection", "rectifying", roles=REVIEWERS),
    Step("completed", "request_refund", "refund_requested", roles=APPROVERS),
    Step("refund_requested", "archive", "archived", roles=CS),
], final=FINISHED)

OVERTIME = Workflow("decoration overtime", "applied", [
    Step("applied", "approve", "approved", roles={CS_SUPERVISOR, *MANAGERS}),
    Step("applied", "refuse", "refused", roles={CS_SUPERVISOR, *MANAGERS}),
], final=("approved", "refused"))

APPLICANT_KINDS = ("owner", "tenant", "agent")
SEVERITIES = ("general", "major")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Permit issued, works going on or being rectified: patrols run, violations and overtime can be recorded.
ON_SITE = ("permitted", "under_way", "rectifying")
WORKING = ("under_way", "rectifying")
CURRENCY = "CNY"
CENT = Decimal("0.01")
# Who records what happens on a decoration site besides the workflow's steps.
OBSERVERS = frozenset({*CUSTOMER_SERVICE, TECHNICIAN, SECURITY_GUARD})

WASTE_REMOVAL_FEE = policy.define("decoration.waste_removal_fee_per_m2", "3.30",
                                  "Decoration waste-removal fee per m² of the unit's area (BIL-1).")
DEPOSIT = policy.define("decoration.deposit_per_m2", "10.00",
                        "Decoration deposit per m² of the unit's area, refunded after inspection (BIL-1, BIL-7).")
WORKING_DAYS = policy.define("decoration.working_days", ["MO", "TU", "WE", "TH", "FR"],
                             "Weekdays a decoration permit allows works on.")
WORKING_HOURS = policy.define("decoration.working_hours",
                              [{"start": "08:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}],
                              "Hours (site time) a decoration permit allows works in.")
PROHIBITED_WORKS = policy.define("decoration.prohibited_works", [
    "未经批准拆改主体结构、承重墙、柱、梁、板",
    "改变外墙、外门窗、阳台等部位的颜色、形状和规格",
    "擅自拆除、改造供电、供水、供气、通讯、排水、排污、消防等公用设施",
    "在门窗安装网、罩、牌,破坏房屋整体外观",
    "拆除地漏盖或向地漏倾倒杂物",
    "堵塞消防通道、乱拉乱接电线",
], "Works a decoration permit forbids (禁止事项), printed on the permit.")
SPOT_CHECKS_PER_DAY = policy.define("decoration.spot_checks_per_day", 2,
                                    "Decoration units a CS supervisor spot-checks per site and day.")

PATROL_CHECKPOINTS = (
    "施工时间符合许可证规定",
    "无许可证禁止事项",
    "装修垃圾按指定地点堆放",
    "消防安全:动火、用电、灭火器",
    "施工人员佩戴临时出入证",
)
SPOT_CHECKPOINTS = ("核对施工内容与审批方案一致", "检查巡查记录及违章整改情况")
_PLANS = uuid.UUID("6f1d3c5e-2b7a-4c1e-9a61-5d0c8e4f7a21")


def apply(session: Session, unit: Unit, *, actor: str, applicant_kind: str, applicant_name: str,
          applicant_phone: str, contractor_name: str, works_description: str, structural_change: bool,
          load_increase: bool, person_id: str | None = None) -> Decoration:
    """Register an application (装修申请); one decoration at a time per unit."""
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is None or person.organization_id != unit.organization_id or person.site_id != unit.site_id:
            raise Problem(422, "Unprocessable Content", "No such person at this unit's site.", field="person_id")
    open_one = session.scalar(select(Decoration.id).where(
        Decoration.unit_id == unit.id, Decoration.state.not_in(DECORATION.final)))
    if open_one:
        raise Problem(409, "Conflict", f"The unit has a decoration in progress ({open_one}).", field="unit_id")
    decoration = Decoration(
        organization_id=unit.organization_id, site_id=unit.site_id, unit_id=unit.id, state=DECORATION.initial,
        person_id=person_id, applicant_kind=applicant_kind, applicant_name=applicant_name,
        applicant_phone=_checked(normalise_phone, applicant_phone, "applicant_phone"), contractor_name=contractor_name,
        works_description=works_description, structural_change=structural_change, load_increase=load_increase,
        receipt_numbers=[], working_days=[], working_hours=[], prohibited_works=[], workers=[],
        rectification_items=[], deductions=[])
    session.add(decoration)
    session.flush()
    _audit(session, decoration, "apply", actor, to_state=decoration.state,
           data={"structural_change": structural_change, "load_increase": load_increase})
    return decoration


def verify_identity(session: Session, decoration: Decoration, *, actor: str, roles, reason: str = "",
                    letter_of_authority_reference: str = "") -> None:
    """ID checked; an agent (受托人) needs the owner's letter of authority (委托书) on file."""
    step = DECORATION.step(decoration.state, "verify_identity", roles)
    if decoration.applicant_kind == "agent" and not letter_of_authority_reference.strip():
        raise Problem(422, "Unprocessable Content", "An agent needs the owner's letter of authority.",
                      field="letter_of_authority_reference")
    decoration.letter_of_authority_reference = letter_of_authority_reference.strip()
    _move(session, decoration, step, actor, reason)


def review_plan(session: Session, decoration: Decoration, *, actor: str, roles, decision: str,
                reason: str = "") -> None:
    """Approve or reject the plan; an approved plan that changes the structure or the load waits for the
    government's approval."""
    if decision == "reject":
        action = "reject_plan"
    elif decoration.structural_change or decoration.load_increase:
        action = "approve_structural_plan"
    else:
        action = "approve_plan"
    _move(session, decoration, DECORATION.step(decoration.state, action, roles), actor, reason)


def record_government_approval(session: Session, decoration: Decoration, *, actor: str, roles,
                               reference: str, reason: str = "") -> None:
    step = DECORATION.step(decoration.state, "record_government_approval", roles)
    decoration.government_approval_reference = reference
    _move(session, decoration, step, actor, reason, data={"reference": reference})


def sign_agreement(session: Session, decoration: Decoration, *, actor: str, roles, agreement_reference: str,
                   reason: str = "") -> None:
    """The decoration agreement is signed: ask billing for the waste-removal fee and the deposit, priced per
    m² of the unit's area."""
    step = DECORATION.step(decoration.state, "sign_agreement", roles)
    area = session.get(Unit, decoration.unit_id).floor_area_m2
    decoration.waste_removal_fee = _per_m2(session, decoration, WASTE_REMOVAL_FEE, area)
    decoration.deposit = _per_m2(session, decoration, DEPOSIT, area)
    decoration.currency = CURRENCY
    decoration.agreement_reference = agreement_reference
    decoration.charges_request_id = new_id()
    _move(session, decoration, step, actor, reason, data={
        "waste_removal_fee": str(decoration.waste_removal_fee), "deposit": str(decoration.deposit)})
    _publish(session, decoration, events.charges_requested(decoration))


def settle_fees(session: Session, decoration: Decoration, *, request_id: str, amount_paid: str,
                receipt_numbers: list[str]) -> bool:
    """Billing says the fees and deposit are paid: the permit may be issued. A settlement for another
    request, or one arriving again later, changes nothing; answers whether it moved the decoration."""
    if decoration.state != "awaiting_payment" or decoration.charges_request_id != request_id:
        return False
    step = DECORATION.step(decoration.state, "settle_fees")
    decoration.amount_paid = Decimal(amount_paid) if amount_paid else None
    decoration.receipt_numbers = list(receipt_numbers)
    _move(session, decoration, step, "billing", "charges settled",
          data={"request_id": request_id, "amount_paid": amount_paid, "receipt_numbers": list(receipt_numbers)})
    return True


def issue_permit(session: Session, decoration: Decoration, *, actor: str, roles, valid_from: datetime,
                 valid_until: datetime, workers: list[dict], working_days: list[str] | None = None,
                 working_hours: list[dict] | None = None, prohibited_works: list[str] | None = None,
                 reason: str = "") -> None:
    """The permit (装修施工许可证): its window, hours and prohibited works (policy defaults unless given) and
    the workers access issues passes to."""
    step = DECORATION.step(decoration.state, "issue_permit", roles)
    if valid_until <= valid_from:
        raise Problem(422, "Unprocessable Content", "The permit must end after it starts.", field="valid_until")
    if valid_until <= utcnow():
        raise Problem(422, "Unprocessable Content", "The permit would have ended already.", field="valid_until")
    hours = working_hours if working_hours is not None else _policy(session, decoration, WORKING_HOURS)
    for period in hours:
        if period["end"] <= period["start"]:
            raise Problem(422, "Unprocessable Content", f"{period['start']}–{period['end']} ends before it starts.",
                          field="working_hours")
    decoration.permit_id = new_id()
    decoration.valid_from, decoration.valid_until = _utc(valid_from), _utc(valid_until)
    decoration.working_days = working_days or _policy(session, decoration, WORKING_DAYS)
    decoration.working_hours = [{"start": p["start"], "end": p["end"]} for p in hours]
    decoration.prohibited_works = prohibited_works or _policy(session, decoration, PROHIBITED_WORKS)
    today = utcnow().date()
    decoration.workers = [
        {"full_name": w["full_name"], "phone": _checked(normalise_phone, w["phone"], f"workers.{i}.phone"),
         "id_number": _checked(check_id_number, w["id_number"], f"workers.{i}.id_number", today)}
        for i, w in enumerate(workers)]
    _move(session, decoration, step, actor, reason, data={
        "permit_id": decoration.permit_id, "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(), "workers": len(workers)})
    _publish(session, decoration, events.permitted(decoration))


def start_works(session: Session, decoration: Decoration, *, actor: str, roles, reason: str = "") -> None:
    """Works begin: the unit is renovating, and the daily patrol and the spot checks are planned."""
    step = DECORATION.step(decoration.state, "start_works", roles)
    unit = session.get(Unit, decoration.unit_id)
    decoration.unit_state_before = unit.state
    _set_unit_state(session, decoration, unit, "renovating", actor)
    _move(session, decoration, step, actor, reason)
    _publish(session, decoration, events.patrol_plan(
        decoration, plan_id=_plan_id(decoration, "patrol"), rrule="FREQ=DAILY",
        starts_at=max(aware(decoration.valid_from), utcnow()), checkpoints=PATROL_CHECKPOINTS, patrol_role="steward"))
    _plan_spot_checks(session, decoration)


def inspect(session: Session, decoration: Decoration, *, actor: str, roles, result: str,
            rectification_items: list[str] = (), reason: str = "") -> None:
    """The completion inspection (装修验收). Failed: the items to rectify, then a re-inspection. Passed: the
    works are over, the unit returns to its former state and the patrols end."""
    passed = result == "pass"
    step = DECORATION.step(decoration.state, "pass_inspection" if passed else "fail_inspection", roles)
    if not passed and not rectification_items:
        raise Problem(422, "Unprocessable Content", "A failed inspection lists what to rectify.",
                      field="rectification_items")
    decoration.rectification_items = [] if passed else list(rectification_items)
    _move(session, decoration, step, actor, reason, data={"rectification_items": list(rectification_items)})
    if not passed:
        return
    unit = session.get(Unit, decoration.unit_id)
    _set_unit_state(session, decoration, unit, decoration.unit_state_before, actor)
    _publish(session, decoration, events.completed(decoration, utcnow()),
             *(events.patrol_plan_withdrawn(decoration, _plan_id(decoration, kind), "decoration completed")
               for kind in ("patrol", "spot_check")))
    _plan_spot_checks(session, decoration)


def request_refund(session: Session, decoration: Decoration, *, actor: str, roles, deductions: list[dict],
                   reason: str = "") -> None:
    """Ask billing to refund the deposit minus the deductions, each with its reason (BIL-7)."""
    step = DECORATION.step(decoration.state, "request_refund", roles)
    kept = sum((d["amount"] for d in deductions), Decimal(0))
    if kept > decoration.deposit:
        raise Problem(422, "Unprocessable Content",
                      f"The deductions ({kept}) exceed the deposit ({decoration.deposit}).", field="deductions")
    decoration.deductions = [{"amount": str(d["amount"]), "reason": d["reason"]} for d in deductions]
    decoration.refund_amount = decoration.deposit - kept
    decoration.refund_request_id = new_id()
    _move(session, decoration, step, actor, reason,
          data={"deductions": decoration.deductions, "refund_amount": str(decoration.refund_amount)})
    _publish(session, decoration, events.deposit_refund_requested(decoration))


def archive(session: Session, decoration: Decoration, *, actor: str, roles, reason: str = "") -> None:
    _move(session, decoration, DECORATION.step(decoration.state, "archive", roles), actor, reason)


def report_violation(session: Session, decoration: Decoration, *, actor: str, severity: str, description: str,
                     observed_at: datetime | None = None) -> DecorationViolation:
    """A violation seen on the site goes to ticketing as a decoration violation (TKT-12)."""
    _require_on_site(decoration, "report a violation")
    violation = DecorationViolation(
        organization_id=decoration.organization_id, site_id=decoration.site_id, decoration_id=decoration.id,
        severity=severity, description=description, observed_at=_utc(observed_at or utcnow()), reported_by=actor)
    session.add(violation)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=decoration.organization_id,
                 site_id=decoration.site_id, entity="decoration", entity_id=decoration.id,
                 action="report_violation", actor=actor, reason=description,
                 data={"violation_id": violation.id, "severity": severity})
    _publish(session, decoration, events.violation_reported(decoration, violation))
    return violation


def apply_overtime(session: Session, decoration: Decoration, *, actor: str, starts_at: datetime,
                   ends_at: datetime, works: str) -> DecorationOvertime:
    """An application to work after hours (装修加班申请), inside the permit's window."""
    _require_on_site(decoration, "apply for overtime")
    if ends_at <= starts_at:
        raise Problem(422, "Unprocessable Content", "The overtime must end after it starts.", field="ends_at")
    valid_from, valid_until = aware(decoration.valid_from), aware(decoration.valid_until)
    if starts_at < valid_from:
        raise Problem(422, "Unprocessable Content", f"The permit is valid from {valid_from.isoformat()}.",
                      field="starts_at")
    if ends_at > valid_until:
        raise Problem(422, "Unprocessable Content", f"The permit is valid until {valid_until.isoformat()}.",
                      field="ends_at")
    if _within_working_hours(decoration, _zone(session, decoration), starts_at, ends_at):
        raise Problem(422, "Unprocessable Content", "The permit's working hours cover this time; no overtime needed.",
                      field="starts_at")
    overtime = DecorationOvertime(
        organization_id=decoration.organization_id, site_id=decoration.site_id, decoration_id=decoration.id,
        state=OVERTIME.initial, starts_at=_utc(starts_at), ends_at=_utc(ends_at), works=works, applied_by=actor)
    session.add(overtime)
    session.flush()
    _audit_overtime(session, overtime, "apply", actor, "", None)
    return overtime


def decide_overtime(session: Session, overtime: DecorationOvertime, *, actor: str, roles, decision: str,
                    reason: str = "") -> None:
    """Approved overtime is published, so access lets the workers in outside the permit's hours."""
    step = OVERTIME.step(overtime.state, decision, roles)
    decoration = session.get(Decoration, overtime.decoration_id)
    _require_on_site(decoration, "decide on overtime")
    previous, overtime.state = overtime.state, step.target
    overtime.decided_by, overtime.decision_reason = actor, reason
    _audit_overtime(session, overtime, step.action, actor, reason, previous)
    if overtime.state == "approved":
        _publish(session, decoration, events.overtime_approved(decoration, overtime))


# -- inside ------------------------------------------------------------------------------------------------


def _move(session: Session, decoration: Decoration, step: Step, actor: str, reason: str,
          data: dict | None = None) -> None:
    previous, decoration.state = decoration.state, step.target
    decoration.updated_at = utcnow()
    _audit(session, decoration, step.action, actor, reason, previous, step.target, data)


def _audit(session: Session, decoration: Decoration, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, decoration, entity="decoration", action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)


def _audit_overtime(session: Session, overtime: DecorationOvertime, action: str, actor: str, reason: str,
                    from_state: str | None) -> None:
    audit.record(session, chassis.audit_log, organization_id=overtime.organization_id, site_id=overtime.site_id,
                 entity="decoration_overtime", entity_id=overtime.id, action=action, from_state=from_state,
                 to_state=overtime.state, actor=actor, reason=reason,
                 data={"decoration_id": overtime.decoration_id})


def _set_unit_state(session: Session, decoration: Decoration, unit: Unit, state: str, actor: str) -> None:
    previous, unit.state = unit.state, state
    audit.record(session, chassis.audit_log, organization_id=unit.organization_id, site_id=unit.site_id,
                 entity="unit", entity_id=unit.id, action="decoration", from_state=previous, to_state=state,
                 actor=actor, data={"decoration_id": decoration.id})


def _require_on_site(decoration: Decoration, what: str) -> None:
    if decoration.state not in ON_SITE:
        raise Problem(409, "Conflict", f"Only a decoration with a permit and works not yet accepted can {what}; "
                      f"this one is {decoration.state!r}.", field="decoration_id",
                      extra={"state": decoration.state})


def _plan_spot_checks(session: Session, decoration: Decoration) -> None:
    """The supervisor spot-checks a few decoration units a day per site (policy): each unit with works
    going on gets a check every ceil(n / per day) days, staggered so each day has its share. Republished
    whenever a site's works start or end, as the rotation changes."""
    working = session.scalars(select(Decoration).where(
        Decoration.site_id == decoration.site_id, Decoration.state.in_(WORKING))
        .order_by(Decoration.created_at, Decoration.id)).all()
    per_day = max(1, int(_policy(session, decoration, SPOT_CHECKS_PER_DAY)))
    interval = math.ceil(len(working) / per_day)
    zone = _zone(session, decoration)
    tomorrow = datetime.combine(utcnow().astimezone(zone).date() + timedelta(days=1), time(), zone)
    _publish(session, decoration, *(events.patrol_plan(
        d, plan_id=_plan_id(d, "spot_check"), rrule=f"FREQ=DAILY;INTERVAL={interval}",
        starts_at=tomorrow + timedelta(days=i // per_day), checkpoints=SPOT_CHECKPOINTS,
        patrol_role=CS_SUPERVISOR) for i, d in enumerate(working)))


def _within_working_hours(decoration: Decoration, zone: ZoneInfo, starts_at: datetime, ends_at: datetime) -> bool:
    """Whether the time lies inside one of the permit's working periods, on one of its working days."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if start.date() != end.date() or WEEKDAYS[start.weekday()] not in decoration.working_days:
        return False
    start_hm, end_hm = start.strftime("%H:%M"), end.strftime("%H:%M")
    return any(p["start"] <= start_hm and end_hm <= p["end"] for p in decoration.working_hours)


def _utc(moment: datetime) -> datetime:
    """Stored as UTC: SQLite keeps a time's digits and drops its offset."""
    return moment.astimezone(timezone.utc)


def _zone(session: Session, decoration: Decoration) -> ZoneInfo:
    return ZoneInfo(session.get(Site, decoration.site_id).time_zone)


def _plan_id(decoration: Decoration, kind: str) -> str:
    """Stable, so a republished plan replaces its earlier version at ticketing."""
    return str(uuid.uuid5(_PLANS, f"{decoration.id}:{kind}"))


def _publish(session: Session, decoration: Decoration, *payloads) -> None:
    if payloads:
        record_many(session, chassis.outbox, payloads, organization_id=decoration.organization_id)


def _policy(session: Session, decoration: Decoration, setting: policy.Setting):
    return policy.value(session, chassis, decoration.organization_id, decoration.site_id, setting)


def _per_m2(session: Session, decoration: Decoration, setting: policy.Setting, area: Decimal) -> Decimal:
    return (Decimal(str(_policy(session, decoration, setting))) * area).quantize(CENT, rounding=ROUND_HALF_UP)


def _checked(check, value: str, field: str, *args) -> str:
    """The people register's checks of phone numbers and resident ID numbers, as a 422 naming the field."""
    try:
        return check(value, *args)
    except ValueError as exc:
        raise Problem(422, "Unprocessable Content", str(exc), field=field) from None
