"""Rules for patrols (TKT-10). Plain functions over a session; no Flask.

The seeds' procedure (巡查): the steward walks the site daily, the customer-service supervisor two or three
times a day, decoration sites are checked daily and custody units weekly and around heavy rain; what is
found wrong goes on record and is followed up like any request. So a plan's schedule generates tasks ahead
of time, and each finding recorded on a task becomes a patrol_finding ticket.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.models import chassis, utcnow
from services.ticketing.patrols import recurrence
from services.ticketing.patrols.tables import PatrolFinding, PatrolPlan, PatrolTask
from services.ticketing.sla import clocks
from services.ticketing.tickets import rules as tickets
from shared import audit, policy
from shared.db import aware
from shared.problems import Problem
from shared.roles import CS_SUPERVISOR, SECURITY_GUARD, STEWARD

PATROL_ROLES = (STEWARD, CS_SUPERVISOR, SECURITY_GUARD)
PURPOSES = ("site", "decoration", "custody", "heavy_rain")
BATCH = 200

LEAD_HOURS = policy.define(
    "patrols.lead_hours", 24,
    "How far ahead a patrol plan's tasks are generated, in hours (1–168); the generator extends them when "
    "half of that is left.")


# -- plans -------------------------------------------------------------------------------------------------


def create_plan(session: Session, *, organization_id: str, site_id: str, actor: str, name: str, checkpoints: list,
                patrol_role: str, rrule: str, starts_at: datetime, ends_at: datetime | None = None,
                assignee_id: str | None = None, unit_id: str | None = None, random_minutes: int = 0) -> PatrolPlan:
    plan = PatrolPlan(organization_id=organization_id, site_id=site_id, purpose="site", name=name, active=True,
                      unit_id=unit_id, assignee_id=assignee_id, random_minutes=random_minutes, updated_by=actor)
    _schedule(plan, checkpoints=checkpoints, patrol_role=patrol_role, rrule=rrule, starts_at=starts_at,
              ends_at=ends_at)
    session.add(plan)
    session.flush()
    _audit(session, plan, "create", actor, to_state="active", data={"rrule": plan.rrule})
    return plan


def receive_published(session: Session, organization_id: str, published) -> None:
    """Occupants published or republished a plan (patrol_plan.published.v1): the plan with that id is
    created or replaced, and the tasks not yet patrolled follow the new schedule."""
    plan = session.get(PatrolPlan, published.plan_id)
    if plan is not None and plan.organization_id != organization_id:
        return
    if plan is None:
        plan = PatrolPlan(id=published.plan_id, organization_id=organization_id, random_minutes=0,
                          updated_by="occupants")
        session.add(plan)
    else:
        _drop_pending(session, plan)
    plan.site_id, plan.purpose = published.site_id, published.purpose[:20]
    plan.reference_id = published.reference_id[:36]
    plan.unit_id = published.unit_id or None
    plan.name = f"{published.purpose} {published.reference_id}"[:200]
    plan.active, plan.updated_at = True, utcnow()
    ends_at = published.ends_at.ToDatetime(timezone.utc) if published.HasField("ends_at") else None
    _schedule(plan, checkpoints=[point[:200] for point in published.checkpoints],
              patrol_role=published.patrol_role if published.patrol_role in PATROL_ROLES else STEWARD,
              rrule=published.rrule, starts_at=published.starts_at.ToDatetime(timezone.utc), ends_at=ends_at,
              strict=False)
    session.flush()
    _audit(session, plan, "publish", "occupants", to_state="active" if plan.active else "withdrawn",
           data={"rrule": plan.rrule, "purpose": plan.purpose})


def receive_withdrawn(session: Session, organization_id: str, withdrawn) -> None:
    plan = session.get(PatrolPlan, withdrawn.plan_id)
    if plan is not None and plan.organization_id == organization_id and plan.active:
        withdraw(session, plan, actor="occupants", reason=withdrawn.reason[:1000])


def withdraw(session: Session, plan: PatrolPlan, *, actor: str, reason: str) -> None:
    """No more tasks from the plan; those not yet patrolled are cancelled."""
    if not plan.active:
        raise Problem(409, "Conflict", "The plan is withdrawn already.", field="action",
                      extra={"state": "withdrawn", "allowed": []})
    plan.active, plan.withdrawn_reason, plan.next_generation_at, plan.updated_at = False, reason, None, utcnow()
    plan.updated_by = actor
    session.execute(update(PatrolTask).where(PatrolTask.plan_id == plan.id, PatrolTask.state == "due")
                    .values(state="cancelled"))
    _audit(session, plan, "withdraw", actor, reason, "active", "withdrawn")


def _schedule(plan: PatrolPlan, *, checkpoints, patrol_role, rrule, starts_at, ends_at, strict=True) -> None:
    """A schedule occupants sent that this service cannot read still keeps the plan, without tasks; one
    entered here is refused."""
    try:
        recurrence.parse(rrule)
    except Problem:
        if strict:
            raise
        plan.active = False
        plan.withdrawn_reason = f"The recurrence rule {rrule!r} is not supported."[:1000]
    if ends_at is not None and aware(ends_at) <= aware(starts_at):
        if strict:
            raise Problem(422, "Unprocessable Content", "A plan ends after it starts.", field="ends_at")
        plan.active, plan.withdrawn_reason = False, "The plan ends before it starts."
    plan.checkpoints, plan.patrol_role, plan.rrule = list(checkpoints), patrol_role, rrule.strip()
    plan.starts_at = aware(starts_at).astimezone(timezone.utc)
    plan.ends_at = aware(ends_at).astimezone(timezone.utc) if ends_at is not None else None
    # Patrols already past are not generated after the fact.
    plan.generated_until = utcnow()
    plan.next_generation_at = plan.generated_until if plan.active else None


def _drop_pending(session: Session, plan: PatrolPlan) -> None:
    """Tasks not yet patrolled go; the new schedule generates its own."""
    session.execute(delete(PatrolTask).where(PatrolTask.plan_id == plan.id, PatrolTask.state == "due"))


# -- generation --------------------------------------------------------------------------------------------


def generate_due(sessions: sessionmaker) -> int:
    """The scheduled job: extend the tasks of every plan due for it, a batch per transaction."""
    made = 0
    while True:
        with sessions() as session, session.begin():
            plans, count = generate(session, utcnow())
        made += count
        if plans < BATCH:
            return made


def generate(session: Session, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Tasks for the plans due now up to their lead time; answers (plans claimed, tasks made). A plan is
    claimed by moving its generation time from the value read, so two workers never extend one plan twice,
    and a task is unique per (plan, moment)."""
    now = now.astimezone(timezone.utc)
    due = session.scalars(select(PatrolPlan).where(PatrolPlan.next_generation_at <= now)
                          .order_by(PatrolPlan.next_generation_at).limit(limit).with_for_update(skip_locked=True)).all()
    made = 0
    for plan in due:
        lead = timedelta(hours=_lead_hours(session, plan))
        until = now + lead
        after = aware(plan.generated_until)
        ended = plan.ends_at is not None and aware(plan.ends_at) <= until
        claimed = session.execute(
            update(PatrolPlan).where(PatrolPlan.id == plan.id, PatrolPlan.next_generation_at == plan.next_generation_at)
            .values(generated_until=until, next_generation_at=None if ended else now + lead / 2)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            continue
        zone = clocks.site_calendar(session, plan.site_id).zone
        moments = recurrence.occurrences(recurrence.parse(plan.rrule), aware(plan.starts_at), zone, after, until,
                                         aware(plan.ends_at) if plan.ends_at else None)
        # A round recorded early under a schedule since replaced keeps its moment.
        kept = {aware(at) for at in session.scalars(select(PatrolTask.due_at).where(
            PatrolTask.plan_id == plan.id, PatrolTask.due_at > after))}
        drawn = (_drawn(moment, plan.random_minutes).astimezone(timezone.utc) for moment in moments)
        fresh = [moment for moment in drawn if moment not in kept]
        session.add_all(PatrolTask(organization_id=plan.organization_id, site_id=plan.site_id, plan_id=plan.id,
                                   due_at=moment) for moment in fresh)
        made += len(fresh)
    session.flush()
    return len(due), made


def _drawn(moment: datetime, random_minutes: int) -> datetime:
    return moment + timedelta(minutes=secrets.randbelow(random_minutes + 1)) if random_minutes else moment


def _lead_hours(session: Session, plan: PatrolPlan) -> int:
    hours = policy.value(session, chassis, plan.organization_id, plan.site_id, LEAD_HOURS)
    return hours if isinstance(hours, int) and 1 <= hours <= 168 else LEAD_HOURS.default


# -- recording ---------------------------------------------------------------------------------------------


def record(session: Session, task: PatrolTask, *, actor: str, roles, notes: str, findings: list[dict]) -> list:
    """The patroller's round: done, with each thing found wrong opened as a patrol_finding ticket."""
    if task.state != "due":
        raise Problem(409, "Conflict", f"The patrol is {task.state}; it is recorded once.", field="action",
                      extra={"state": task.state, "allowed": []})
    plan = session.get(PatrolPlan, task.plan_id)
    for index, finding in enumerate(findings):
        if finding["checkpoint"] not in plan.checkpoints:
            raise Problem(422, "Unprocessable Content", "Not a checkpoint of the plan's route.",
                          field=f"findings.{index}.checkpoint")
    moved = session.execute(update(PatrolTask).where(PatrolTask.id == task.id, PatrolTask.state == "due")
                            .values(state="done", notes=notes, recorded_by=actor, recorded_at=utcnow())
                            .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The patrol was recorded meanwhile.", field="action")
    session.refresh(task)
    recorded = []
    for finding in findings:
        ticket = tickets.register(
            session, organization_id=task.organization_id, site_id=task.site_id, actor=actor, roles=roles,
            type="patrol_finding", channel="patrol", subject=f"巡查 {finding['checkpoint']}"[:200],
            description=finding["description"], unit_id=finding.get("unit_id") or plan.unit_id,
            place=finding["checkpoint"], source_reference=f"patrol:{task.id}")
        recorded.append(PatrolFinding(organization_id=task.organization_id, task_id=task.id,
                                      checkpoint=finding["checkpoint"], description=finding["description"],
                                      ticket_id=ticket.id))
    session.add_all(recorded)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=task.organization_id, site_id=task.site_id,
                 entity="patrol_task", entity_id=task.id, action="record", from_state="due", to_state="done",
                 actor=actor, data={"findings": [finding.ticket_id for finding in recorded]})
    return recorded


def _audit(session: Session, plan: PatrolPlan, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, plan, entity="patrol_plan", action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)
