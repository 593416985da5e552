"""HTTP boundary of people (OCC-2): persons and companies."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import List, String
from apiflask.validators import Length, OneOf
from marshmallow.validate import Email

from services.occupants.people import rules
from services.occupants.people.tables import Person
from services.occupants.places.api import site_row
from shared.auth import auth, principal
from shared.idempotency import idempotent
from shared.web import db_session, get_visible

api = APIBlueprint("people", __name__, url_prefix="/v1")


class PersonIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    kind = String(load_default="individual", validate=OneOf(rules.PERSON_KINDS))
    full_name = String(required=True, validate=Length(1, 200))
    phone = String(load_default="", validate=Length(max=40))
    email = String(load_default="", validate=[Length(max=200), Email(error="Not a valid e-mail address.")])
    preferred_language = String(load_default="zh-CN", validate=OneOf(rules.LANGUAGES))
    preferred_channels = List(String(validate=OneOf(rules.CHANNELS)), load_default=lambda: ["sms"],
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


@api.post("/persons")
@api.auth_required(auth)
@idempotent
@api.input(PersonIn)
@api.output(PersonOut, status_code=201)
def register_person(json_data):
    site = site_row(json_data.pop("site_id"))
    return rules.register_person(db_session(), site, registered_by=principal().subject, **json_data)


@api.get("/persons/<person_id>")
@api.auth_required(auth)
@api.output(PersonOut)
def get_person(person_id):
    return get_visible(Person, person_id, "person")
