"""HTTP boundary of meters (BIL-3): a unit's and the site's shared meters, readings, apportionment (公摊) and
prepaid top-ups."""

from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, Integer, String
from apiflask.validators import Length, OneOf, Range, Regexp
from sqlalchemy import select

from services.billing.billruns.rules import month_end, month_of
from services.billing.meters import rules
from services.billing.meters.tables import Meter, Reading
from services.billing.places.api import site_row
from services.billing.places.rules import today_at
from services.billing.places.tables import Unit
from services.billing.rates.rules import METER_KINDS
from services.billing.roles import COLLECTORS, EDITORS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_referenced, get_visible

api = APIBlueprint("meters", __name__, url_prefix="/v1")

Value = DecimalString(places=2, max_digits=14, minimum=0)


class MeterIn(Schema):
    unit_id = String(load_default="", validate=Length(max=36),
                     metadata={"description": "The unit; empty for a shared (common-area) meter."})
    kind = String(required=True, validate=OneOf(METER_KINDS))
    code = String(required=True, validate=Length(1, 60))
    prepaid = Boolean(load_default=False)


class MeterOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    kind = String()
    code = String()
    prepaid = Boolean()
    prepaid_balance = DecimalString(places=2, max_digits=14)
    created_at = UtcDateTime()


class ReadingIn(Schema):
    value = DecimalString(required=True, places=2, max_digits=14, minimum=0)
    read_on = Date(load_default=None, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
                   metadata={"description": "The site's local day; default today."})


class ReadingOut(Schema):
    id = String()
    number = Integer()
    value = Value
    consumption = Value
    read_on = Date()
    kind = String(metadata={"description": "opening (from move-in) or regular."})
    flag = String(metadata={"description": "Why the reading is implausible; empty when it is not."})
    read_by = String()
    created_at = UtcDateTime()


class ApportionIn(Schema):
    item = String(required=True, validate=Length(1, 60),
                  metadata={"description": "The per-meter-unit fee item priced, e.g. common_electricity."})
    period = String(required=True, validate=Regexp(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"))


class ApportionOut(Schema):
    meter_id = String()
    period = String()
    charges_new = Integer()
    amount_new = DecimalString(places=2, max_digits=14)


class TopUpIn(Schema):
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)


def _meter(meter_id: str) -> Meter:
    return get_visible(Meter, meter_id, "meter")


@api.post("/sites/<site_id>/meters")
@api.auth_required(auth)
@idempotent
@api.input(MeterIn)
@api.output(MeterOut, status_code=201)
def add_meter(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    if json_data["unit_id"]:
        unit = get_referenced(Unit, json_data["unit_id"], "unit_id", "unit")
        if unit.site_id != site.site_id:
            raise unprocessable("unit_id", "The unit is at another site.")
    return rules.add_meter(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                           actor=principal().subject, **json_data)


@api.get("/sites/<site_id>/meters")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(MeterOut))
def list_meters(site_id, query_data):
    stmt = select(Meter).where(Meter.site_id == site_row(site_id).site_id)
    return keyset_page(db_session(), stmt, (Meter.code, Meter.id), query_data)


@api.post("/meters/<meter_id>/readings")
@api.auth_required(auth)
@idempotent
@api.input(ReadingIn)
@api.output(ReadingOut, status_code=201)
@api.doc(description="A reading lower than the last is refused; an implausible consumption is kept and flagged.")
def record_reading(meter_id, json_data):
    meter = _meter(meter_id)
    require_role_at(meter.site_id, *COLLECTORS)
    session = db_session()
    return rules.record_reading(session, meter, value=json_data["value"],
                                read_on=json_data["read_on"] or today_at(session, meter.site_id),
                                actor=principal().subject)


@api.get("/meters/<meter_id>/readings")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(ReadingOut))
def list_readings(meter_id, query_data):
    stmt = select(Reading).where(Reading.meter_id == _meter(meter_id).id)
    return keyset_page(db_session(), stmt, (Reading.number,), query_data)


@api.post("/meters/<meter_id>/apportion")
@api.auth_required(auth)
@api.input(ApportionIn)
@api.output(ApportionOut)
@api.doc(description="The shared meter's consumption in the month, priced, split over the site's units by area "
                     "(公摊); each unit's share is raised once.")
def apportion(meter_id, json_data):
    meter = _meter(meter_id)
    require_role_at(meter.site_id, *EDITORS)
    first = month_of(json_data["period"])
    new = rules.apportion(db_session(), meter, item_code=json_data["item"], start=first, end=month_end(first),
                          period=json_data["period"], actor=principal().subject)
    return {"meter_id": meter.id, "period": json_data["period"], "charges_new": len(new),
            "amount_new": sum((row["amount"] for row in new), 0)}


@api.post("/meters/<meter_id>/top-ups")
@api.auth_required(auth)
@idempotent
@api.input(TopUpIn)
@api.output(MeterOut)
def top_up(meter_id, json_data):
    meter = _meter(meter_id)
    require_role_at(meter.site_id, *COLLECTORS)
    return rules.top_up(db_session(), meter, amount=json_data["amount"], actor=principal().subject)
