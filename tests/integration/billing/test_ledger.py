"""Billing on PostgreSQL and RabbitMQ: occupants' move-in fees raised from its event, paid at billing's counter,
and the settlement unlocking occupants' inspection; concurrent payments that settle each charge once and
number receipts without gaps; two workers making one bill run."""

from __future__ import annotations

import threading
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from psp.occupants.v1.people_pb2 import OccupancyStarted
from psp.occupants.v1.places_pb2 import SiteRegistered, UnitRegistered
from sqlalchemy import func, select

from services.billing.arrears import rules as arrears
from services.billing.arrears.tables import ArrearsStep
from services.billing.billruns import rules as bill_runs
from services.billing.billruns.tables import BillRun
from services.billing.ledger import rules
from services.billing.ledger.tables import Allocation, Charge, Payment
from services.billing.models import chassis
from services.billing.places.rules import payers_of
from services.billing.rates.demo import seed_office_tower_set
from services.billing.service import SERVICE
from shared import db
from shared.bus.envelope import event_type_of, new_envelope, unpack
from tests.conftest import ORG_A, bearer, running_workers, wait_until
from tests.integration.occupants.test_movein import book, ok, person, state, to_fees_requested  # noqa: F401

pytestmark = pytest.mark.integration

CASHIER = bearer(roles=("cashier",))


@pytest.fixture
def billing_sessions(platform_env):
    engine = db.make_engine(platform_env["billing"])
    yield db.make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def billing_api(platform_env):
    from services.billing.app import create_app

    app = create_app()
    yield app.test_client()
    app.extensions["psp"].engine.dispose()


def _deliver(sessions, *payloads) -> None:
    with sessions() as session, session.begin():
        for payload in payloads:
            route = SERVICE.handlers.routes[event_type_of(type(payload))]
            event = unpack(new_envelope(payload, organization_id=ORG_A), type(payload))
            route.handler(session, [event] if route.batched else event)


def _units(sessions, count: int, area: str = "100.00") -> tuple[str, list[str]]:
    site_id = str(uuid.uuid4())
    units = [str(uuid.uuid4()) for _ in range(count)]
    _deliver(sessions, SiteRegistered(site_id=site_id, code="PG", name="PG Court", time_zone="Asia/Shanghai"),
             *[UnitRegistered(unit_id=unit, site_id=site_id, building_id=site_id, number=str(n), kind="office",
                              floor_area_m2=area, state="occupied") for n, unit in enumerate(units)],
             *[OccupancyStarted(occupancy_id=str(uuid.uuid4()), site_id=site_id, unit_id=unit,
                                person_id=str(uuid.uuid4()), role="owner") for unit in units])
    return site_id, units


def test_move_in_fees_are_raised_from_occupants_event_and_their_payment_unlocks_the_inspection(
        occupants_api, billing_api, billing_sessions, databases, demo_site, person):
    with billing_sessions() as session, session.begin():
        seed_office_tower_set(session, ORG_A, demo_site, actor="test")
    move_in = book(occupants_api, demo_site, person)
    requested = to_fees_requested(occupants_api, move_in)
    billing = databases["billing"]
    with running_workers("occupants", "billing"):
        wait_until(lambda: billing.scalar("SELECT count(*) FROM charges WHERE source_id = :id",
                                          id=requested["fees_request_id"]) == 3, what="the move-in charges")
        account_id = rules.account_id(move_in["unit_id"], person["id"])
        account = ok(billing_api.get(f"/v1/accounts/{account_id}", headers=CASHIER))
        # 96 m²: management 8 × 6 months, float 25 and deposit 8 per m².
        assert account["balance"] == "7776.00"
        ok(billing_api.post("/v1/payments", headers=CASHIER, json={
            "unit_id": move_in["unit_id"], "amount": "7776.00", "method": "counter", "reference": "MI-1"}), 201)
        wait_until(lambda: state(occupants_api, move_in) == "fees_paid", what="occupants to see the fees paid")
    assert billing.scalar("SELECT count(*) FROM outbox WHERE event_type = 'charges.settled.v1'") == 1


def test_concurrent_payments_settle_each_charge_once_and_number_receipts_without_gaps(billing_sessions):
    site_id, units = _units(billing_sessions, 4)
    with billing_sessions() as session, session.begin():
        payers = payers_of(session, units)
        accounts = [rules.account_of(session, ORG_A, site_id, unit, payers[unit]) for unit in units]
        rules.raise_charges(session, [rules.charge_row(
            account, key=f"{account.id}:{n}", item="management_fee", amount=Decimal("100.00"),
            period=f"2026-0{n + 1}", description="fee", source="manual", source_id=account.id,
            due_on=date(2026, n + 1, 1)) for account in accounts for n in range(3)])
    errors = []

    def pay(account_id: str, number: int) -> None:
        try:
            with billing_sessions() as session, session.begin():
                account = rules.lock(session, account_id)
                rules.post_payment(session, account, amount=Decimal("35.00"), method="counter",
                                   reference=f"{account_id}:{number}", actor="test")
        except Exception as exc:  # noqa: BLE001  (collected and asserted empty below)
            errors.append(exc)

    threads = [threading.Thread(target=pay, args=(account.id, n)) for account in accounts for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with billing_sessions() as session:
        numbers = sorted(int(n) for n in session.scalars(select(Payment.receipt_number)))
        assert numbers == list(range(1, 41))
        for account in accounts:
            # 10 × 35 paid against 3 × 100 charged.
            assert rules.balance(session, account.id) == Decimal("-50.00")
            assert rules.outstanding(session, account.id) == 0 and rules.prepaid(session, account.id) == 50
        over = session.execute(select(Charge.id).join(Allocation, Allocation.charge_id == Charge.id)
                               .group_by(Charge.id, Charge.amount, Charge.paid)
                               .having((func.sum(Allocation.amount) != Charge.paid) | (Charge.paid > Charge.amount))
                               ).all()
        assert over == []


def test_a_reference_posted_before_is_refused_and_takes_no_receipt_number(billing_sessions, billing_api):
    site_id, units = _units(billing_sessions, 1)
    with billing_sessions() as session, session.begin():
        payer = payers_of(session, units)[units[0]]
        account = rules.account_of(session, ORG_A, site_id, units[0], payer)
        rules.raise_charges(session, [rules.charge_row(
            account, key=f"{account.id}:fee", item="management_fee", amount=Decimal("100.00"), period="2026-01",
            description="fee", source="manual", source_id=account.id, due_on=date(2026, 1, 1))])

    def pay(reference: str):
        return billing_api.post("/v1/payments", headers=CASHIER, json={
            "unit_id": units[0], "person_id": payer, "amount": "30.00", "method": "counter", "reference": reference})

    assert pay("BANK-1").status_code == 201
    duplicate = pay("BANK-1")
    assert duplicate.status_code == 409 and duplicate.get_json()["field"] == "reference"
    assert pay("BANK-2").get_json()["receipt_number"] == "0000000002"
    with billing_sessions() as session:
        assert session.scalar(select(Charge.paid).where(Charge.account_id == account.id)) == Decimal("60.00")
        assert rules.balance(session, account.id) == Decimal("40.00")
        assert session.scalar(select(func.count()).select_from(Payment).where(Payment.account_id == account.id)) == 2


def test_two_workers_make_one_bill_run_and_charge_each_unit_once(billing_sessions, monkeypatch):
    site_id, units = _units(billing_sessions, 30)
    with billing_sessions() as session, session.begin():
        seed_office_tower_set(session, ORG_A, site_id, actor="test")
        run = bill_runs.queue(session, organization_id=ORG_A, site_id=site_id, period="2026-07", actor="test")
        run_id = run.id
    monkeypatch.setattr(bill_runs, "BATCH_UNITS", 4)
    threads = [threading.Thread(target=bill_runs.run_queued, args=(billing_sessions,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with billing_sessions() as session:
        done = session.get(BillRun, run_id)
        assert (done.state, done.units_done, done.charges_new) == ("done", 30, 30)
        assert session.scalar(select(func.count()).select_from(Charge).where(Charge.site_id == site_id)) == 30
        assert session.scalar(select(func.sum(Charge.amount)).where(Charge.site_id == site_id)) == Decimal("144000.00")


def test_two_workers_take_each_arrears_step_once(billing_sessions):
    site_id, units = _units(billing_sessions, 6)
    with billing_sessions() as session, session.begin():
        payers = payers_of(session, units)
        rules.raise_charges(session, [rules.charge_row(
            rules.account_of(session, ORG_A, site_id, unit, payers[unit]), key=f"{unit}:old", item="management_fee",
            amount=Decimal("500.00"), period="2026-01", description="fee", source="manual", source_id=unit,
            due_on=date(2026, 1, 31)) for unit in units])
    later = datetime(2026, 5, 15, 4, tzinfo=timezone.utc)
    counts = []
    threads = [threading.Thread(target=lambda: counts.append(arrears.take_due_steps(billing_sessions, later)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Reminder, demand letter and late fee for each of the six accounts, between the two workers.
    assert sum(counts) == 18
    with billing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(ArrearsStep)) == 18
        assert session.scalar(select(func.count()).select_from(chassis.outbox).where(
            chassis.outbox.c.event_type == "arrears.step_taken.v1")) == 18
        assert session.scalar(select(func.count()).select_from(Charge).where(Charge.item == "late_fee")) == 6
