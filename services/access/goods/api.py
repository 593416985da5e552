"""HTTP boundary of goods release."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Method, Nested, String
from apiflask.validators import Length, OneOf, Range

from services.access.goods import rules
from services.access.goods.tables import GoodsRelease
from services.access.inputs import an_id, listed_at_site
from services.access.places.tables import PassHolder, Unit
from shared.auth import auth, principal, require_role_at
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, page_of
from shared.problems import unprocessable
from shared.roles import SECURITY_GUARD
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("goods", __name__, url_prefix="/v1")


class GoodsItemIn(Schema):
    description = String(required=True, validate=Length(1, 200))
    quantity = Integer(load_default=1, validate=Range(1, 10000))


class GoodsReleaseIn(Schema):
    unit_id = an_id()
    person_id = an_id(description="The occupant the goods belong to.")
    carrier_name = String(required=True, validate=Length(1, 200))
    items = List(Nested(GoodsItemIn), required=True, validate=Length(1, 100))
    large_items = Boolean(load_default=False, metadata={"description": "Furniture, appliances …: the occupant "
                                                                       "must confirm."})


class StepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class ReleaseIn(StepIn):
    slip_number = String(required=True, validate=Length(1, 40))
    gate = String(load_default="", validate=Length(max=200))


class GoodsQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.GOODS.states))


class GoodsItemOut(Schema):
    description = String()
    quantity = Integer()


class GoodsReleaseOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    carrier_name = String()
    items = List(Nested(GoodsItemOut))
    large_items = Boolean()
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    applied_by = String()
    confirmed_by = String()
    slip_number = String(allow_none=True)
    released_by = String()
    released_at = UtcDateTime(allow_none=True)
    gate = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, goods) -> list[str]:
        return rules.GOODS.allowed(goods.state)


@api.post("/goods-releases")
@api.auth_required(auth)
@idempotent
@api.input(GoodsReleaseIn)
@api.output(GoodsReleaseOut, status_code=201)
def apply(json_data):
    unit = get_referenced(Unit, json_data.pop("unit_id"), "unit_id", "unit")
    occupant = get_referenced(PassHolder, json_data["person_id"], "person_id", "person")
    if occupant.site_id != unit.site_id:
        raise unprocessable("person_id", "The person is not at this unit's site.")
    if principal().subject != occupant.person_id:
        require_role_at(unit.site_id, *rules.CS)
    return rules.apply(db_session(), unit, actor=principal().subject, **json_data)


@api.get("/goods-releases")
@api.auth_required(auth)
@api.input(GoodsQuery, location="query")
@api.output(page_of(GoodsReleaseOut))
def list_releases(query_data):
    return listed_at_site(GoodsRelease, query_data, "state", roles=(*rules.CS, SECURITY_GUARD))


@api.get("/goods-releases/<release_id>")
@api.auth_required(auth)
@api.output(GoodsReleaseOut)
def get_release(release_id):
    return get_visible(GoodsRelease, release_id, "goods release")


@api.post("/goods-releases/<release_id>/confirm")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(GoodsReleaseOut)
def confirm(release_id, json_data):
    return take_step(GoodsRelease, release_id, "goods release", rules.confirm, json_data)


@api.post("/goods-releases/<release_id>/slip")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(GoodsReleaseOut)
def issue_slip(release_id, json_data):
    return take_step(GoodsRelease, release_id, "goods release", rules.issue_slip, json_data)


@api.post("/goods-releases/<release_id>/release")
@api.auth_required(auth)
@api.input(ReleaseIn)
@api.output(GoodsReleaseOut)
def release(release_id, json_data):
    return take_step(GoodsRelease, release_id, "goods release", rules.release, json_data)


@api.post("/goods-releases/<release_id>/cancel")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(GoodsReleaseOut)
def cancel(release_id, json_data):
    return take_step(GoodsRelease, release_id, "goods release", rules.cancel, json_data)
