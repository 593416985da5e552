"""Occupants' place and person events keep access's read models current. Upserts: a redelivered or replayed
event writes the same row again."""

from __future__ import annotations

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import PersonUpdated
from psp.occupants.v1.places_pb2 import BuildingRegistered, SiteRegistered, SiteUpdated, UnitRegistered

from services.access.handlers import handlers
from services.access.models import utcnow
from services.access.places.tables import Building, PassHolder, Site, Unit
from shared.readmodel import upsert


@handlers.on_batch(SiteRegistered)
@handlers.on_batch(SiteUpdated)
def remember_sites(session, events):
    now = utcnow()
    upsert(session, Site.__table__, [{
        "site_id": e.payload.site_id, "organization_id": e.organization_id, "code": e.payload.code,
        "name": e.payload.name, "time_zone": e.payload.time_zone or "Asia/Shanghai", "updated_at": now,
    } for e in events], key=("site_id",))


@handlers.on_batch(BuildingRegistered)
def remember_buildings(session, events):
    now = utcnow()
    upsert(session, Building.__table__, [{
        "building_id": e.payload.building_id, "organization_id": e.organization_id, "site_id": e.payload.site_id,
        "code": e.payload.code, "name": e.payload.name, "updated_at": now,
    } for e in events], key=("building_id",))


@handlers.on_batch(UnitRegistered)
def remember_units(session, events):
    now = utcnow()
    upsert(session, Unit.__table__, [{
        "unit_id": e.payload.unit_id, "organization_id": e.organization_id, "site_id": e.payload.site_id,
        "building_id": e.payload.building_id, "number": e.payload.number, "updated_at": now,
    } for e in events], key=("unit_id",))


@handlers.on_batch(PersonRegistered)
@handlers.on_batch(PersonUpdated)
def remember_pass_holders(session, events):
    now = utcnow()
    upsert(session, PassHolder.__table__, [{
        "person_id": e.payload.person_id, "organization_id": e.organization_id, "full_name": e.payload.full_name,
        "kind": e.payload.kind, "site_id": e.payload.site_id, "updated_at": now,
    } for e in events], key=("person_id",))
