"""HTTP boundary of the paid-services catalogue (BIL-6): prices per site, readable by every role at the site."""

from __future__ import annotations

import re

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from services.billing.catalogue import rules
from services.billing.catalogue.tables import PaidService
from services.billing.places.api import site_row
from services.billing.roles import EDITORS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import not_found, unprocessable
from shared.web import db_session

api = APIBlueprint("catalogue", __name__, url_prefix="/v1")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,59}$")


class PaidServiceIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    price = DecimalString(required=True, places=2, max_digits=12, minimum=0)
    unit = String(load_default="job", validate=OneOf(rules.UNITS))


class PaidServiceOut(Schema):
    id = String()
    site_id = String()
    code = String()
    name = String()
    price = DecimalString(places=2, max_digits=14)
    currency = String()
    unit = String()
    active = Boolean()
    updated_by = String()
    updated_at = UtcDateTime()


class WithdrawIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class CatalogueQuery(PageQuery):
    active = Boolean(load_default=None)


def _service(site_id: str, code: str) -> PaidService:
    service = db_session().scalar(select(PaidService).where(PaidService.site_id == site_row(site_id).site_id,
                                                             PaidService.code == code))
    if service is None:
        raise not_found("paid service")
    return service


@api.put("/sites/<site_id>/paid-services/<code>")
@api.auth_required(auth)
@api.input(PaidServiceIn)
@api.output(PaidServiceOut)
@api.doc(description="Offer the service at this price (new, changed or offered again); published to ticketing.")
def set_paid_service(site_id, code, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    if not _CODE.match(code):
        raise unprocessable("code", "A code is lower-case letters, digits and _, e.g. replace_tap.")
    return rules.set_price(db_session(), organization_id=site.organization_id, site_id=site.site_id, code=code,
                           actor=principal().subject, **json_data)


@api.get("/sites/<site_id>/paid-services")
@api.auth_required(auth)
@api.input(CatalogueQuery, location="query")
@api.output(page_of(PaidServiceOut))
def list_paid_services(site_id, query_data):
    stmt = select(PaidService).where(PaidService.site_id == site_row(site_id).site_id)
    if query_data["active"] is not None:
        stmt = stmt.where(PaidService.active.is_(query_data["active"]))
    return keyset_page(db_session(), stmt, (PaidService.code, PaidService.id), query_data)


@api.get("/sites/<site_id>/paid-services/<code>")
@api.auth_required(auth)
@api.output(PaidServiceOut)
def get_paid_service(site_id, code):
    return _service(site_id, code)


@api.post("/sites/<site_id>/paid-services/<code>/withdraw")
@api.auth_required(auth)
@api.input(WithdrawIn)
@api.output(PaidServiceOut)
def withdraw_paid_service(site_id, code, json_data):
    service = _service(site_id, code)
    require_role_at(service.site_id, *EDITORS)
    return rules.withdraw(db_session(), service, actor=principal().subject, reason=json_data["reason"])
