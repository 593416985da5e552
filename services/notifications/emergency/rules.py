"""The emergency chain (NTF-5, 重大事件报告程序): the front desk and the CS supervisor at once, then the
departments on duty, the site manager, and if still nobody has answered the general and property managers.

Each level is alerted with messages it must acknowledge. A level that does not acknowledge within the
timeout is escalated to the next by a scheduled job that claims the due alert with a conditional UPDATE,
so each escalation happens once however many workers run it. An acknowledgement stops the climb: someone
at that level has taken the incident in hand. The building's occupants are told at once for the seven
kinds of incident (TKT-11).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from prometheus_client import Gauge
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.notifications.delivery.rules import SERVICE, Cause, enqueue
from services.notifications.emergency.tables import EmergencyAlert
from services.notifications.models import chassis
from services.notifications.recipients import rules as recipients
from shared import audit, policy, roles
from shared.problems import Problem
from shared.workflow import Step, Workflow

SEVEN_KINDS = ("lift_entrapment", "power_failure", "gas_leak", "flooding", "fire", "theft", "accident")
CHAIN = policy.define(
    "notifications.emergency_chain",
    [[roles.CS_SPECIALIST, roles.CS_SUPERVISOR], [roles.TECHNICIAN, roles.SECURITY_GUARD, roles.NIGHT_DUTY],
     [roles.SITE_MANAGER], [roles.GENERAL_MANAGER, roles.PROPERTY_MANAGER]],
    "The emergency chain's levels, each a list of the roles at the site alerted together, lowest first.")
ACK_TIMEOUT = policy.define(
    "notifications.emergency_ack_seconds", 300,
    "Seconds a level of the emergency chain has to acknowledge before the next level is alerted.")
ALERT = Workflow("emergency alert", "alerted", [
    Step("alerted", "acknowledge", "acknowledged"),
    Step("alerted", "escalate", "escalated"),
], final=("acknowledged", "escalated"))

UNACKNOWLEDGED = Gauge("notifications_emergency_unacknowledged_alerts",
                       "Levels of emergency chains alerted and not acknowledged yet.", ["service"],
                       multiprocess_mode="max")


def open_chain(session: Session, cause: Cause, *, organization_id: str, site_id: str, incident_id: str, kind: str,
               title: str, place: str, building_id: str) -> None:
    _alert_level(session, cause, organization_id=organization_id, site_id=site_id, incident_id=incident_id,
                 kind=kind, title=title, place=place, level=1)
    if kind in SEVEN_KINDS:
        where = {"building_id": building_id} if building_id else {"site_id": site_id}
        enqueue(session, cause, organization_id=organization_id, site_id=site_id, category="emergency",
                template_kind="emergency_broadcast", data={"kind": kind, "title": title, "place": place},
                targets=recipients.occupants(session, organization_id, **where))


def _alert_level(session: Session, cause: Cause, *, organization_id: str, site_id: str, incident_id: str, kind: str,
                 title: str, place: str, level: int) -> EmergencyAlert | None:
    """Alert the level, or the first above it with anyone at the site; None past the top of the chain."""
    chain = policy.value(session, chassis, organization_id, site_id, CHAIN)
    now = datetime.now(timezone.utc)
    for number in range(level, len(chain) + 1):
        targets = recipients.staff_with_roles(session, organization_id, site_id, chain[number - 1])
        if not targets:
            continue
        if session.scalar(select(EmergencyAlert).where(EmergencyAlert.incident_id == incident_id,
                                                       EmergencyAlert.level == number)):
            return None  # alerted already: the incident's event came again
        timeout = int(policy.value(session, chassis, organization_id, site_id, ACK_TIMEOUT))
        alert = EmergencyAlert(id=str(uuid.uuid4()), organization_id=organization_id, site_id=site_id,
                               incident_id=incident_id, kind=kind, title=title, place=place, level=number,
                               state="alerted", escalate_at=now + timedelta(seconds=timeout), acknowledged_by="",
                               created_at=now)
        session.add(alert)
        audit.record_for(session, chassis.audit_log, alert, entity="emergency_alert", action="alert",
                         actor="notifications", to_state="alerted", reason=f"level {number} of the chain")
        enqueue(session, Cause(f"{cause.id}:level:{number}", cause.type, cause.at, cause.correlation_id,
                               cause.trace_headers),
                organization_id=organization_id, site_id=site_id, category="emergency",
                template_kind="emergency_alert", data={"kind": kind, "title": title, "place": place, "level": number},
                targets=targets)
        return alert
    return None


def acknowledge(session: Session, alert: EmergencyAlert, *, actor: str, held_roles) -> EmergencyAlert:
    """Only someone holding one of the level's roles at the site answers for it."""
    chain = policy.value(session, chassis, alert.organization_id, alert.site_id, CHAIN)
    level_roles = set(chain[alert.level - 1]) if alert.level <= len(chain) else set()
    ALERT.step(alert.state, "acknowledge")
    if not level_roles & set(held_roles):
        raise Problem(403, "Forbidden",
                      f"Level {alert.level} is acknowledged by one of: {', '.join(sorted(level_roles))}.")
    now = datetime.now(timezone.utc)
    claimed = session.execute(update(EmergencyAlert).where(EmergencyAlert.id == alert.id,
                                                           EmergencyAlert.state == "alerted")
                              .values(state="acknowledged", acknowledged_by=actor, acknowledged_at=now,
                                      escalate_at=None))
    if claimed.rowcount != 1:
        session.refresh(alert)
        ALERT.step(alert.state, "acknowledge")
    audit.record_for(session, chassis.audit_log, alert, entity="emergency_alert", action="acknowledge", actor=actor,
                     from_state="alerted", to_state="acknowledged")
    session.refresh(alert)
    return alert


def escalate_due(sessions: sessionmaker, now: datetime | None = None) -> int:
    """Escalate every level whose time ran out unacknowledged; answers how many."""
    now = now or datetime.now(timezone.utc)
    table = EmergencyAlert.__table__
    with sessions() as session, session.begin():
        due = (select(table.c.id).where(table.c.state == "alerted", table.c.escalate_at <= now)
               .with_for_update(skip_locked=True))
        rows = session.execute(update(table).where(table.c.id.in_(due.scalar_subquery()), table.c.state == "alerted")
                               .values(state="escalated", escalate_at=None).returning(*table.c)).all()
        for row in rows:
            audit.record_for(session, chassis.audit_log, row, entity="emergency_alert", action="escalate",
                             actor="notifications", from_state="alerted", to_state="escalated",
                             reason="not acknowledged in time")
            _alert_level(session, Cause.here(row.incident_id, "emergency.escalated"),
                         organization_id=row.organization_id, site_id=row.site_id, incident_id=row.incident_id,
                         kind=row.kind, title=row.title, place=row.place, level=row.level + 1)
    return len(rows)


def observe_unacknowledged(sessions: sessionmaker) -> None:
    with sessions() as session:
        UNACKNOWLEDGED.labels(SERVICE).set(session.scalar(
            select(func.count()).select_from(EmergencyAlert).where(EmergencyAlert.state == "alerted")))
