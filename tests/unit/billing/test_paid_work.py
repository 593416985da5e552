"""Charges from other services' events: the catalogue ticketing prices from (BIL-6), accepted paid work, and
after-hours air conditioning from access (SPEC §7). Each source raises its charge once."""

from __future__ import annotations

from datetime import datetime, timezone

from psp.access.v1.afterhours_pb2 import AfterHoursRegistered
from psp.billing.v1.catalogue_pb2 import PaidServicePriced
from psp.ticketing.v1.repairs_pb2 import RepairWorkAccepted
from sqlalchemy import select

from services.billing.ledger.tables import Charge
from tests.unit.billing.conftest import CASHIER, MANAGER, add_item


def test_a_price_set_or_withdrawn_is_published_for_ticketing(billing, site):
    url = f"/v1/sites/{site.site_id}/paid-services/replace_tap"
    assert billing.client.put(url, headers=CASHIER, json={"name": "Replace a tap", "price": "80.00"}).status_code == 403
    priced = billing.client.put(url, headers=MANAGER, json={"name": "Replace a tap", "price": "80.00"})
    assert priced.status_code == 200 and priced.get_json()["active"] is True
    assert billing.client.put(f"/v1/sites/{site.site_id}/paid-services/Bad-Code", headers=MANAGER,
                              json={"name": "x", "price": "1"}).get_json()["field"] == "code"
    assert billing.client.put(url, headers=MANAGER, json={"name": "Replace a tap", "price": "-1"}).status_code == 422
    event = PaidServicePriced()
    billing.outbox("paid_service.priced.v1")[0].payload.Unpack(event)
    assert (event.code, event.price, event.unit) == ("replace_tap", "80.00", "job")
    withdrawn = billing.client.post(f"{url}/withdraw", headers=MANAGER, json={"reason": "no plumber"})
    assert withdrawn.status_code == 200 and withdrawn.get_json()["active"] is False
    assert billing.client.post(f"{url}/withdraw", headers=MANAGER, json={}).status_code == 409
    assert len(billing.outbox("paid_service.withdrawn.v1")) == 1
    listed = billing.client.get(f"/v1/sites/{site.site_id}/paid-services?active=false", headers=CASHIER).get_json()
    assert [service["code"] for service in listed["items"]] == ["replace_tap"]


def test_accepted_paid_work_is_charged_once(billing, site):
    accepted = RepairWorkAccepted(work_order_id="wo-1", ticket_id="t-1", site_id=site.site_id, unit_id=site.units[0],
                                  person_id=site.owners[0], service_code="replace_tap", description="Replace a tap",
                                  quantity="2", unit_price="80.00", amount="160.00", currency="CNY")
    billing.deliver(accepted)
    billing.deliver(accepted)
    with billing.sessions() as session:
        charges = session.scalars(select(Charge)).all()
    assert [(c.item, str(c.amount), c.source_id, c.person_id) for c in charges] == [
        ("paid_service", "160.00", "wo-1", site.owners[0])]


def test_after_hours_air_conditioning_is_charged_per_hour(billing, site):
    add_item(billing, site.site_id, "overtime_air_conditioning", "per_use", "one_off", "120")
    registration = AfterHoursRegistered(registration_id="ah-1", site_id=site.site_id, unit_id=site.units[1],
                                        person_id=site.owners[1], air_conditioning=True)
    registration.starts_at.FromDatetime(datetime(2026, 7, 3, 10, 0, tzinfo=timezone.utc))
    registration.ends_at.FromDatetime(datetime(2026, 7, 3, 12, 30, tzinfo=timezone.utc))
    billing.deliver(registration)
    billing.deliver(registration)
    no_air = AfterHoursRegistered(registration_id="ah-2", site_id=site.site_id, unit_id=site.units[1],
                                  person_id=site.owners[1], air_conditioning=False)
    billing.deliver(no_air)
    with billing.sessions() as session:
        charges = session.scalars(select(Charge)).all()
    assert [(c.item, str(c.amount), c.due_on.isoformat()) for c in charges] == [
        ("overtime_air_conditioning", "300.00", "2026-07-03")]
