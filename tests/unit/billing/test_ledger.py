"""The owner ledger (BIL-4) on SQLite: charges requested by occupants raised once and announced settled once
paid, payments and their receipts, voids, prepaid money, bad input that changes nothing, and the balance
that always equals charges − payments − credits."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psp.billing.v1.events_pb2 import ChargesSettled
from psp.occupants.v1.charges_pb2 import ChargesRequested, RequestedCharge
from sqlalchemy import event, func, select

from services.billing.ledger import rules
from services.billing.ledger.tables import Allocation, Charge, Credit, Payment
from services.billing.models import chassis
from shared import policy
from tests.conftest import ORG_A, ORG_B, bearer
from tests.unit.billing.conftest import CASHIER, MANAGER, SUPERVISOR, a_site, add_item


def _request(site, unit=0, request_id=None, **amounts) -> ChargesRequested:
    return ChargesRequested(
        request_id=request_id or str(uuid.uuid4()), purpose="move_in", reference_id=str(uuid.uuid4()),
        site_id=site.site_id, unit_id=site.units[unit], person_id=site.owners[unit],
        charges=[RequestedCharge(item=item, amount=amount, currency="CNY", description=item)
                 for item, amount in amounts.items()])


def _pay(billing, site, amount, unit=0, reference=None, headers=CASHIER, **extra):
    return billing.client.post("/v1/payments", headers=headers, json={
        "unit_id": site.units[unit], "amount": amount, "method": "counter",
        "reference": reference or str(uuid.uuid4()), **extra})


def _account(billing, site, unit=0):
    return billing.client.get(f"/v1/accounts/{rules.account_id(site.units[unit], site.owners[unit])}",
                              headers=CASHIER).get_json()


def test_requested_charges_are_raised_once_and_settled_once_when_paid(billing, site):
    request = _request(site, property_deposit="800.00", decoration_waste_removal="330.00")
    billing.deliver(request)
    billing.deliver(request)
    assert _account(billing, site)["balance"] == "1130.00"

    partial = _pay(billing, site, "1000.00")
    assert partial.status_code == 201, partial.get_json()
    assert billing.outbox("charges.settled.v1") == []
    rest = _pay(billing, site, "130.00")
    assert rest.status_code == 201

    settled = billing.outbox("charges.settled.v1")
    assert len(settled) == 1
    payload = ChargesSettled()
    settled[0].payload.Unpack(payload)
    assert payload.request_id == request.request_id and payload.amount_paid == "1130.00"
    assert list(payload.receipt_numbers) == sorted([partial.get_json()["receipt_number"],
                                                    rest.get_json()["receipt_number"]])
    assert _account(billing, site)["balance"] == "0.00"


def test_a_request_priced_by_billing_uses_the_sites_rate_over_the_unit_area(billing, site):
    add_item(billing, site.site_id, "management_fee", "per_area", "half_yearly", "8")
    billing.deliver(_request(site, management_fee=""))
    # 100 m² × 8 per m² per month × 6 months, paid half-yearly.
    assert _account(billing, site)["balance"] == "4800.00"


def test_prepaid_money_settles_a_request_as_it_arrives(billing, site):
    assert _pay(billing, site, "500.00").status_code == 201
    assert _account(billing, site)["prepaid"] == "500.00"
    billing.deliver(_request(site, property_deposit="300.00"))
    account = _account(billing, site)
    assert (account["balance"], account["prepaid"], account["outstanding"]) == ("-200.00", "200.00", "0.00")
    assert len(billing.outbox("charges.settled.v1")) == 1


def test_receipts_are_numbered_in_sequence_per_site_and_a_void_keeps_the_number(billing, site):
    other = a_site(billing)
    numbers = [_pay(billing, site, "10.00").get_json()["receipt_number"] for _ in range(3)]
    assert numbers == ["0000000001", "0000000002", "0000000003"]
    assert _pay(billing, other, "10.00").get_json()["receipt_number"] == "0000000001"

    payment = billing.client.get(f"/v1/payments?site_id={site.site_id}", headers=CASHIER).get_json()["items"][1]
    no_reason = billing.client.post(f"/v1/payments/{payment['id']}/void", headers=SUPERVISOR, json={"reason": ""})
    assert no_reason.status_code == 422 and no_reason.get_json()["field"] == "reason"
    by_cashier = billing.client.post(f"/v1/payments/{payment['id']}/void", headers=CASHIER, json={"reason": "x"})
    assert by_cashier.status_code == 403
    voided = billing.client.post(f"/v1/payments/{payment['id']}/void", headers=SUPERVISOR,
                                 json={"reason": "Wrong unit"})
    assert voided.status_code == 200 and voided.get_json()["state"] == "voided"
    receipt = billing.client.get(f"/v1/payments/{payment['id']}/receipt", headers=CASHIER).get_json()
    assert (receipt["receipt_number"], receipt["state"], receipt["void_reason"]) == ("0000000002", "voided",
                                                                                      "Wrong unit")
    again = billing.client.post(f"/v1/payments/{payment['id']}/void", headers=SUPERVISOR, json={"reason": "again"})
    assert again.status_code == 409
    assert _pay(billing, site, "10.00").get_json()["receipt_number"] == "0000000004"
    assert _account(billing, site)["balance"] == "-30.00"


def test_a_receipt_lists_the_charges_it_settled(billing, site):
    billing.deliver(_request(site, property_deposit="800.00", decoration_deposit="1000.00"))
    charges = billing.client.get(f"/v1/accounts/{rules.account_id(site.units[0], site.owners[0])}/charges",
                                 headers=CASHIER).get_json()["items"]
    deposit = next(charge for charge in charges if charge["item"] == "decoration_deposit")
    paid = _pay(billing, site, "1200.00", charge_ids=[deposit["id"]]).get_json()
    receipt = billing.client.get(f"/v1/payments/{paid['id']}/receipt", headers=CASHIER).get_json()
    assert [(line["item"], line["amount"]) for line in receipt["lines"]] == [
        ("decoration_deposit", "1000.00"), ("property_deposit", "200.00")]
    assert receipt["payer"] == "Owner 0" and receipt["prepaid"] == "0.00"


def test_bad_payments_are_refused_naming_the_field_and_change_nothing(billing, site):
    billing.deliver(_request(site, property_deposit="100.00"))
    for amount in ("-5.00", "0", "abc", "1.234", None):
        answer = _pay(billing, site, amount)
        assert answer.status_code == 422, (amount, answer.get_json())
        assert answer.get_json()["errors"][0]["field"] == "amount"
    assert _pay(billing, site, "10.00", reference="BANK-1").status_code == 201
    duplicate = _pay(billing, site, "10.00", reference="BANK-1")
    assert duplicate.status_code == 409 and duplicate.get_json()["field"] == "reference"
    future = _pay(billing, site, "10.00", paid_at="2099-01-01T00:00:00+08:00")
    assert future.status_code == 422 and future.get_json()["field"] == "paid_at"
    unknown_unit = billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": str(uuid.uuid4()), "amount": "1.00", "method": "counter", "reference": "R-9"})
    assert unknown_unit.status_code == 422 and unknown_unit.get_json()["field"] == "unit_id"
    technician = _pay(billing, site, "10.00", headers=bearer(roles=("technician",)))
    assert technician.status_code == 403
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert _account(billing, site)["balance"] == "90.00"


def test_a_payment_over_the_balance_is_refused_where_prepayment_is_not_allowed(billing, site):
    with billing.sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A,
                        site_id=site.site_id, setting=rules.PREPAYMENT_ALLOWED, new_value=False, actor="test")
    billing.deliver(_request(site, property_deposit="100.00"))
    over = _pay(billing, site, "100.01")
    assert over.status_code == 422 and over.get_json()["field"] == "amount"
    assert _pay(billing, site, "100.00").status_code == 201
    assert _account(billing, site)["balance"] == "0.00"


def test_another_organizations_account_is_not_found(billing, site):
    account_id = rules.account_id(site.units[0], site.owners[0])
    _pay(billing, site, "5.00")
    assert billing.client.get(f"/v1/accounts/{account_id}", headers=bearer(ORG_B)).status_code == 404


def test_a_credit_settles_charges_and_needs_a_reason(billing, site):
    billing.deliver(_request(site, property_deposit="100.00"))
    account_id = rules.account_id(site.units[0], site.owners[0])
    refused = billing.client.post(f"/v1/accounts/{account_id}/credits", headers=MANAGER,
                                  json={"amount": "40.00", "reason": ""})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "reason"
    assert billing.client.post(f"/v1/accounts/{account_id}/credits", headers=CASHIER,
                               json={"amount": "40.00", "reason": "Goodwill"}).status_code == 403
    credit = billing.client.post(f"/v1/accounts/{account_id}/credits", headers=MANAGER,
                                 json={"amount": "40.00", "reason": "Goodwill"})
    assert credit.status_code == 201
    assert _account(billing, site)["balance"] == "60.00"


def test_the_accounts_list_reads_every_accounts_figures_in_one_statement(billing):
    site = a_site(billing, units=3)
    for unit, owed in enumerate(("100.00", "200.00", "300.00")):
        billing.deliver(_request(site, unit=unit, property_deposit=owed))
    assert _pay(billing, site, "250.00", unit=1).status_code == 201
    account_id = rules.account_id(site.units[2], site.owners[2])
    assert billing.client.post(f"/v1/accounts/{account_id}/credits", headers=MANAGER,
                               json={"amount": "40.00", "reason": "Goodwill"}).status_code == 201
    statements = []
    engine = billing.client.application.extensions["psp"].engine

    def count(conn, cursor, statement, *args):
        if "FROM charges" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        listed = billing.client.get(f"/v1/accounts?site_id={site.site_id}", headers=CASHIER).get_json()["items"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert sorted((item["balance"], item["outstanding"], item["prepaid"]) for item in listed) == [
        ("-50.00", "0.00", "50.00"), ("100.00", "100.00", "0.00"), ("260.00", "260.00", "0.00")]


# -- the ledger's invariant, over any sequence of postings ----------------------------------------------------

_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
_operations = st.lists(st.one_of(
    st.tuples(st.just("charge"), _amounts), st.tuples(st.just("pay"), _amounts),
    st.tuples(st.just("credit"), _amounts), st.tuples(st.just("void"), st.integers(0, 20))), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=_operations)
def test_the_balance_is_always_charges_less_payments_less_credits(billing, operations):
    site = a_site(billing, units=1)
    with billing.sessions() as session, session.begin():
        account = rules.account_of(session, ORG_A, site.site_id, site.units[0],
                                   site.owners[0])
        for number, (kind, value) in enumerate(operations):
            if kind == "charge":
                rules.raise_charges(session, [rules.charge_row(
                    account, key=f"{site.site_id}:{number}", item="fee", amount=value, period="",
                    description="fee", source="manual", source_id=site.site_id,
                    due_on=date(2026, 1, 1 + number % 28))])
                rules.spend_prepaid(session, [account.id])
            elif kind == "pay":
                rules.post_payment(session, account, amount=value, method="counter",
                                   reference=f"{site.site_id}:{number}", actor="test")
            elif kind == "credit":
                rules.add_credit(session, account, amount=value, reason="test", actor="test")
            else:
                posted = session.scalars(select(Payment).where(Payment.account_id == account.id,
                                                               Payment.state == "posted")).all()
                if posted:
                    rules.void_payment(session, posted[value % len(posted)], reason="test", actor="test")
        charges = session.scalars(select(Charge).where(Charge.account_id == account.id)).all()
        payments = session.scalars(select(Payment).where(Payment.account_id == account.id,
                                                         Payment.state == "posted")).all()
        credits = session.scalars(select(Credit).where(Credit.account_id == account.id)).all()
        expected = (sum(c.amount for c in charges) - sum(p.amount for p in payments) - sum(c.amount for c in credits))
        assert rules.balance(session, account.id) == expected
        assert expected == rules.outstanding(session, account.id) - rules.prepaid(session, account.id)
        assert rules.figures(session, [account.id])[account.id] == (
            expected, rules.outstanding(session, account.id), rules.prepaid(session, account.id))
        for charge in charges:
            allocated = session.scalar(select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                Allocation.charge_id == charge.id))
            assert Decimal(allocated) == charge.paid <= charge.amount
            assert (charge.state == "paid") == (charge.paid == charge.amount)
        # Prepaid money is spent on open charges as soon as either appears: the two never coexist.
        assert rules.outstanding(session, account.id) == 0 or rules.prepaid(session, account.id) == 0


def test_a_request_line_that_is_not_a_usable_amount_is_charged_at_nothing(billing, site):
    billing.deliver(_request(site, property_deposit="-50.00", water_electricity_float="abc",
                             decoration_deposit="100.00"))
    with billing.sessions() as session:
        charges = {c.item: (str(c.amount), c.state) for c in session.scalars(select(Charge))}
    assert charges == {"property_deposit": ("0.00", "paid"), "water_electricity_float": ("0.00", "paid"),
                       "decoration_deposit": ("100.00", "open")}
