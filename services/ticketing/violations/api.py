"""HTTP boundary of violations (TKT-12): records, the remedy ladder, and the decision with its authority."""

from __future__ import annotations

from datetime import date, datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Date, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.ticketing.patrols.api import at_visible_sites
from services.ticketing.violations import rules
from services.ticketing.violations.tables import Violation
from shared.audit import AuditEntryOut
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import ALL
from shared.web import db_session, get_visible

api = APIBlueprint("violations", __name__, url_prefix="/v1")



def _money(description: str) -> DecimalString:
    return DecimalString(places=2, max_digits=12, minimum=0, load_default=None, allow_none=True,
                         metadata={"description": description})

_Reason = String(load_default="", validate=Length(max=1000))


class ViolationIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    category = String(required=True, validate=OneOf(rules.CATEGORIES), metadata={
        "description": "装修 decoration, 消防 fire_safety, 公共秩序/卫生 public_order (objects thrown from height, "
                       "noise, pets), 治安 security (parking, hazardous materials), 拒交费 fee_refusal, other_harm."})
    severity = String(required=True, validate=OneOf(rules.SEVERITIES))
    description = String(required=True, validate=Length(1, 4000))
    observed_at = AwareDateTime(required=True, validate=Range(datetime(2000, 1, 1, tzinfo=timezone.utc), None),
                                metadata={"description": "ISO 8601 with offset; not in the future."})
    unit_id = String(load_default=None, allow_none=True, validate=Length(36, 36))
    person_id = String(load_default=None, allow_none=True, validate=Length(36, 36))


class RemedyIn(Schema):
    step = String(required=True, validate=OneOf(rules.LADDER), metadata={
        "description": "The ladder, gentlest first; beyond persuasion only a site manager or CS supervisor."})
    note = String(load_default="", validate=Length(max=1000))
    rectify_by = Date(load_default=None, allow_none=True, validate=Range(date(2000, 1, 1), date(2200, 1, 1)),
                      metadata={"description": "rectification (required): the deadline."})
    mediation_failed = Boolean(load_default=False, metadata={"description": "lawsuit (required): true."})


class StepIn(Schema):
    action = String(required=True, validate=OneOf(rules.VIOLATION.actions))
    reason = _Reason
    penalty = String(load_default="", validate=Length(max=1000), metadata={"description": "decide (required)."})
    penalty_amount = _money("decide: a fine or compensation, in yuan, if any.")
    assessed_loss = _money("assess (required): the loss the site manager assessed, in yuan.")


class ViolationQuery(PageQuery):
    site_id = String(load_default=None, validate=Length(36, 36))
    state = String(load_default=None, validate=OneOf(rules.VIOLATION.states))
    category = String(load_default=None, validate=OneOf(rules.CATEGORIES))
    severity = String(load_default=None, validate=OneOf(rules.SEVERITIES))


class ViolationOut(Schema):
    id = String()
    site_id = String()
    unit_id = String(allow_none=True)
    person_id = String(allow_none=True)
    category = String(metadata={"enum": list(rules.CATEGORIES)})
    severity = String(metadata={"enum": list(rules.SEVERITIES)})
    state = String(metadata={"enum": rules.VIOLATION.states})
    description = String()
    observed_at = UtcDateTime()
    reported_by = String()
    source_reference = String()
    remedy = String(allow_none=True, metadata={"enum": [*rules.LADDER, None]})
    rectify_by = Date(allow_none=True)
    assessed_loss = DecimalString(places=2, max_digits=12, allow_none=True)
    penalty = String()
    penalty_amount = DecimalString(places=2, max_digits=12, allow_none=True)
    decided_by = String(allow_none=True)
    signed_by = String(allow_none=True)
    effective_at = UtcDateTime(allow_none=True, metadata={
        "description": "A major decision takes effect at the general manager's signature."})
    retain_until = Date(metadata={"description": "Kept 1 year (general) or 5 (major) by default."})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    allowed_actions = List(String())
    history = List(Nested(AuditEntryOut))


def _shown(violation: Violation, with_history: bool = True) -> dict:
    shown = {column.key: getattr(violation, column.key) for column in Violation.__table__.columns}
    return {**shown, "allowed_actions": rules.VIOLATION.allowed(violation.state),
            "history": rules.history(db_session(), violation) if with_history else []}


@api.post("/violations")
@api.auth_required(auth)
@idempotent
@api.input(ViolationIn)
@api.output(ViolationOut, status_code=201)
def report(json_data):
    """Any staff member at the site records a violation seen."""
    caller = principal()
    site_id = visible_site(json_data.pop("site_id"))
    require_role_at(site_id, *ALL)
    return _shown(rules.report(db_session(), organization_id=caller.organization_id, site_id=site_id,
                               actor=caller.subject, **json_data))


@api.get("/violations")
@api.auth_required(auth)
@api.input(ViolationQuery, location="query")
@api.output(page_of(ViolationOut))
def list_violations(query_data):
    """Oldest observed first; the history is on each record's own page."""
    stmt = at_visible_sites(select(Violation), Violation, query_data["site_id"])
    for name in ("state", "category", "severity"):
        if query_data[name]:
            stmt = stmt.where(getattr(Violation, name) == query_data[name])
    page = keyset_page(db_session(), stmt, (Violation.observed_at, Violation.id), query_data)
    return {**page, "items": [_shown(violation, with_history=False) for violation in page["items"]]}


@api.get("/violations/<violation_id>")
@api.auth_required(auth)
@api.output(ViolationOut)
def get_violation(violation_id):
    return _shown(get_visible(Violation, violation_id, "violation"))


@api.post("/violations/<violation_id>/remedies")
@api.auth_required(auth)
@api.input(RemedyIn)
@api.output(ViolationOut)
def remedy(violation_id, json_data):
    violation = get_visible(Violation, violation_id, "violation")
    roles = require_role_at(violation.site_id, *ALL)
    rules.remedy(db_session(), violation, actor=principal().subject, roles=roles, **json_data)
    return _shown(violation)


@api.post("/violations/<violation_id>/transitions")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(ViolationOut)
@api.doc(description="```mermaid\n" + rules.VIOLATION.mermaid() + "\n```")
def transition(violation_id, json_data):
    """assess (major, site manager), decide (site manager or CS supervisor at the site), sign (general
    manager: a major decision takes effect), close."""
    violation = get_visible(Violation, violation_id, "violation")
    roles = require_role_at(violation.site_id, *ALL)
    rules.take(db_session(), violation, actor=principal().subject, roles=roles, **json_data)
    return _shown(violation)
