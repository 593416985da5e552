"""Patrol plans occupants publishes (a decoration's, a custody unit's, heavy rain's) become plans here."""

from __future__ import annotations

from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn

from services.ticketing.handlers import handlers
from services.ticketing.patrols import rules


@handlers.on(PatrolPlanPublished)
def take_plan(session, event) -> None:
    rules.receive_published(session, event.organization_id, event.payload)


@handlers.on(PatrolPlanWithdrawn)
def end_plan(session, event) -> None:
    rules.receive_withdrawn(session, event.organization_id, event.payload)
