"""Money coming in other ways than the counter (BIL-4): the online gateway's signed webhook (a bad, stale or
replayed call refused with 401) and a bank's direct-debit batch; and the reports it all ends up in (BIL-8)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY
from sqlalchemy import func, select
from standardwebhooks import Webhook

from services.billing.billruns import rules as bill_runs
from services.billing.ledger.tables import Payment
from tests.conftest import bearer
from tests.unit.billing.conftest import CASHIER, MANAGER, a_site, add_item


def _gateway(billing, site):
    answer = billing.client.post(f"/v1/sites/{site.site_id}/payment-gateways", headers=MANAGER,
                                 json={"name": "unionpay"})
    assert answer.status_code == 201
    return answer.get_json()


def _call(billing, gateway, body: dict, *, webhook_id=None, at=None, secret=None, tamper=None):
    data = json.dumps(body)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(timezone.utc)
    signature = Webhook(secret or gateway["secret"]).sign(webhook_id, at, data)
    return billing.client.post(gateway["webhook_url"], data=tamper or data, content_type="application/json",
                               headers={"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
                                        "webhook-signature": signature})


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("billing_webhook_signature_failures_total",
                                     {"service": "billing", "reason": reason}) or 0


def test_a_signed_payment_is_posted_and_a_bad_stale_or_replayed_call_refused(billing, site):
    gateway = _gateway(billing, site)
    body = {"type": "payment.succeeded", "data": {"unit_id": site.units[0], "amount": "88.00",
                                                  "reference": "UP-0001"}}
    posted = _call(billing, gateway, body, webhook_id="msg_1")
    assert posted.status_code == 200, posted.get_json()
    assert (posted.get_json()["method"], posted.get_json()["receipt_number"]) == ("online", "0000000001")
    assert posted.get_json()["person_id"] == site.owners[0]

    invalid, stale = _failures("invalid"), _failures("stale")
    replay = _call(billing, gateway, body, webhook_id="msg_1")
    assert replay.status_code == 401
    altered = _call(billing, gateway, body, tamper=json.dumps({**body, "data": {**body["data"], "amount": "8800.00"}}))
    assert altered.status_code == 401 and altered.content_type == "application/problem+json"
    old = _call(billing, gateway, {**body, "data": {**body["data"], "reference": "UP-2"}},
                at=datetime.now(timezone.utc) - timedelta(minutes=6))
    assert old.status_code == 401
    wrong_key = _call(billing, gateway, body, secret="whsec_" + "A" * 43 + "=")
    assert wrong_key.status_code == 401
    unsigned = billing.client.post(gateway["webhook_url"], json=body)
    assert unsigned.status_code == 401
    assert _failures("invalid") == invalid + 3 and _failures("stale") == stale + 1
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1


def test_a_signed_call_that_is_not_a_payment_is_refused_naming_the_field(billing, site):
    gateway = _gateway(billing, site)
    other = a_site(billing, units=1)
    negative = _call(billing, gateway, {"type": "payment.succeeded", "data": {
        "unit_id": site.units[0], "amount": "-1.00", "reference": "UP-3"}})
    assert negative.status_code == 422 and negative.get_json()["errors"][0]["field"] == "data.amount"
    elsewhere = _call(billing, gateway, {"type": "payment.succeeded", "data": {
        "unit_id": other.units[0], "amount": "1.00", "reference": "UP-4"}})
    assert elsewhere.status_code == 422 and elsewhere.get_json()["field"] == "data.unit_id"
    _call(billing, gateway, {"type": "payment.succeeded", "data": {
        "unit_id": site.units[0], "amount": "1.00", "reference": "UP-5"}})
    duplicate = _call(billing, gateway, {"type": "payment.succeeded", "data": {
        "unit_id": site.units[0], "amount": "1.00", "reference": "UP-5"}})
    assert duplicate.status_code == 409


def test_a_direct_debit_batch_is_posted_whole_or_not_at_all(billing, site):
    url = f"/v1/sites/{site.site_id}/direct-debits"
    lines = [{"unit_id": unit, "amount": "50.00", "reference": f"DD-{number}"}
             for number, unit in enumerate(site.units)]
    refused = billing.client.post(url, headers=CASHIER, json={"lines": [*lines, {**lines[0]}]})
    assert refused.status_code == 409 and refused.get_json()["field"] == "reference"
    posted = billing.client.post(url, headers=CASHIER, json={"lines": lines})
    assert posted.status_code == 201
    assert [p["receipt_number"] for p in posted.get_json()["payments"]] == ["0000000001", "0000000002"]
    assert {p["method"] for p in posted.get_json()["payments"]} == {"direct_debit"}


def test_reports_give_the_collection_rate_the_ageing_and_the_daily_journal_as_json_and_csv(billing):
    site = a_site(billing, units=4, area="100.00")
    add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "2")
    billing.client.post(f"/v1/sites/{site.site_id}/bill-runs", headers=MANAGER, json={"period": "2026-07"})
    bill_runs.run_queued(billing.sessions)
    for unit in site.units[:3]:
        billing.client.post("/v1/payments", headers=CASHIER, json={
            "unit_id": unit, "amount": "200.00", "method": "counter", "reference": str(uuid.uuid4())})
    collection = billing.client.get(f"/v1/sites/{site.site_id}/reports/collection?month=2026-07",
                                    headers=CASHIER).get_json()["rows"]
    assert collection[-1] == {"item": "total", "charges": 4, "charged": "800.00", "paid": "600.00",
                              "collection_rate": "0.7500"}
    assert billing.client.get(f"/v1/sites/{site.site_id}/reports/collection",
                              headers=bearer(roles=("technician",))).status_code == 403
    ageing = billing.client.get(f"/v1/sites/{site.site_id}/reports/arrears-ageing?day=2026-10-15",
                                headers=CASHIER).get_json()["rows"]
    # Due on 31 July: 76 days overdue on 15 October.
    assert [(row["days_overdue"], row["accounts"], row["amount"]) for row in ageing if row["charges"]] == [
        ("31-90", 1, "200.00")]
    today = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    journal = billing.client.get(f"/v1/sites/{site.site_id}/reports/daily-journal.csv?day={today}", headers=CASHIER)
    assert journal.status_code == 200 and journal.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(journal.data.decode("utf-8-sig"))))
    assert [row["receipt_number"] for row in rows] == ["0000000001", "0000000002", "0000000003"]
    assert rows[0]["amount"] == "200.00" and rows[0]["paid_at"].endswith("+00:00")


def test_a_closed_month_keeps_its_figures_and_takes_no_more_payments_or_voids(billing, site):
    today = datetime.now(timezone(timedelta(hours=8))).date()
    last_day = today.replace(day=1) - timedelta(days=1)
    last_month, this_month = last_day.strftime("%Y-%m"), today.strftime("%Y-%m")
    in_last_month = f"{last_day.isoformat()}T12:00:00+08:00"
    paid = billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": "300.00", "method": "counter", "reference": "OLD-1",
        "paid_at": in_last_month})
    assert paid.status_code == 201
    url = f"/v1/sites/{site.site_id}/month-closes"
    assert billing.client.post(url, headers=CASHIER, json={"month": last_month}).status_code == 403
    assert billing.client.post(url, headers=MANAGER, json={"month": this_month}).get_json()["field"] == "month"
    closed = billing.client.post(url, headers=MANAGER, json={"month": last_month})
    assert closed.status_code == 201, closed.get_json()
    assert (closed.get_json()["received"], closed.get_json()["receipts"]) == ("300.00", 1)
    assert billing.client.post(url, headers=MANAGER, json={"month": last_month}).status_code == 409
    late = billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": "5.00", "method": "counter", "reference": "OLD-2",
        "paid_at": in_last_month})
    assert late.status_code == 409 and late.get_json()["field"] == "paid_at"
    void = billing.client.post(f"/v1/payments/{paid.get_json()['id']}/void",
                               headers=bearer(roles=("cs_supervisor",)), json={"reason": "typo"})
    assert void.status_code == 409
    assert billing.client.post("/v1/payments", headers=CASHIER, json={
        "unit_id": site.units[0], "amount": "5.00", "method": "counter", "reference": "NEW-1"}).status_code == 201
    assert [c["month"] for c in billing.client.get(url, headers=CASHIER).get_json()["items"]] == [last_month]
