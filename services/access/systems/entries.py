"""Entries and exits the systems report (ACC-5): each kept once per (system, serial number), with the pass it
used, whether it came by webhook, was read back from a device, or came twice."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.access.models import chassis
from services.access.systems.rules import doors_of
from services.access.systems.tables import AccessSystem, DoorEvent, SyncState
from shared import audit

DOOR_EVENTS = Counter("access_door_events_total",
                      "Entries and exits reported by door systems, by what became of them: kept, duplicate, "
                      "refused (a door not mapped to the system).", ["service", "adapter", "result"])
DIRECTIONS = ("entry", "exit", "unknown")
OUTCOMES = ("granted", "denied")


class DoorNotMapped(Exception):
    """The system reported a door the platform has no mapping for: the report is refused."""


def record(session: Session, system: AccessSystem, reported: dict) -> DoorEvent | None:
    """Keep one reported entry or exit; None when the system reported this serial number before.

    `reported`: serial_no, credential, system_door_id, direction, outcome, occurred_at, and pass_id when the
    system knows it. The pass is the one the platform pushed the credential for."""
    door_id = {number: door for door, number in doors_of(session, system.id).items()}.get(reported["system_door_id"])
    if door_id is None:
        raise DoorNotMapped(reported["system_door_id"])
    pass_id = reported.get("pass_id") or ""
    if reported["credential"]:
        pass_id = session.scalar(select(SyncState.pass_id).where(
            SyncState.system_id == system.id, SyncState.credential == reported["credential"])) or pass_id
    event = DoorEvent(id=str(uuid.uuid4()), organization_id=system.organization_id, site_id=system.site_id,
                      system_id=system.id, serial_no=reported["serial_no"], pass_id=pass_id,
                      credential=reported["credential"], door_id=door_id, system_door_id=reported["system_door_id"],
                      direction=reported["direction"], outcome=reported["outcome"],
                      occurred_at=reported["occurred_at"], received_at=datetime.now(timezone.utc))
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        DOOR_EVENTS.labels("access", system.adapter, "duplicate").inc()
        return None
    DOOR_EVENTS.labels("access", system.adapter, "kept").inc()
    return event


def refuse(session: Session, system: AccessSystem, reported: dict) -> None:
    """Record that a report naming a door not mapped to the system was refused."""
    DOOR_EVENTS.labels("access", system.adapter, "refused").inc()
    audit.record_for(session, chassis.audit_log, system, entity="access_system", action="refuse_door_event",
                     actor=f"system:{system.id}", reason="door_not_mapped",
                     data={"serial_no": reported["serial_no"], "system_door_id": reported["system_door_id"]})
