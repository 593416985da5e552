"""Occupants' person and unit events keep ticketing's read models current. Upserts: a redelivered or
replayed event writes the same row again."""

from __future__ import annotations

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import PersonUpdated
from psp.occupants.v1.places_pb2 import UnitChanged, UnitRegistered

from services.ticketing.handlers import handlers
from services.ticketing.people.tables import Reporter, Unit
from shared.readmodel import upsert


@handlers.on_batch(PersonRegistered)
@handlers.on_batch(PersonUpdated)
def remember_reporters(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Reporter.__table__, [{
        "person_id": event.payload.person_id,
        "organization_id": event.organization_id,
        "full_name": event.payload.full_name,
        "phone": event.payload.phone,
        "site_id": event.payload.site_id,
        "updated_at": now,
    } for event in events], key=("person_id",))


@handlers.on_batch(UnitRegistered)
@handlers.on_batch(UnitChanged)
def remember_units(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Unit.__table__, [{
        "unit_id": event.payload.unit_id,
        "organization_id": event.organization_id,
        "site_id": event.payload.site_id,
        "building_id": event.payload.building_id,
        "floor": event.payload.floor,
        "number": event.payload.number,
        "kind": event.payload.kind,
        "state": event.payload.state,
        "updated_at": now,
    } for event in events], key=("unit_id",))
