"""HTTP boundary of the key register and the move-in handovers."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, List, Method, Nested, String
from apiflask.validators import Length, OneOf, Range

from services.access.inputs import an_id, listed_at_site, site_named
from services.access.keys import rules
from services.access.keys.tables import Key, KeyHandover
from services.access.places.tables import PassHolder, Unit
from shared.auth import auth, principal, require_role_at, roles_at
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("keys", __name__, url_prefix="/v1")


class KeyIn(Schema):
    site_id = an_id()
    unit_id = an_id(required=False, description="The unit the key opens; or name a common room.")
    room = String(load_default="", validate=Length(max=200))
    tag = String(required=True, validate=Length(1, 60))
    kind = String(required=True, validate=OneOf(rules.KINDS))
    copies = Integer(load_default=1, validate=Range(1, 100))


class StepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class HandOverIn(StepIn):
    person_id = an_id()


class SignIn(StepIn):
    signed_by = String(required=True, validate=Length(1, 200))
    signature_reference = String(required=True, validate=Length(1, 200),
                                 metadata={"description": "The signed receipt: a scan's id or the form number."})


class KeyQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.KEY.states))
    unit_id = String(load_default=None, validate=Length(36, 36))


class HandoverQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.HANDOVER.states))


class KeyOut(Schema):
    id = String()
    site_id = String()
    unit_id = String(allow_none=True)
    room = String()
    tag = String()
    kind = String()
    copies = Integer()
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    holder_person_id = String(allow_none=True)
    holder_name = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, key) -> list[str]:
        return [a for a in rules.KEY.allowed(key.state) if a not in ("lend", "take_back", "flag_outstanding")]


class HandedKeyOut(Schema):
    kind = String()
    count = Integer()


class HandoverOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    move_in_id = String()
    keys = List(Nested(HandedKeyOut))
    state = String()
    signed_by = String()
    signature_reference = String()
    signed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


@api.post("/keys")
@api.auth_required(auth)
@idempotent
@api.input(KeyIn)
@api.output(KeyOut, status_code=201)
def register_key(json_data):
    site = site_named(json_data.pop("site_id"))
    require_role_at(site.site_id, *rules.KEEPERS)
    unit_id = json_data.pop("unit_id")
    unit = get_referenced(Unit, unit_id, "unit_id", "unit") if unit_id else None
    if unit is not None and unit.site_id != site.site_id:
        raise unprocessable("unit_id", "The unit is not at this site.")
    return rules.register(db_session(), organization_id=site.organization_id, site_id=site.site_id, unit=unit,
                          actor=principal().subject, **json_data)


@api.get("/keys")
@api.auth_required(auth)
@api.input(KeyQuery, location="query")
@api.output(page_of(KeyOut))
def list_keys(query_data):
    return listed_at_site(Key, query_data, "state", "unit_id", roles=rules.KEEPERS)


@api.get("/keys/<key_id>")
@api.auth_required(auth)
@api.output(KeyOut)
def get_key(key_id):
    return get_visible(Key, key_id, "key")


@api.post("/keys/<key_id>/hand-over")
@api.auth_required(auth)
@api.input(HandOverIn)
@api.output(KeyOut)
def hand_over_key(key_id, json_data):
    key = get_visible(Key, key_id, "key")
    holder = get_referenced(PassHolder, json_data["person_id"], "person_id", "person")
    if holder.site_id != key.site_id:
        raise unprocessable("person_id", "The person is not at this key's site.")
    return rules.hand_over(db_session(), key, actor=principal().subject, roles=roles_at(key.site_id),
                           person_id=holder.person_id, full_name=holder.full_name, reason=json_data["reason"])


def _step(action: str):
    def take(session, key, **fields):
        return rules.move(session, key, action, **fields)
    return take


@api.post("/keys/<key_id>/custody")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(KeyOut)
def take_key_into_custody(key_id, json_data):
    """钥匙托管: the occupant leaves the key with the service centre."""
    return take_step(Key, key_id, "key", _step("take_into_custody"), json_data)


@api.post("/keys/<key_id>/return-to-occupant")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(KeyOut)
def return_key_to_occupant(key_id, json_data):
    return take_step(Key, key_id, "key", _step("return_to_occupant"), json_data)


@api.post("/keys/<key_id>/returned")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(KeyOut)
def record_key_returned(key_id, json_data):
    """A key flagged outstanding at a move-out is back in the office."""
    return take_step(Key, key_id, "key", _step("return"), json_data)


@api.post("/keys/<key_id>/lost")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(KeyOut)
def report_key_lost(key_id, json_data):
    return take_step(Key, key_id, "key", _step("report_lost"), json_data)


@api.post("/keys/<key_id>/found")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(KeyOut)
def report_key_found(key_id, json_data):
    return take_step(Key, key_id, "key", _step("find"), json_data)


@api.get("/key-handovers")
@api.auth_required(auth)
@api.input(HandoverQuery, location="query")
@api.output(page_of(HandoverOut))
def list_handovers(query_data):
    return listed_at_site(KeyHandover, query_data, "state", roles=rules.KEEPERS)


@api.get("/key-handovers/<handover_id>")
@api.auth_required(auth)
@api.output(HandoverOut)
def get_handover(handover_id):
    return get_visible(KeyHandover, handover_id, "key handover")


@api.post("/key-handovers/<handover_id>/sign")
@api.auth_required(auth)
@api.input(SignIn)
@api.output(HandoverOut)
def sign_handover(handover_id, json_data):
    return take_step(KeyHandover, handover_id, "key handover", rules.sign_handover, json_data)
