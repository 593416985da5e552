"""HTTP boundary of places (OCC-1): sites, buildings, units."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import select

from services.occupants.places import rules
from services.occupants.places.tables import Building, Site
from shared.auth import auth, in_organization, principal, visible_site
from shared.fields import DecimalString
from shared.idempotency import idempotent
from shared.web import db_session, get_visible

api = APIBlueprint("places", __name__, url_prefix="/v1")

_Code = String(required=True, validate=Length(1, 40))
_Name = String(required=True, validate=Length(1, 200))


class SiteIn(Schema):
    code = _Code
    name = _Name


class SiteOut(Schema):
    id = String()
    code = String()
    name = String()


class BuildingIn(Schema):
    code = _Code
    name = _Name


class BuildingOut(Schema):
    id = String()
    site_id = String()
    code = String()
    name = String()


class UnitIn(Schema):
    number = String(required=True, validate=Length(1, 40))
    floor = Integer(required=True, validate=Range(-10, 200))
    kind = String(required=True, validate=OneOf(rules.UNIT_KINDS))
    state = String(load_default="vacant", validate=OneOf(rules.UNIT_STATES))
    floor_area_m2 = DecimalString(required=True, places=2, minimum=0, exclusive_minimum=True)


class UnitOut(Schema):
    id = String()
    building_id = String()
    number = String()
    floor = Integer()
    kind = String()
    state = String()
    floor_area_m2 = DecimalString(places=2)


def site_row(site_id: str) -> Site:
    """The site, if the caller's organization has it and the caller sees it; otherwise 404."""
    return get_visible(Site, visible_site(site_id), "site")


@api.post("/sites")
@api.auth_required(auth)
@idempotent
@api.input(SiteIn)
@api.output(SiteOut, status_code=201)
def create_site(json_data):
    return rules.create_site(db_session(), principal().organization_id, **json_data)


@api.get("/sites")
@api.auth_required(auth)
@api.output(SiteOut(many=True))
def list_sites():
    sites = db_session().scalars(in_organization(select(Site), Site).order_by(Site.code)).all()
    return [s for s in sites if principal().sees_site(s.id)]


@api.post("/sites/<site_id>/buildings")
@api.auth_required(auth)
@idempotent
@api.input(BuildingIn)
@api.output(BuildingOut, status_code=201)
def add_building(site_id, json_data):
    return rules.add_building(db_session(), site_row(site_id), **json_data)


@api.post("/buildings/<building_id>/units")
@api.auth_required(auth)
@idempotent
@api.input(UnitIn)
@api.output(UnitOut, status_code=201)
def add_unit(building_id, json_data):
    return rules.add_unit(db_session(), get_visible(Building, building_id, "building"), **json_data)
