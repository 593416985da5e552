"""Rules for violations (TKT-12). Plain functions over a session; no Flask.

The seeds' procedure (业主违章处理): persuade first, reasonably and without shaming; then a rectification by
a deadline, compensation, public criticism, and a lawsuit only once mediation has failed. A general violation
is the steward's to handle; a major one is assessed by the site manager, decided by the company and takes
effect only when the general manager signs. Only a site manager or a customer-service supervisor may impose
a penalty: everyone else may only persuade. Records are kept a year (general) or five (major).
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.violations.tables import Violation
from shared import audit, policy
from shared.db import aware
from shared.problems import Problem
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, SITE_MANAGER
from shared.workflow import Step, Workflow

log = logging.getLogger(__name__)

CATEGORIES = ("decoration", "fire_safety", "public_order", "security", "fee_refusal", "other_harm")
SEVERITIES = ("general", "major")
# The remedy ladder, gentlest first.
LADDER = ("persuasion", "rectification", "compensation", "public_criticism", "lawsuit")
PENALISERS = (SITE_MANAGER, CS_SUPERVISOR)

VIOLATION = Workflow("violation", "reported", [
    # General: decided at the site.
    Step("reported", "decide", "decided", roles=PENALISERS),
    # Major: the site manager assesses the loss, the company decides, the general manager signs.
    Step("reported", "assess", "assessed", roles=(SITE_MANAGER,)),
    Step("assessed", "decide", "awaiting_signature", roles=PENALISERS),
    Step("awaiting_signature", "sign", "decided", roles=(GENERAL_MANAGER,)),
    # Settled by persuasion or rectification without a penalty, or after the decision was carried out.
    Step("reported", "close", "closed", roles=PENALISERS),
    Step("decided", "close", "closed", roles=PENALISERS),
], final=("closed",))

RETENTION_GENERAL = policy.define("violations.retention_years_general", 1,
                                  "Years a general violation's record is kept (TKT-12).")
RETENTION_MAJOR = policy.define("violations.retention_years_major", 5,
                                "Years a major violation's record is kept (TKT-12).")
FEE_REFUSAL_STEPS = policy.define(
    "violations.fee_refusal_steps", {"demand_letter": "general", "litigation": "major"},
    "Billing's arrears steps (BIL-5) that put a fee refusal on record, each with its severity (general or major): "
    "{step: severity}. The other steps are dunning only.")
_FROM_EVENTS = uuid.UUID("5d0b8a52-7c1e-4f3a-a6d9-2e8b41c07f13")


def report(session: Session, *, organization_id: str, site_id: str, actor: str, category: str, severity: str,
           description: str, observed_at: datetime, unit_id: str | None = None, person_id: str | None = None,
           source_reference: str = "", violation_id: str | None = None) -> Violation:
    observed_at = aware(observed_at).astimezone(timezone.utc)
    if observed_at > utcnow():
        raise Problem(422, "Unprocessable Content", "A violation is reported once observed.", field="observed_at")
    setting = RETENTION_MAJOR if severity == "major" else RETENTION_GENERAL
    years = policy.value(session, chassis, organization_id, site_id, setting)
    years = years if isinstance(years, int) and years > 0 else setting.default
    violation = Violation(
        organization_id=organization_id, site_id=site_id, unit_id=unit_id, person_id=person_id, category=category,
        severity=severity, state=VIOLATION.initial, description=description, observed_at=observed_at,
        reported_by=actor, source_reference=source_reference,
        retain_until=_years_after(observed_at.date(), years))
    if violation_id is not None:
        violation.id = violation_id
    session.add(violation)
    session.flush()
    _audit(session, violation, "report", actor, to_state=violation.state,
           data={"category": category, "severity": severity})
    return violation


def receive_decoration(session: Session, organization_id: str, reported) -> None:
    """A decoration violation occupants recorded (decoration.violation_reported.v1); delivered twice, one record."""
    violation_id = str(uuid.uuid5(_FROM_EVENTS, f"decoration/{reported.violation_id}"))
    if session.get(Violation, violation_id) is not None:
        return
    observed = reported.observed_at.ToDatetime(timezone.utc) if reported.HasField("observed_at") else utcnow()
    report(session, organization_id=organization_id, site_id=reported.site_id, actor=reported.reported_by[:200] or
           "occupants", category="decoration", severity="major" if reported.severity == "major" else "general",
           description=reported.description, observed_at=min(observed, utcnow()), unit_id=reported.unit_id or None,
           source_reference=f"decoration:{reported.violation_id}"[:100], violation_id=violation_id)


def receive_arrears_step(session: Session, organization_id: str, taken) -> None:
    """An arrears step billing took (arrears.step_taken.v1) records a fee-refusal violation when the policy
    counts that step as refusal; delivered twice, one record (keyed on the step's id)."""
    severity = _refusal_steps(session, organization_id, taken.site_id).get(taken.step)
    if severity not in SEVERITIES:
        return
    violation_id = str(uuid.uuid5(_FROM_EVENTS, f"arrears/{taken.step_id}"))
    if session.get(Violation, violation_id) is not None:
        return
    since = taken.overdue_since.ToDatetime(timezone.utc).date().isoformat() if taken.HasField("overdue_since") else "?"
    taken_at = taken.taken_at.ToDatetime(timezone.utc) if taken.HasField("taken_at") else utcnow()
    owed = f"{taken.amount_overdue} {taken.currency}"
    report(session, organization_id=organization_id, site_id=taken.site_id, actor="billing", category="fee_refusal",
           severity=severity, observed_at=min(taken_at, utcnow()), unit_id=taken.unit_id or None,
           person_id=taken.person_id or None, source_reference=f"arrears:{taken.step_id}"[:100],
           violation_id=violation_id,
           description=f"拒交费用:欠 {owed},自 {since} 起 {taken.months_overdue} 个月;催缴步骤 {taken.step}。/ "
                       f"Fees refused: {owed} unpaid since {since} ({taken.months_overdue} months); "
                       f"arrears step {taken.step}.")


def _refusal_steps(session: Session, organization_id: str, site_id: str) -> dict:
    """The policy in force; an override of the wrong shape falls back to the default rather than losing the
    event to the dead letters."""
    steps = policy.value(session, chassis, organization_id, site_id, FEE_REFUSAL_STEPS)
    if isinstance(steps, dict):
        return steps
    log.warning("%s holds %r, not {step: severity}; its default applies", FEE_REFUSAL_STEPS.key, steps)
    return FEE_REFUSAL_STEPS.default


def remedy(session: Session, violation: Violation, *, actor: str, roles, step: str, note: str,
           rectify_by: date | None = None, mediation_failed: bool = False) -> None:
    """The next rung of the ladder. Anyone at the site persuades; the rungs above are penalties."""
    _open(violation)
    if step != "persuasion" and not set(PENALISERS).intersection(roles):
        raise Problem(403, "Forbidden", "Only a site manager or a customer-service supervisor at the site goes "
                                        "beyond persuasion.")
    if violation.remedy is not None and LADDER.index(step) < LADDER.index(violation.remedy):
        raise Problem(409, "Conflict", f"The ladder is at {violation.remedy!r} already.", field="step",
                      extra={"allowed": list(LADDER[LADDER.index(violation.remedy):])})
    if (rectify_by is None) == (step == "rectification"):
        raise Problem(422, "Unprocessable Content", "A rectification, and only it, has a deadline.", field="rectify_by")
    if rectify_by is not None and rectify_by < utcnow().date():
        raise Problem(422, "Unprocessable Content", "The deadline is in the past.", field="rectify_by")
    if step == "lawsuit" and not mediation_failed:
        raise Problem(422, "Unprocessable Content", "A lawsuit comes only after mediation failed.",
                      field="mediation_failed")
    previous = violation.remedy
    violation.remedy, violation.rectify_by, violation.updated_at = step, rectify_by, utcnow()
    _audit(session, violation, "remedy", actor, note, data={"from": previous, "to": step,
                                                           "rectify_by": rectify_by and rectify_by.isoformat()})


def take(session: Session, violation: Violation, *, actor: str, roles, action: str, reason: str = "",
         penalty: str = "", penalty_amount: Decimal | None = None, assessed_loss: Decimal | None = None) -> None:
    """A step of the decision: assessing a major one's loss, deciding the penalty, signing, closing."""
    step = VIOLATION.step(violation.state, action, roles)
    if violation.state == "reported" and action in ("decide", "assess"):
        needed = "assess" if violation.severity == "major" else "decide"
        if action != needed:
            raise Problem(409, "Conflict", f"A {violation.severity} violation is first to {needed!r}.",
                          field="action", extra={"state": violation.state, "allowed": [needed, "close"]})
    data = {}
    if action == "assess":
        if assessed_loss is None:
            raise Problem(422, "Unprocessable Content", "The site manager assesses the loss.", field="assessed_loss")
        violation.assessed_loss = data["assessed_loss"] = assessed_loss
    if action == "decide":
        if not penalty.strip():
            raise Problem(422, "Unprocessable Content", "Say what the penalty is.", field="penalty")
        violation.penalty, violation.penalty_amount, violation.decided_by = penalty.strip(), penalty_amount, actor
        data = {"penalty": violation.penalty, "penalty_amount": penalty_amount}
    if action == "sign":
        violation.signed_by = actor
    if step.target == "decided":
        violation.effective_at = utcnow()
    _move(session, violation, step, actor, reason, data)


def _move(session: Session, violation: Violation, step: Step, actor: str, reason: str, data: dict) -> None:
    previous, at = violation.state, utcnow()
    session.flush()
    moved = session.execute(update(Violation).where(Violation.id == violation.id, Violation.state == previous)
                            .values(state=step.target, updated_at=at).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The violation changed meanwhile; read it again.", field="action")
    violation.state, violation.updated_at = step.target, at
    _audit(session, violation, step.action, actor, reason, previous, step.target,
           {key: str(value) if isinstance(value, Decimal) else value for key, value in data.items()})


def _open(violation: Violation) -> None:
    if violation.state in VIOLATION.final:
        raise Problem(409, "Conflict", "The violation is closed.", field="action",
                      extra={"state": violation.state, "allowed": []})


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def history(session: Session, violation: Violation) -> list:
    return audit.trail(session, chassis.audit_log, organization_id=violation.organization_id, entity="violation",
                       entity_id=violation.id)


def _audit(session: Session, violation: Violation, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record(session, chassis.audit_log, organization_id=violation.organization_id, site_id=violation.site_id,
                 entity="violation", entity_id=violation.id, action=action, from_state=from_state,
                 to_state=to_state, actor=actor, reason=reason, data=data)
