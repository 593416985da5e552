"""HTTP boundary of fee items, rates and a site's rate card (BIL-1)."""

from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from sqlalchemy import select

from services.billing.models import CURRENCY
from services.billing.places.api import site_row
from services.billing.places.rules import today_at
from services.billing.rates import rules
from services.billing.rates.tables import FeeItem, Rate
from services.billing.roles import EDITORS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("rates", __name__, url_prefix="/v1")

_Day = Date(validate=Range(date(2000, 1, 1), date(2099, 12, 31)))
Price = DecimalString(places=4, max_digits=14, minimum=0,
                      metadata={"description": "Per m² per month, per meter unit, per use, or per month fixed."})


class FeeItemIn(Schema):
    code = String(required=True, validate=Regexp(r"^[a-z][a-z0-9_]{1,59}$"),
                  metadata={"description": "Stable code, e.g. management_fee."})
    name = String(required=True, validate=Length(1, 200))
    basis = String(required=True, validate=OneOf(rules.BASES))
    cycle = String(required=True, validate=OneOf(tuple(rules.CYCLES)))
    meter_kind = String(load_default="", validate=OneOf(("", *rules.METER_KINDS)))
    formula = String(load_default="", validate=Length(max=500), metadata={
        "description": "For the formula basis: an expression over " + ", ".join(rules.FORMULA_NAMES)
                       + " with + - * / min() max(), e.g. `area * price * months + 20`."})


class FeeItemOut(Schema):
    id = String()
    site_id = String()
    code = String()
    name = String()
    basis = String()
    cycle = String()
    meter_kind = String()
    formula = String()
    created_at = UtcDateTime()


class RateIn(Schema):
    price = DecimalString(required=True, places=4, max_digits=14, minimum=0)
    effective_from = Date(required=True, validate=Range(date(2000, 1, 1), date(2099, 12, 31)))
    effective_to = Date(load_default=None, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
                        metadata={"description": "The last day it applies; absent: until further notice."})


class RateOut(Schema):
    id = String()
    item_id = String()
    price = Price
    currency = String()
    effective_from = Date()
    effective_to = Date(allow_none=True)
    created_by = String()
    created_at = UtcDateTime()


class RateCardLine(Schema):
    item = Nested(FeeItemOut)
    price = Price
    currency = String()


class RateCardOut(Schema):
    site_id = String()
    on = Date()
    lines = List(Nested(RateCardLine))


class RateCardQuery(Schema):
    on = _Day


def _item(item_id: str) -> FeeItem:
    return get_visible(FeeItem, item_id, "fee item")


@api.post("/sites/<site_id>/fee-items")
@api.auth_required(auth)
@idempotent
@api.input(FeeItemIn)
@api.output(FeeItemOut, status_code=201)
def create_fee_item(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    return rules.create_item(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                             actor=principal().subject, **json_data)


@api.get("/sites/<site_id>/fee-items")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(FeeItemOut))
def list_fee_items(site_id, query_data):
    stmt = select(FeeItem).where(FeeItem.site_id == site_row(site_id).site_id)
    return keyset_page(db_session(), stmt, (FeeItem.code, FeeItem.id), query_data)


@api.get("/fee-items/<item_id>")
@api.auth_required(auth)
@api.output(FeeItemOut)
def get_fee_item(item_id):
    return _item(item_id)


@api.post("/fee-items/<item_id>/rates")
@api.auth_required(auth)
@idempotent
@api.input(RateIn)
@api.output(RateOut, status_code=201)
def add_rate(item_id, json_data):
    item = _item(item_id)
    require_role_at(item.site_id, *EDITORS)
    return rules.add_rate(db_session(), item, actor=principal().subject, **json_data)


@api.get("/fee-items/<item_id>/rates")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(RateOut))
def list_rates(item_id, query_data):
    stmt = select(Rate).where(Rate.item_id == _item(item_id).id)
    return keyset_page(db_session(), stmt, (Rate.effective_from, Rate.id), query_data)


@api.get("/sites/<site_id>/rate-card")
@api.auth_required(auth)
@api.input(RateCardQuery, location="query")
@api.output(RateCardOut)
@api.doc(description="The site's items with the price in force on the day (default: today at the site).")
def rate_card(site_id, query_data):
    site = site_row(site_id)
    session = db_session()
    day = query_data.get("on") or today_at(session, site.site_id)
    prices = rules.prices_on(session, site.site_id, day)
    return {"site_id": site.site_id, "on": day, "lines": [
        {"item": item, "price": price, "currency": CURRENCY} for _, (item, price) in sorted(prices.items())]}
