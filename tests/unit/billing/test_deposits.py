"""Deposit refunds (BIL-7): asked for with deductions and reasons (by the desk, or by occupants after a
decoration's completion inspection), approved by a manager, paid back by the cashier as ledger entries that
keep the balance true."""

from __future__ import annotations

import uuid

from psp.occupants.v1.charges_pb2 import ChargesRequested, RequestedCharge
from psp.occupants.v1.decoration_pb2 import DecorationDepositRefundRequested, DepositDeduction
from sqlalchemy import select

from services.billing.deposits.tables import Refund
from services.billing.ledger import rules
from tests.unit.billing.conftest import CASHIER, MANAGER, SUPERVISOR


def _deposit(billing, site, item="decoration_deposit", amount="1000.00") -> str:
    request_id = str(uuid.uuid4())
    billing.deliver(ChargesRequested(request_id=request_id, purpose="decoration", reference_id="d-1",
                                     site_id=site.site_id, unit_id=site.units[0], person_id=site.owners[0],
                                     charges=[RequestedCharge(item=item, amount=amount)]))
    assert billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": amount, "method": "counter", "reference": request_id}).status_code == 201
    return request_id


def _account_url(site) -> str:
    return f"/v1/accounts/{rules.account_id(site.units[0], site.owners[0])}"


def test_a_deposit_comes_back_less_its_deductions_after_approval(billing, site):
    _deposit(billing, site)
    asked = billing.client.post(f"{_account_url(site)}/refunds", headers=CASHIER, json={
        "item": "decoration_deposit", "deductions": [{"amount": "150.00", "reason": "墙面损坏 Damaged wall"}]})
    assert asked.status_code == 201, asked.get_json()
    refund = asked.get_json()
    assert (refund["held"], refund["amount"], refund["state"], refund["allowed"]) == (
        "1000.00", "850.00", "requested", ["approve", "reject"])
    url = f"/v1/refunds/{refund['id']}"
    assert billing.client.post(f"{url}/pay", headers=CASHIER).status_code == 409
    assert billing.client.post(f"{url}/approve", headers=CASHIER, json={}).status_code == 403
    assert billing.client.post(f"{url}/approve", headers=MANAGER, json={}).get_json()["state"] == "approved"
    paid = billing.client.post(f"{url}/pay", headers=CASHIER)
    assert paid.status_code == 200 and paid.get_json()["state"] == "paid"
    payout = billing.client.get(f"/v1/payments/{paid.get_json()['payment_id']}", headers=CASHIER).get_json()
    assert (payout["amount"], payout["method"], payout["receipt_number"]) == ("-850.00", "refund", "0000000002")
    account = billing.client.get(_account_url(site), headers=CASHIER).get_json()
    assert (account["balance"], account["outstanding"], account["prepaid"]) == ("0.00", "0.00", "0.00")
    # Nothing is left to refund.
    again = billing.client.post(f"{_account_url(site)}/refunds", headers=CASHIER, json={"item": "decoration_deposit"})
    assert again.status_code == 409 and again.get_json()["field"] == "item"


def test_deductions_need_reasons_and_cannot_exceed_the_deposit(billing, site):
    _deposit(billing, site, "property_deposit", "800.00")
    url = f"{_account_url(site)}/refunds"
    no_reason = billing.client.post(url, headers=CASHIER, json={
        "item": "property_deposit", "deductions": [{"amount": "10.00", "reason": ""}]})
    assert no_reason.status_code == 422
    too_much = billing.client.post(url, headers=CASHIER, json={
        "item": "property_deposit", "deductions": [{"amount": "800.01", "reason": "keys lost"}]})
    assert too_much.status_code == 422 and too_much.get_json()["field"] == "deductions"
    assert billing.client.post(url, headers=CASHIER, json={"item": "decoration_deposit"}).status_code == 409
    refund = billing.client.post(url, headers=CASHIER, json={"item": "property_deposit"}).get_json()
    refused = billing.client.post(f"/v1/refunds/{refund['id']}/reject", headers=MANAGER, json={"reason": ""})
    assert refused.status_code == 422 and refused.get_json()["field"] == "reason"
    rejected = billing.client.post(f"/v1/refunds/{refund['id']}/reject", headers=SUPERVISOR,
                                   json={"reason": "Still living there"})
    assert rejected.status_code == 403
    rejected = billing.client.post(f"/v1/refunds/{refund['id']}/reject", headers=MANAGER,
                                   json={"reason": "Still living there"})
    assert rejected.get_json()["state"] == "rejected"
    # A rejected refund holds nothing back: the deposit may be asked for again.
    assert billing.client.post(url, headers=CASHIER, json={"item": "property_deposit"}).status_code == 201


def test_occupants_refund_request_after_the_completion_inspection_is_recorded_once(billing, site):
    request_id = _deposit(billing, site)
    asked = DecorationDepositRefundRequested(
        request_id="refund-1", decoration_id="d-1", site_id=site.site_id, unit_id=site.units[0],
        person_id=site.owners[0], charges_request_id=request_id, deposit="1000.00", refund_amount="700.00",
        currency="CNY", deductions=[DepositDeduction(amount="300.00", reason="改动承重墙 Load-bearing wall altered")])
    billing.deliver(asked)
    billing.deliver(asked)
    with billing.sessions() as session:
        refunds = session.scalars(select(Refund)).all()
    assert [(r.amount, r.state, r.deductions[0]["reason"]) for r in refunds] == [
        (700, "requested", "改动承重墙 Load-bearing wall altered")]


def test_a_refund_paid_out_is_not_voided(billing, site):
    _deposit(billing, site, "property_deposit", "800.00")
    refund = billing.client.post(f"{_account_url(site)}/refunds", headers=CASHIER,
                                 json={"item": "property_deposit"}).get_json()
    billing.client.post(f"/v1/refunds/{refund['id']}/approve", headers=MANAGER, json={})
    paid = billing.client.post(f"/v1/refunds/{refund['id']}/pay", headers=CASHIER).get_json()
    voided = billing.client.post(f"/v1/payments/{paid['payment_id']}/void", headers=SUPERVISOR,
                                 json={"reason": "by mistake"})
    assert voided.status_code == 409
    assert billing.client.get(_account_url(site), headers=CASHIER).get_json()["balance"] == "0.00"
