"""HTTP boundary of doors and zones: an operator registers what its readers guard."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import List, String
from apiflask.validators import Length, OneOf

from services.access.doors import rules
from services.access.doors.tables import DOOR_KINDS, Door, Zone
from services.access.inputs import an_id, ids, listed_at_site, site_named
from services.access.passes import held
from services.access.places.tables import Building
from shared.auth import auth, principal, require_role_at
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.problems import unprocessable
from shared.paging import PageQuery, page_of
from shared.roles import CS_SUPERVISOR, MANAGERS
from shared.web import db_session, get_referenced, get_visible

api = APIBlueprint("doors", __name__, url_prefix="/v1")

REGISTRARS = (*MANAGERS, CS_SUPERVISOR)


class ZoneIn(Schema):
    site_id = an_id()
    name = String(required=True, validate=Length(1, 200))


class ZoneOut(Schema):
    id = String()
    site_id = String()
    name = String()
    created_at = UtcDateTime()


class DoorIn(Schema):
    site_id = an_id()
    building_id = an_id(required=False)
    name = String(required=True, validate=Length(1, 200))
    kind = String(required=True, validate=OneOf(DOOR_KINDS))
    zone_ids = ids("Zones of the same site the door belongs to.")


class DoorZonesIn(Schema):
    zone_ids = ids("Zones of the same site the door belongs to.")


class DoorOut(Schema):
    id = String()
    site_id = String()
    building_id = String(allow_none=True)
    name = String()
    kind = String()
    zone_ids = List(String())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class SiteQuery(PageQuery):
    site_id = an_id()


@api.post("/zones")
@api.auth_required(auth)
@idempotent
@api.input(ZoneIn)
@api.output(ZoneOut, status_code=201)
def add_zone(json_data):
    site = site_named(json_data["site_id"])
    require_role_at(site.site_id, *REGISTRARS)
    return rules.add_zone(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                          name=json_data["name"], actor=principal().subject)


@api.get("/zones")
@api.auth_required(auth)
@api.input(SiteQuery, location="query")
@api.output(page_of(ZoneOut))
def list_zones(query_data):
    return listed_at_site(Zone, query_data)


@api.post("/doors")
@api.auth_required(auth)
@idempotent
@api.input(DoorIn)
@api.output(DoorOut, status_code=201)
def add_door(json_data):
    site = site_named(json_data["site_id"])
    require_role_at(site.site_id, *REGISTRARS)
    building_id = json_data["building_id"]
    if building_id is not None:
        building = get_referenced(Building, building_id, "building_id", "building")
        if building.site_id != site.site_id:
            raise unprocessable("building_id", "The building is not at this site.")
    door = rules.add_door(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                          building_id=building_id, name=json_data["name"], kind=json_data["kind"],
                          zone_ids=json_data["zone_ids"], actor=principal().subject)
    held.release(db_session(), site.organization_id, site.site_id)
    return door


@api.get("/doors")
@api.auth_required(auth)
@api.input(SiteQuery, location="query")
@api.output(page_of(DoorOut))
def list_doors(query_data):
    return listed_at_site(Door, query_data)


@api.get("/doors/<door_id>")
@api.auth_required(auth)
@api.output(DoorOut)
def get_door(door_id):
    return get_visible(Door, door_id, "door")


@api.put("/doors/<door_id>/zones")
@api.auth_required(auth)
@api.input(DoorZonesIn)
@api.output(DoorOut)
def change_door_zones(door_id, json_data):
    door = get_visible(Door, door_id, "door")
    require_role_at(door.site_id, *REGISTRARS)
    return rules.change_zones(db_session(), door, zone_ids=json_data["zone_ids"], actor=principal().subject)
