"""Meters (BIL-3): readings lower than the last refused, implausible ones flagged, opening readings from move-in,
a shared meter apportioned by area to the fen, and the daily prepaid check."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from psp.billing.v1.accounts_pb2 import PrepaidBalanceLow
from psp.occupants.v1.movein_pb2 import MeterOpeningReadingsRecorded, OpeningReading
from sqlalchemy import func, select

from services.billing.ledger.tables import Charge
from services.billing.meters import rules
from services.billing.meters.tables import Reading
from tests.unit.billing.conftest import CASHIER, MANAGER, a_site, add_item


def _meter(billing, site, unit_id="", code="W-1", kind="water", prepaid=False):
    answer = billing.client.post(f"/v1/sites/{site.site_id}/meters", headers=MANAGER, json={
        "unit_id": unit_id, "kind": kind, "code": code, "prepaid": prepaid})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _read(billing, meter, value, day):
    return billing.client.post(f"/v1/meters/{meter['id']}/readings", headers=CASHIER,
                               json={"value": value, "read_on": day})


def test_a_reading_lower_than_the_last_is_refused_and_an_implausible_one_flagged(billing, site):
    meter = _meter(billing, site, site.units[0])
    for value, day in (("100.00", "2026-01-31"), ("110.00", "2026-02-28"), ("121.00", "2026-03-31")):
        assert _read(billing, meter, value, day).status_code == 201
    lower = _read(billing, meter, "120.99", "2026-04-30")
    assert lower.status_code == 422 and lower.get_json()["field"] == "value"
    earlier = _read(billing, meter, "130.00", "2026-03-01")
    assert earlier.status_code == 422 and earlier.get_json()["field"] == "read_on"
    negative = _read(billing, meter, "-1", "2026-04-30")
    assert negative.status_code == 422
    # Average use so far 10.5; 50 is over three times that.
    leap = _read(billing, meter, "171.00", "2026-04-30")
    assert leap.status_code == 201
    assert leap.get_json()["consumption"] == "50.00" and leap.get_json()["flag"].startswith("implausible")
    normal = _read(billing, meter, "182.00", "2026-05-31").get_json()
    assert normal["flag"] == ""
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 5


def test_opening_readings_from_move_in_start_the_units_meters_once(billing, site):
    recorded = MeterOpeningReadingsRecorded(
        move_in_id="m-1", site_id=site.site_id, unit_id=site.units[0], person_id=site.owners[0],
        readings=[OpeningReading(meter="water", reading="1532.40"), OpeningReading(meter="electricity",
                                                                                    reading="8000.00")])
    recorded.read_at.FromDatetime(datetime(2026, 7, 1, 2, tzinfo=timezone.utc))
    billing.deliver(recorded)
    billing.deliver(recorded)
    meters = billing.client.get(f"/v1/sites/{site.site_id}/meters", headers=CASHIER).get_json()["items"]
    assert sorted(meter["code"] for meter in meters) == [f"electricity:{site.units[0]}", f"water:{site.units[0]}"]
    water = next(meter for meter in meters if meter["kind"] == "water")
    readings = billing.client.get(f"/v1/meters/{water['id']}/readings", headers=CASHIER).get_json()["items"]
    assert [(r["kind"], r["value"], r["consumption"], r["read_on"]) for r in readings] == [
        ("opening", "1532.40", "0.00", "2026-07-01")]
    assert _read(billing, water, "1540.40", "2026-07-31").get_json()["consumption"] == "8.00"


def test_a_shared_meter_is_apportioned_over_units_by_area_to_the_fen(billing):
    site = a_site(billing, units=3, area="33.33")
    add_item(billing, site.site_id, "common_electricity", "per_meter_unit", "monthly", "1", meter_kind="electricity")
    shared = _meter(billing, site, code="COMMON-E", kind="electricity")
    _read(billing, shared, "0.00", "2026-06-30")
    _read(billing, shared, "100.00", "2026-07-31")
    answer = billing.client.post(f"/v1/meters/{shared['id']}/apportion", headers=MANAGER,
                                 json={"item": "common_electricity", "period": "2026-07"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["charges_new"] == 3 and answer.get_json()["amount_new"] == "100.00"
    with billing.sessions() as session:
        shares = sorted(session.scalars(select(Charge.amount)).all())
    assert shares == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    again = billing.client.post(f"/v1/meters/{shared['id']}/apportion", headers=MANAGER,
                                json={"item": "common_electricity", "period": "2026-07"})
    assert again.get_json()["charges_new"] == 0
    unit_meter = _meter(billing, site, site.units[0], code="E-1", kind="electricity")
    assert billing.client.post(f"/v1/meters/{unit_meter['id']}/apportion", headers=MANAGER, json={
        "item": "common_electricity", "period": "2026-07"}).status_code == 409


def test_the_daily_check_warns_of_a_low_prepaid_balance_once_a_day(billing, site):
    meter = _meter(billing, site, site.units[0], code="E-PRE", kind="electricity", prepaid=True)
    topped = billing.client.post(f"/v1/meters/{meter['id']}/top-ups", headers=CASHIER, json={"amount": "20.00"})
    assert topped.status_code == 200 and topped.get_json()["prepaid_balance"] == "20.00"
    assert rules.check_prepaid(billing.sessions) == 1
    assert rules.check_prepaid(billing.sessions) == 0
    low = PrepaidBalanceLow()
    billing.outbox("prepaid.balance_low.v1")[0].payload.Unpack(low)
    assert (low.balance, low.threshold, low.person_id) == ("20.00", "50.00", site.owners[0])
    plain = _meter(billing, site, site.units[1], code="E-2", kind="electricity")
    refused = billing.client.post(f"/v1/meters/{plain['id']}/top-ups", headers=CASHIER, json={"amount": "20.00"})
    assert refused.status_code == 422 and refused.get_json()["field"] == "amount"
