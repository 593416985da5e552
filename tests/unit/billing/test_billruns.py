"""Bill runs (BIL-2) on SQLite: every unit charged once per (unit, item, period), custody units at 70%, meter
consumption priced, a run resumed after a crash, bills issued per payer, progress and summary."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from psp.billing.v1.accounts_pb2 import BillIssued
from psp.occupants.v1.custody_pb2 import CustodyEnded, CustodyStarted
from psp.occupants.v1.people_pb2 import OccupancyEnded
from sqlalchemy import func, select, update

from services.billing.billruns import rules
from services.billing.billruns.tables import BillRun
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Charge
from services.billing.models import chassis, utcnow
from services.billing.places.tables import Occupancy, Unit
from shared import policy
from tests.conftest import ORG_A
from tests.unit.billing.conftest import CASHIER, MANAGER, a_site, add_item


def _queue(billing, site_id, period="2026-07"):
    answer = billing.client.post(f"/v1/sites/{site_id}/bill-runs", headers=MANAGER, json={"period": period})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()


def _charges(billing, **where):
    with billing.sessions() as session:
        return sorted((c.unit_id, c.item, c.period, str(c.amount)) for c in session.scalars(
            select(Charge).filter_by(**where)))


def test_a_run_charges_every_unit_for_each_item_due_in_the_period(billing):
    site = a_site(billing, units=3, area="89.50")
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    add_item(billing, site.site_id, "elevator", "fixed", "quarterly", "30")
    add_item(billing, site.site_id, "heating", "per_area", "yearly", "20")
    run = _queue(billing, site.site_id)
    assert run["state"] == "queued"
    assert rules.run_queued(billing.sessions) == 1

    done = billing.client.get(f"/v1/bill-runs/{run['id']}", headers=CASHIER).get_json()
    assert (done["state"], done["progress"], done["charges_new"], done["bills_issued"]) == ("done", "3/3", 6, 3)
    # July: the month's management fee (89.50 × 2.5) and the third quarter's elevator fee (3 × 30); heating is
    # billed in January only.
    assert done["amount_new"] == "941.25"
    assert _charges(billing, item="management_fee") == sorted((unit, "management_fee", "2026-07", "223.75")
                                                              for unit in site.units)
    assert _charges(billing, item="elevator") == sorted((unit, "elevator", "2026-Q3", "90.00") for unit in site.units)
    assert _charges(billing, item="heating") == []
    bills = billing.outbox("bill.issued.v1")
    issued = BillIssued()
    bills[0].payload.Unpack(issued)
    assert len(bills) == 3 and issued.amount == "313.75" and issued.period == "2026-07"
    assert issued.person_id in site.owners


def test_a_repeated_run_raises_nothing_new(billing, site):
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    _queue(billing, site.site_id)
    rules.run_queued(billing.sessions)
    again = _queue(billing, site.site_id)
    rules.run_queued(billing.sessions)
    repeated = billing.client.get(f"/v1/bill-runs/{again['id']}", headers=CASHIER).get_json()
    assert (repeated["state"], repeated["charges_new"], repeated["bills_issued"]) == ("done", 0, 0)
    assert len(_charges(billing)) == 2 and len(billing.outbox("bill.issued.v1")) == 2


def test_a_second_run_of_a_period_under_way_is_refused(billing, site):
    _queue(billing, site.site_id)
    busy = billing.client.post(f"/v1/sites/{site.site_id}/bill-runs", headers=MANAGER, json={"period": "2026-07"})
    assert busy.status_code == 409 and busy.get_json()["field"] == "period"
    bad = billing.client.post(f"/v1/sites/{site.site_id}/bill-runs", headers=MANAGER, json={"period": "2026-13"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "period"
    assert billing.client.post(f"/v1/sites/{site.site_id}/bill-runs", headers=CASHIER,
                               json={"period": "2026-08"}).status_code == 403


def test_a_run_whose_worker_died_is_taken_over_from_its_cursor(billing, monkeypatch):
    site = a_site(billing, units=5)
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "1")
    monkeypatch.setattr(rules, "BATCH_UNITS", 2)
    run = _queue(billing, site.site_id)
    with billing.sessions() as session, session.begin():
        # A worker took the run, billed the first two units, and died with its lease running.
        units = sorted(site.units)[:2]
        rules.bill_units(session, ORG_A, site.site_id, "2026-07",
                         session.scalars(select(Unit).where(Unit.unit_id.in_(units)).order_by(Unit.unit_id)).all())
        session.execute(update(BillRun).where(BillRun.id == run["id"]).values(
            state="running", cursor=units[0], units_done=1, lease_holder="dead",
            lease_until=utcnow() + timedelta(minutes=1), started_at=utcnow(), units_total=5))
    assert rules.run_queued(billing.sessions) == 0
    with billing.sessions() as session, session.begin():
        session.execute(update(BillRun).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert rules.run_queued(billing.sessions) == 1
    done = billing.client.get(f"/v1/bill-runs/{run['id']}", headers=CASHIER).get_json()
    # The second unit was billed before the crash: taken again, it is skipped.
    assert (done["state"], done["units_done"], done["charges_new"]) == ("done", 5, 3)
    assert len(_charges(billing)) == 5


def test_custody_units_pay_seventy_percent_of_unmetered_fees(billing):
    site = a_site(billing, units=1, area="100.00", state="in_custody")
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    _queue(billing, site.site_id)
    rules.run_queued(billing.sessions)
    assert _charges(billing) == [(site.units[0], "management_fee", "2026-07", "175.00")]


def test_a_custody_agreements_fee_rate_sets_the_units_share_until_it_ends(billing):
    site = a_site(billing, units=2, area="100.00", state="in_custody")
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    agreements = [CustodyStarted(agreement_id=str(uuid.uuid4()), site_id=site.site_id, unit_id=unit,
                                 owner_id=owner, starts_on="2026-06-01", fee_rate=rate)
                  for unit, owner, rate in zip(site.units, site.owners, ("0.50", ""))]
    billing.deliver(*agreements)
    _queue(billing, site.site_id)
    rules.run_queued(billing.sessions)
    # The agreed 50%; an agreement naming no share pays the policy's 70%.
    assert sorted(_charges(billing)) == sorted([(site.units[0], "management_fee", "2026-07", "125.00"),
                                                (site.units[1], "management_fee", "2026-07", "175.00")])
    billing.deliver(CustodyEnded(agreement_id=agreements[0].agreement_id, site_id=site.site_id,
                                 unit_id=site.units[0], owner_id=site.owners[0], ended_on="2026-07-31"))
    _queue(billing, site.site_id, "2026-08")
    rules.run_queued(billing.sessions)
    assert (site.units[0], "management_fee", "2026-08", "175.00") in _charges(billing)


def test_metered_items_charge_the_consumption_read_in_the_month(billing, site):
    add_item(billing, site.site_id, "water", "per_meter_unit", "monthly", "3.2", meter_kind="water")
    meter = billing.client.post(f"/v1/sites/{site.site_id}/meters", headers=MANAGER, json={
        "unit_id": site.units[0], "kind": "water", "code": "W-101"}).get_json()
    for value, day in (("100.00", "2026-06-30"), ("112.50", "2026-07-31")):
        assert billing.client.post(f"/v1/meters/{meter['id']}/readings", headers=CASHIER,
                                   json={"value": value, "read_on": day}).status_code == 201
    _queue(billing, site.site_id)
    rules.run_queued(billing.sessions)
    # The other unit read nothing and owes nothing for water.
    assert _charges(billing) == [(site.units[0], "water", "2026-07", "40.00")]


def test_prepaid_money_is_spent_on_the_months_charges_as_they_are_billed(billing, site):
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    assert billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": "600.00", "method": "counter", "reference": "PRE-1"}).status_code == 201
    for period in ("2026-07", "2026-08", "2026-09"):
        _queue(billing, site.site_id, period)
        rules.run_queued(billing.sessions)
    account = billing.client.get(f"/v1/accounts/{ledger.account_id(site.units[0], site.owners[0])}",
                                 headers=CASHIER).get_json()
    # 3 × 250 charged, 600 prepaid: two months paid, 100 of the third.
    assert (account["balance"], account["outstanding"], account["prepaid"]) == ("150.00", "150.00", "0.00")


def test_a_move_out_raises_the_final_bill_for_the_month(billing, site):
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2.5")
    with billing.sessions() as session:
        occupancy_id = session.scalar(select(Occupancy.occupancy_id).where(Occupancy.unit_id == site.units[0]))
    ended = OccupancyEnded(occupancy_id=occupancy_id, site_id=site.site_id, unit_id=site.units[0],
                           person_id=site.owners[0], role="owner", reason="moved out", end_date="2026-09-15")
    billing.deliver(ended)
    billing.deliver(ended)
    assert _charges(billing) == [(site.units[0], "management_fee", "2026-09", "250.00")]
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Charge).where(Charge.person_id == site.owners[0])) == 1


def test_the_worker_queues_each_priced_sites_month_once_on_its_billing_day(billing):
    priced = a_site(billing, units=2)
    a_site(billing, units=1)
    add_item(billing, priced.site_id, "management_fee", "per_area", "monthly", "2.5")
    second = datetime(2026, 7, 2, 4, tzinfo=timezone.utc)
    assert rules.schedule_due(billing.sessions, second) == 1
    assert rules.schedule_due(billing.sessions, second) == 0
    rules.run_queued(billing.sessions)
    assert [c[2] for c in _charges(billing)] == ["2026-07", "2026-07"]
    with billing.sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=priced.site_id, setting=rules.BILLING_DAY,
                        new_value=5, actor="test")
    assert rules.schedule_due(billing.sessions, datetime(2026, 8, 3, 4, tzinfo=timezone.utc)) == 0
    assert rules.schedule_due(billing.sessions, datetime(2026, 8, 5, 4, tzinfo=timezone.utc)) == 1
