"""Occupants' HTTP boundary: schemas validate the request, domain functions do the work."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Decimal, Integer, List, String
from apiflask.validators import Length, OneOf, Range
from marshmallow.validate import Email
from sqlalchemy import select

from services.occupants import domain
from services.occupants.models import Building, Person, Site
from services.occupants.service import SERVICE
from shared.auth import auth, in_organization, principal, visible_site
from shared.idempotency import idempotent
from shared.problems import not_found
from shared.web import create_service_app, db_session

api = APIBlueprint("occupants", __name__, url_prefix="/v1")

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
    kind = String(required=True, validate=OneOf(domain.UNIT_KINDS))
    state = String(load_default="vacant", validate=OneOf(domain.UNIT_STATES))
    floor_area_m2 = Decimal(required=True, places=2, as_string=True, validate=Range(min=0, min_inclusive=False))


class UnitOut(Schema):
    id = String()
    building_id = String()
    number = String()
    floor = Integer()
    kind = String()
    state = String()
    floor_area_m2 = Decimal(as_string=True)


class PersonIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    kind = String(load_default="individual", validate=OneOf(domain.PERSON_KINDS))
    full_name = _Name
    phone = String(load_default="", validate=Length(max=40))
    email = String(load_default="", validate=[Length(max=200), Email(error="Not a valid e-mail address.")])
    preferred_language = String(load_default="zh-CN", validate=OneOf(domain.LANGUAGES))
    preferred_channels = List(String(validate=OneOf(domain.CHANNELS)), load_default=lambda: ["sms"],
                              validate=Length(max=3))


class PersonOut(Schema):
    id = String()
    site_id = String()
    kind = String()
    full_name = String()
    phone = String()
    email = String()
    preferred_language = String()
    preferred_channels = List(String())


def _site(site_id: str) -> Site:
    site = db_session().scalar(in_organization(select(Site), Site).where(Site.id == visible_site(site_id)))
    if site is None:
        raise not_found("site")
    return site


@api.post("/sites")
@api.auth_required(auth)
@idempotent
@api.input(SiteIn)
@api.output(SiteOut, status_code=201)
def create_site(json_data):
    return domain.create_site(db_session(), principal().organization_id, **json_data)


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
    return domain.add_building(db_session(), _site(site_id), **json_data)


@api.post("/buildings/<building_id>/units")
@api.auth_required(auth)
@idempotent
@api.input(UnitIn)
@api.output(UnitOut, status_code=201)
def add_unit(building_id, json_data):
    building = db_session().scalar(in_organization(select(Building), Building).where(Building.id == building_id))
    if building is None or not principal().sees_site(building.site_id):
        raise not_found("building")
    return domain.add_unit(db_session(), building, **json_data)


@api.post("/persons")
@api.auth_required(auth)
@idempotent
@api.input(PersonIn)
@api.output(PersonOut, status_code=201)
def register_person(json_data):
    site = _site(json_data.pop("site_id"))
    return domain.register_person(db_session(), site, registered_by=principal().subject, **json_data)


@api.get("/persons/<person_id>")
@api.auth_required(auth)
@api.output(PersonOut)
def get_person(person_id):
    person = db_session().scalar(in_organization(select(Person), Person).where(Person.id == person_id))
    if person is None or not principal().sees_site(person.site_id):
        raise not_found("person")
    return person


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    app.register_blueprint(api)
    return app
