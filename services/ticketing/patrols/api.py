"""HTTP boundary of patrols (TKT-10): plans with their schedule, the tasks generated from them, and the
findings a patroller records, each of which becomes a patrol_finding ticket."""

from __future__ import annotations

from datetime import datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.ticketing.patrols import rules
from services.ticketing.patrols.tables import PatrolFinding, PatrolPlan, PatrolTask
from shared.auth import ALL_SITES, auth, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import ALL, CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.web import db_session, get_visible

api = APIBlueprint("patrols", __name__, url_prefix="/v1")

PLANNERS = (GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR)
_MOMENTS = Range(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
_Id = String(load_default=None, validate=Length(36, 36))


class PlanIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    name = String(required=True, validate=Length(1, 200))
    checkpoints = List(String(validate=Length(1, 200)), required=True, validate=Length(1, 50),
                       metadata={"description": "The route, in walking order."})
    patrol_role = String(required=True, validate=OneOf(rules.PATROL_ROLES))
    assignee_id = String(load_default=None, allow_none=True, validate=Length(1, 200),
                         metadata={"description": "A named patroller; empty: whoever holds the role."})
    unit_id = String(load_default=None, allow_none=True, validate=Length(36, 36))
    rrule = String(load_default="", validate=Length(max=200), metadata={
        "description": "RFC 5545 rule on the site's clock: FREQ=DAILY or WEEKLY with INTERVAL, BYDAY, BYHOUR, "
                       "BYMINUTE, e.g. FREQ=DAILY;BYHOUR=9,14,20. Empty: one patrol at starts_at."})
    random_minutes = Integer(load_default=0, validate=Range(0, 180), metadata={
        "description": "Rounds at random times (the supervisor's): each falls up to this many minutes after its "
                       "rule's moment, drawn when the round is generated."})
    starts_at = AwareDateTime(required=True, validate=_MOMENTS, metadata={"description": "ISO 8601 with offset."})
    ends_at = AwareDateTime(load_default=None, allow_none=True, validate=_MOMENTS)


class WithdrawIn(Schema):
    reason = String(required=True, validate=Length(1, 1000))


class FindingIn(Schema):
    checkpoint = String(required=True, validate=Length(1, 200), metadata={"description": "One of the route's."})
    description = String(required=True, validate=Length(1, 4000))
    unit_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                     metadata={"description": "Default: the plan's unit."})


class RecordIn(Schema):
    notes = String(load_default="", validate=Length(max=4000))
    findings = List(Nested(FindingIn), load_default=[], validate=Length(max=50),
                    metadata={"description": "Each becomes a patrol_finding ticket."})


class PlanQuery(PageQuery):
    site_id = _Id
    active = Boolean(load_default=None)


class TaskQuery(PageQuery):
    site_id = _Id
    plan_id = _Id
    state = String(load_default=None, validate=OneOf(("due", "done", "cancelled")))


class PlanOut(Schema):
    id = String()
    site_id = String()
    purpose = String(metadata={"enum": list(rules.PURPOSES)})
    reference_id = String()
    unit_id = String(allow_none=True)
    name = String()
    checkpoints = List(String())
    patrol_role = String()
    assignee_id = String(allow_none=True)
    rrule = String()
    random_minutes = Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime(allow_none=True)
    active = Boolean()
    withdrawn_reason = String()
    generated_until = UtcDateTime(allow_none=True)
    updated_by = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class FindingOut(Schema):
    id = String()
    checkpoint = String()
    description = String()
    ticket_id = String()


class TaskOut(Schema):
    id = String()
    site_id = String()
    plan_id = String()
    due_at = UtcDateTime()
    state = String(metadata={"enum": ["due", "done", "cancelled"]})
    notes = String()
    recorded_by = String(allow_none=True)
    recorded_at = UtcDateTime(allow_none=True)
    findings = List(Nested(FindingOut))


def at_visible_sites(stmt, model, site_id: str | None):
    """`stmt` scoped to the caller's organization and to the one site asked for, or to the sites seen."""
    caller = principal()
    stmt = stmt.where(model.organization_id == caller.organization_id)
    if site_id:
        return stmt.where(model.site_id == visible_site(site_id))
    if ALL_SITES not in caller.sites:
        return stmt.where(model.site_id.in_(caller.sites | set(caller.site_roles)))
    return stmt


def _with_findings(task: PatrolTask) -> dict:
    shown = {column.key: getattr(task, column.key) for column in PatrolTask.__table__.columns}
    shown["findings"] = db_session().scalars(select(PatrolFinding).where(PatrolFinding.task_id == task.id)
                                             .order_by(PatrolFinding.id)).all()
    return shown


@api.post("/patrol-plans")
@api.auth_required(auth)
@idempotent
@api.input(PlanIn)
@api.output(PlanOut, status_code=201)
def create_plan(json_data):
    """A site's own patrol plan, set by its managers or customer-service supervisor."""
    caller = principal()
    site_id = visible_site(json_data.pop("site_id"))
    require_role_at(site_id, *PLANNERS)
    return rules.create_plan(db_session(), organization_id=caller.organization_id, site_id=site_id,
                             actor=caller.subject, **json_data)


@api.get("/patrol-plans")
@api.auth_required(auth)
@api.input(PlanQuery, location="query")
@api.output(page_of(PlanOut))
def list_plans(query_data):
    stmt = at_visible_sites(select(PatrolPlan), PatrolPlan, query_data["site_id"])
    if query_data["active"] is not None:
        stmt = stmt.where(PatrolPlan.active == query_data["active"])
    return keyset_page(db_session(), stmt, (PatrolPlan.created_at, PatrolPlan.id), query_data)


@api.get("/patrol-plans/<plan_id>")
@api.auth_required(auth)
@api.output(PlanOut)
def get_plan(plan_id):
    return get_visible(PatrolPlan, plan_id, "patrol plan")


@api.post("/patrol-plans/<plan_id>/withdraw")
@api.auth_required(auth)
@api.input(WithdrawIn)
@api.output(PlanOut)
def withdraw_plan(plan_id, json_data):
    """No more patrols from the plan; those not yet patrolled are cancelled."""
    plan = get_visible(PatrolPlan, plan_id, "patrol plan")
    require_role_at(plan.site_id, *PLANNERS)
    rules.withdraw(db_session(), plan, actor=principal().subject, reason=json_data["reason"])
    return plan


@api.get("/patrol-tasks")
@api.auth_required(auth)
@api.input(TaskQuery, location="query")
@api.output(page_of(TaskOut))
def list_tasks(query_data):
    """The patrols due, done or cancelled, soonest first."""
    stmt = at_visible_sites(select(PatrolTask), PatrolTask, query_data["site_id"])
    for name in ("plan_id", "state"):
        if query_data[name]:
            stmt = stmt.where(getattr(PatrolTask, name) == query_data[name])
    page = keyset_page(db_session(), stmt, (PatrolTask.due_at, PatrolTask.id), query_data)
    return {**page, "items": [_with_findings(task) for task in page["items"]]}


@api.get("/patrol-tasks/<task_id>")
@api.auth_required(auth)
@api.output(TaskOut)
def get_task(task_id):
    return _with_findings(get_visible(PatrolTask, task_id, "patrol task"))


@api.post("/patrol-tasks/<task_id>/record")
@api.auth_required(auth)
@api.input(RecordIn)
@api.output(TaskOut)
def record_task(task_id, json_data):
    """The round is done; each finding opens a patrol_finding ticket through the ticket register."""
    task = get_visible(PatrolTask, task_id, "patrol task")
    roles = require_role_at(task.site_id, *ALL)
    rules.record(db_session(), task, actor=principal().subject, roles=roles, **json_data)
    return _with_findings(task)
