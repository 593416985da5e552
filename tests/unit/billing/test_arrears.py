"""The arrears ladder (BIL-5): each configured step taken once, when its day comes, published and recorded;
the late fee accrued per day from its step on, once a day, within the cap, stopped by payment."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken
from psp.occupants.v1.charges_pb2 import ChargesRequested, RequestedCharge
from sqlalchemy import func, select, update

from services.billing.arrears import rules
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Charge
from services.billing.models import chassis
from shared import policy
from tests.conftest import ORG_A
from tests.unit.billing.conftest import CASHIER


def _owe(billing, site, amount="1000.00", due_on=date(2026, 1, 31)):
    billing.deliver(ChargesRequested(request_id=str(uuid.uuid4()), purpose="move_in", reference_id="r",
                                     site_id=site.site_id, unit_id=site.units[0], person_id=site.owners[0],
                                     charges=[RequestedCharge(item="management_fee", amount=amount)]))
    with billing.sessions() as session, session.begin():
        session.execute(update(Charge).values(due_on=due_on))


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, tzinfo=timezone.utc)


def _steps(billing) -> list[str]:
    steps = []
    for envelope in billing.outbox("arrears.step_taken.v1"):
        taken = ArrearsStepTaken()
        envelope.payload.Unpack(taken)
        steps.append(taken.step)
    return steps


def test_each_step_is_taken_once_on_its_day(billing, site):
    _owe(billing, site)
    overdue = date(2026, 1, 31)
    assert rules.take_due_steps(billing.sessions, _at(overdue)) == 0
    assert rules.take_due_steps(billing.sessions, _at(overdue + timedelta(days=1))) == 1
    assert rules.take_due_steps(billing.sessions, _at(overdue + timedelta(days=2))) == 0
    assert _steps(billing) == ["reminder"]
    # The demand letter three months after the reminder, with the late fee from then on.
    assert rules.take_due_steps(billing.sessions, _at(overdue + timedelta(days=91))) == 2
    assert _steps(billing) == ["reminder", "demand_letter", "late_fee"]
    assert rules.take_due_steps(billing.sessions, _at(overdue + timedelta(days=600))) == 5
    assert rules.take_due_steps(billing.sessions, _at(overdue + timedelta(days=600))) == 0
    assert _steps(billing)[3:] == ["home_visit", "lawyer_letter", "public_posting", "suspension", "litigation"]
    account_id = ledger.account_id(site.units[0], site.owners[0])
    taken = billing.client.get(f"/v1/accounts/{account_id}/arrears-steps?limit=20", headers=CASHIER).get_json()
    assert len(taken["items"]) == 8


def test_the_late_fee_accrues_per_day_after_the_grace_days_and_is_charged(billing, site):
    _owe(billing, site)
    rules.take_due_steps(billing.sessions, _at(date(2026, 1, 31) + timedelta(days=91)))
    late = ArrearsStepTaken()
    billing.outbox("arrears.step_taken.v1")[-1].payload.Unpack(late)
    # 1000 × 0.0003 per day × (91 − 30 grace days).
    assert (late.step, late.late_fee, late.amount_overdue, late.months_overdue) == (
        "late_fee", "18.30", "1000.00", 3)
    with billing.sessions() as session:
        fee = session.scalar(select(Charge).where(Charge.item == "late_fee"))
    assert (str(fee.amount), fee.state) == ("18.30", "open")


def test_the_ladder_follows_the_sites_settings_and_a_paid_account_is_left_alone(billing, site):
    with billing.sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site.site_id, setting=rules.LADDER,
                        new_value={"reminder": 10}, actor="test")
    _owe(billing, site)
    assert rules.take_due_steps(billing.sessions, _at(date(2026, 2, 5))) == 0
    assert billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": "1000.00", "method": "counter", "reference": "P-1"}).status_code == 201
    assert rules.take_due_steps(billing.sessions, _at(date(2026, 12, 31))) == 0
    assert _steps(billing) == []


def _late_fees(billing) -> list[tuple[str, str]]:
    with billing.sessions() as session:
        return [(due_on.isoformat(), str(amount)) for due_on, amount in session.execute(
            select(Charge.due_on, Charge.amount).where(Charge.source == "late_fee").order_by(Charge.due_on))]


def test_the_late_fee_accrues_once_a_day_catches_up_missed_days_and_stops_when_paid(billing, site):
    _owe(billing, site)
    step_day = date(2026, 1, 31) + timedelta(days=91)
    for hour in (4, 9):
        rules.take_due_steps(billing.sessions, datetime(2026, 5, 2, hour, tzinfo=timezone.utc))
    # 0.30 a day on 1000.00: the first accrual catches up the 61 days since the grace ended; the next day one
    # more, and a day the job missed is charged the day after.
    rules.take_due_steps(billing.sessions, _at(step_day + timedelta(days=1)))
    rules.take_due_steps(billing.sessions, _at(step_day + timedelta(days=3)))
    assert _late_fees(billing) == [("2026-05-02", "18.30"), ("2026-05-03", "0.30"), ("2026-05-05", "0.60")]
    with billing.sessions() as session:
        owed = session.scalar(select(func.sum(Charge.amount)).where(Charge.state == "open"))
    assert billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": str(owed), "method": "counter", "reference": "P-1"}).status_code == 201
    rules.take_due_steps(billing.sessions, _at(step_day + timedelta(days=10)))
    assert len(_late_fees(billing)) == 3


def test_the_late_fee_stays_within_the_sites_cap(billing, site):
    with billing.sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site.site_id, setting=rules.LATE_FEE_CAP,
                        new_value="0.02", actor="test")
    _owe(billing, site)
    for days in (91, 120, 150):
        rules.take_due_steps(billing.sessions, _at(date(2026, 1, 31) + timedelta(days=days)))
    # 2% of 1000.00: 18.30 at the step, 1.70 the next run, nothing after.
    assert _late_fees(billing) == [("2026-05-02", "18.30"), ("2026-05-31", "1.70")]
    late = ArrearsStepTaken()
    billing.outbox("arrears.step_taken.v1")[2].payload.Unpack(late)
    assert (late.step, late.late_fee) == ("late_fee", "18.30")
