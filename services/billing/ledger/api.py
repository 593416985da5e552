"""HTTP boundary of the owner ledger (BIL-4): accounts and their balance, payments at the counter, door to door
and by direct-debit batch, receipts and their voids, credits, and the online-payment gateway's signed
webhook."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import date, datetime, time, timedelta, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Date, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from flask import request
from marshmallow import ValidationError
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.billing import metrics
from services.billing.ledger import closing, rules
from services.billing.ledger.tables import (
    Account, Allocation, Charge, MonthClose, Payment, PaymentGateway, WebhookDelivery)
from services.billing.models import utcnow
from services.billing.places.api import site_row
from services.billing.places.rules import time_zone
from services.billing.places.tables import Payer, Unit
from services.billing.roles import COLLECTORS, EDITORS, VOIDERS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import PROBLEM_JSON, Problem, from_validation
from shared.web import db_session, get_referenced, get_visible

api = APIBlueprint("ledger", __name__, url_prefix="/v1")

Amount = DecimalString(places=2, max_digits=14)
_Id = String(validate=Length(36, 36))


class AccountOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    currency = String()
    balance = DecimalString(places=2, max_digits=14, metadata={
        "description": "Charges − payments − credits; negative is the payer's credit."})
    outstanding = DecimalString(places=2, max_digits=14, metadata={"description": "What open charges still want."})
    prepaid = DecimalString(places=2, max_digits=14, metadata={"description": "Money no charge has taken yet."})
    opened_at = UtcDateTime()


class AccountQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))
    unit_id = String(load_default=None, validate=Length(36, 36))


class ChargeOut(Schema):
    id = String()
    item = String()
    period = String()
    amount = Amount
    paid = Amount
    currency = String()
    description = String()
    source = String()
    state = String()
    due_on = Date()
    created_at = UtcDateTime()


class ChargeQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(("open", "paid")))


class PaymentIn(Schema):
    unit_id = String(required=True, validate=Length(36, 36))
    person_id = String(load_default=None, validate=Length(36, 36), metadata={
        "description": "Who pays; absent: whoever owes the unit's oldest open charge, else its payer (owner, "
                       "else tenant)."})
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)
    method = String(required=True, validate=OneOf(("counter", "door_to_door")))
    reference = String(required=True, validate=Length(1, 100), metadata={
        "description": "The payer's or a pre-written receipt's reference; each is posted once."})
    charge_ids = List(String(validate=Length(36, 36)), load_default=list, validate=Length(max=100),
                      metadata={"description": "Charges to settle first; the rest goes oldest first."})
    paid_at = AwareDateTime(load_default=None, metadata={"description": "When the money changed hands; default now."})


class PaymentOut(Schema):
    id = String()
    site_id = String()
    account_id = String()
    unit_id = String()
    person_id = String()
    amount = Amount
    unallocated = DecimalString(places=2, max_digits=14, metadata={"description": "Kept as prepaid."})
    currency = String()
    method = String()
    reference = String()
    receipt_number = String()
    state = String()
    void_reason = String()
    paid_at = UtcDateTime()
    posted_by = String()


class PaymentQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))
    day = Date(load_default=None, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
               metadata={"description": "Only the site's local day."})


class ReceiptLine(Schema):
    charge_id = String()
    item = String()
    period = String()
    description = String()
    amount = Amount


class ReceiptOut(Schema):
    receipt_number = String()
    site_id = String()
    unit_id = String()
    payer = String(metadata={"description": "The payer's name, or the unit's id when none is on record."})
    amount = Amount
    currency = String()
    method = String()
    paid_at = UtcDateTime()
    state = String()
    void_reason = String()
    lines = List(Nested(ReceiptLine))
    prepaid = DecimalString(places=2, max_digits=14)


class VoidIn(Schema):
    reason = String(required=True, validate=Length(1, 500))


class CreditIn(Schema):
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)
    reason = String(required=True, validate=Length(1, 500))


class CreditOut(Schema):
    id = String()
    account_id = String()
    amount = Amount
    unallocated = Amount
    reason = String()
    created_by = String()
    created_at = UtcDateTime()


class DebitLine(Schema):
    unit_id = String(required=True, validate=Length(36, 36))
    person_id = String(load_default=None, validate=Length(36, 36))
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)
    reference = String(required=True, validate=Length(1, 100))


class DirectDebitIn(Schema):
    lines = List(Nested(DebitLine), required=True, validate=Length(1, 1000))


class DirectDebitOut(Schema):
    payments = List(Nested(PaymentOut))


class MonthCloseIn(Schema):
    month = String(required=True, validate=Regexp(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"),
                   metadata={"description": "A month that is over at the site, YYYY-MM."})


class MonthCloseOut(Schema):
    id = String()
    site_id = String()
    month = String()
    charged = Amount
    received = Amount
    receipts = Integer()
    voided = Integer()
    outstanding = Amount
    closed_by = String()
    closed_at = UtcDateTime()


class GatewayIn(Schema):
    name = String(required=True, validate=Length(1, 100))


class GatewayOut(Schema):
    id = String()
    site_id = String()
    name = String()
    secret = String(metadata={"description": "Shown once: the Standard Webhooks key (whsec_…) to sign with."})
    webhook_url = String()


class WebhookPayment(Schema):
    unit_id = String(required=True, validate=Length(36, 36))
    person_id = String(load_default=None, validate=Length(36, 36))
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)
    reference = String(required=True, validate=Length(1, 100))
    paid_at = AwareDateTime(load_default=None)


class WebhookIn(Schema):
    type = String(required=True, validate=OneOf(("payment.succeeded",)))
    data = Nested(WebhookPayment, required=True)


def account_row(account_id: str) -> Account:
    return get_visible(Account, account_id, "account")


def account_views(accounts: list[Account]) -> list[dict]:
    """The accounts with their figures, read for all of them at once."""
    figures = rules.figures(db_session(), [account.id for account in accounts])
    return [{**{key: getattr(account, key) for key in ("id", "site_id", "unit_id", "person_id", "currency",
                                                       "opened_at")}, **figures[account.id]._asdict()}
            for account in accounts]


def _payer_account(unit_id: str, person_id: str | None, field: str = "unit_id") -> Account:
    """The payer's account at the unit, locked. A payer's account already open answers in one statement: it
    carries the unit's organization and site, so seeing it is seeing the unit."""
    session = db_session()
    if person_id is not None:
        open_already = rules.locked_if_open(session, rules.account_id(unit_id, person_id))
        if open_already is not None:
            # Loaded already: the check reads the session's identity map, not the database.
            return get_referenced(Account, open_already.id, field, "unit")
    unit = get_referenced(Unit, unit_id, field, "unit")
    if person_id is None:
        person_id = rules.default_payer(session, unit.unit_id)
        open_already = rules.locked_if_open(session, rules.account_id(unit.unit_id, person_id))
        if open_already is not None:
            return open_already
    if person_id:
        # A new account is opened only for a payer occupants has told billing of.
        get_referenced(Payer, person_id, "person_id", "payer")
    return rules.account_of(session, unit.organization_id, unit.site_id, unit.unit_id, person_id)


@api.get("/accounts")
@api.auth_required(auth)
@api.input(AccountQuery, location="query")
@api.output(page_of(AccountOut))
def list_accounts(query_data):
    stmt = select(Account).where(Account.site_id == site_row(query_data["site_id"]).site_id)
    if query_data["unit_id"]:
        stmt = stmt.where(Account.unit_id == query_data["unit_id"])
    page = keyset_page(db_session(), stmt, (Account.id,), query_data)
    return {**page, "items": account_views(page["items"])}


@api.get("/accounts/<account_id>")
@api.auth_required(auth)
@api.output(AccountOut)
def get_account(account_id):
    return account_views([account_row(account_id)])[0]


@api.get("/accounts/<account_id>/charges")
@api.auth_required(auth)
@api.input(ChargeQuery, location="query")
@api.output(page_of(ChargeOut))
def list_charges(account_id, query_data):
    stmt = select(Charge).where(Charge.account_id == account_row(account_id).id)
    if query_data["state"]:
        stmt = stmt.where(Charge.state == query_data["state"])
    return keyset_page(db_session(), stmt, (Charge.due_on, Charge.id), query_data)


@api.post("/accounts/<account_id>/credits")
@api.auth_required(auth)
@idempotent
@api.input(CreditIn)
@api.output(CreditOut, status_code=201)
def add_credit(account_id, json_data):
    account = account_row(account_id)
    require_role_at(account.site_id, *EDITORS)
    return rules.add_credit(db_session(), account, actor=principal().subject, **json_data)


@api.post("/payments")
@api.auth_required(auth)
@idempotent
@api.input(PaymentIn)
@api.output(PaymentOut, status_code=201)
@api.doc(description="Post a payment and issue its receipt, numbered from the site's sequence. It settles the "
                     "charges named, then the oldest; what is left is kept as prepaid (if the site allows).")
def post_payment(json_data):
    account = _payer_account(json_data.pop("unit_id"), json_data.pop("person_id"))
    require_role_at(account.site_id, *COLLECTORS)
    return rules.post_payment(db_session(), account, actor=principal().subject, **json_data)


@api.get("/payments")
@api.auth_required(auth)
@api.input(PaymentQuery, location="query")
@api.output(page_of(PaymentOut))
def list_payments(query_data):
    site = site_row(query_data["site_id"])
    stmt = select(Payment).where(Payment.site_id == site.site_id)
    if query_data["day"]:
        start, end = day_bounds(site.site_id, query_data["day"])
        stmt = stmt.where(Payment.paid_at >= start, Payment.paid_at < end)
    return keyset_page(db_session(), stmt, (Payment.receipt_number, Payment.id), query_data)


def day_bounds(site_id: str, day: date) -> tuple[datetime, datetime]:
    """The site's local day as UTC instants [start, end)."""
    start = datetime.combine(day, time(), time_zone(db_session(), site_id)).astimezone(timezone.utc)
    return start, start + timedelta(days=1)


def _payment(payment_id: str) -> Payment:
    return get_visible(Payment, payment_id, "payment")


@api.get("/payments/<payment_id>")
@api.auth_required(auth)
@api.output(PaymentOut)
def get_payment(payment_id):
    return _payment(payment_id)


@api.get("/payments/<payment_id>/receipt")
@api.auth_required(auth)
@api.output(ReceiptOut)
def get_receipt(payment_id):
    payment = _payment(payment_id)
    session = db_session()
    payer = session.get(Payer, payment.person_id) if payment.person_id else None
    lines = session.execute(select(Charge, Allocation.amount).join(Allocation, Allocation.charge_id == Charge.id)
                            .where(Allocation.payment_id == payment.id).order_by(Allocation.id)).all()
    return {"receipt_number": payment.receipt_number, "site_id": payment.site_id, "unit_id": payment.unit_id,
            "payer": payer.full_name if payer else payment.unit_id, "amount": payment.amount,
            "currency": payment.currency, "method": payment.method, "paid_at": payment.paid_at,
            "state": payment.state, "void_reason": payment.void_reason, "prepaid": payment.unallocated,
            "lines": [{"charge_id": charge.id, "item": charge.item, "period": charge.period,
                       "description": charge.description, "amount": amount} for charge, amount in lines]}


@api.post("/payments/<payment_id>/void")
@api.auth_required(auth)
@api.input(VoidIn)
@api.output(PaymentOut)
@api.doc(description="The receipt keeps its number and shows the reason; the charges it settled are open again.")
def void_payment(payment_id, json_data):
    payment = _payment(payment_id)
    require_role_at(payment.site_id, *VOIDERS)
    return rules.void_payment(db_session(), payment, actor=principal().subject, **json_data)


@api.post("/sites/<site_id>/direct-debits")
@api.auth_required(auth)
@idempotent
@api.input(DirectDebitIn)
@api.output(DirectDebitOut, status_code=201)
@api.doc(description="A bank's direct-debit (托收) batch: every line posted with its receipt, or none.")
def post_direct_debits(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *COLLECTORS)
    session = db_session()
    payments = []
    for number, line in enumerate(json_data["lines"]):
        account = _payer_account(line["unit_id"], line["person_id"], field=f"lines.{number}.unit_id")
        if account.site_id != site.site_id:
            raise Problem(422, "Unprocessable Content", "The unit is at another site.", field=f"lines.{number}.unit_id")
        payments.append(rules.post_payment(session, account, amount=line["amount"], method="direct_debit",
                                           reference=line["reference"], actor=principal().subject))
    return {"payments": payments}


@api.post("/sites/<site_id>/month-closes")
@api.auth_required(auth)
@api.input(MonthCloseIn)
@api.output(MonthCloseOut, status_code=201)
@api.doc(description="Close a month that is over (月结): its figures are kept, and no payment dated in it is "
                     "posted or voided afterwards.")
def close_month(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    return closing.close(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                         month=json_data["month"], actor=principal().subject)


@api.get("/sites/<site_id>/month-closes")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(MonthCloseOut))
def list_month_closes(site_id, query_data):
    stmt = select(MonthClose).where(MonthClose.site_id == site_row(site_id).site_id)
    return keyset_page(db_session(), stmt, (MonthClose.month, MonthClose.id), query_data)


@api.post("/sites/<site_id>/payment-gateways")
@api.auth_required(auth)
@api.input(GatewayIn)
@api.output(GatewayOut, status_code=201)
def add_gateway(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    gateway = PaymentGateway(organization_id=site.organization_id, site_id=site.site_id, name=json_data["name"],
                             secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                             created_by=principal().subject, created_at=utcnow())
    session = db_session()
    session.add(gateway)
    session.flush()
    return {"id": gateway.id, "site_id": gateway.site_id, "name": gateway.name, "secret": gateway.secret,
            "webhook_url": f"/v1/payment-gateways/{gateway.id}/webhook"}


REFUSALS = ("invalid", "stale", "a replay", "from an unknown gateway")
for _reason in REFUSALS:
    metrics.WEBHOOK_SIGNATURE_FAILURES.labels(metrics.SERVICE, _reason)


def _refused(reason: str) -> Problem:
    metrics.WEBHOOK_SIGNATURE_FAILURES.labels(metrics.SERVICE, reason).inc()
    return Problem(401, "Unauthorized", f"The webhook's signature is {reason}.")


_WEBHOOK_ERRORS = {status: {"description": text, "content": {PROBLEM_JSON: {
    "schema": {"$ref": "#/components/schemas/Problem"}}}} for status, text in (
    (400, "The body is not valid JSON."),
    (401, "The signature is missing, altered or stale (over 5 minutes), or the call is a replay."),
    (409, "The payment's reference is posted already."),
    (413, "The body is larger than allowed."),
    (422, "The signed body is not a payment; `field` names what is wrong."),
    (503, "The database cannot be reached; retry after `Retry-After` seconds."))}


@api.post("/payment-gateways/<gateway_id>/webhook")
# Documented here, read only once the signature over the raw body holds.
@api.input(WebhookIn, validation=False)
@api.output(PaymentOut, status_code=200)
@api.doc(description="The online-payment gateway's call, signed by Standard Webhooks (`webhook-id`, "
                     "`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`). "
                     "Authenticated by its signature, not a bearer token; a call seen before is a replay.",
         responses=_WEBHOOK_ERRORS)
def payment_webhook(gateway_id, json_data):
    session = db_session()
    gateway = session.get(PaymentGateway, gateway_id)
    if gateway is None:
        raise _refused("from an unknown gateway")
    try:
        body = Webhook(gateway.secret).verify(request.get_data(), dict(request.headers))
    except (WebhookVerificationError, ValueError, binascii.Error) as exc:
        raise _refused("stale" if "timestamp" in str(exc) else "invalid") from exc
    webhook_id = request.headers["webhook-id"][:100]
    if session.get(WebhookDelivery, webhook_id) is not None:
        raise _refused("a replay")
    session.add(WebhookDelivery(webhook_id=webhook_id, gateway_id=gateway.id, received_at=utcnow()))
    try:
        call = WebhookIn().load(body if isinstance(body, dict) else {})
    except ValidationError as invalid:
        raise from_validation({"json": invalid.messages}) from invalid
    paid = call["data"]
    unit = session.get(Unit, paid["unit_id"])
    if unit is None or unit.organization_id != gateway.organization_id or unit.site_id != gateway.site_id:
        raise Problem(422, "Unprocessable Content", "No such unit at the gateway's site.", field="data.unit_id")
    person_id = paid["person_id"] or rules.default_payer(session, unit.unit_id)
    account = rules.account_of(session, unit.organization_id, unit.site_id, unit.unit_id, person_id)
    return rules.post_payment(session, account, amount=paid["amount"], method="online", reference=paid["reference"],
                              actor=f"gateway:{gateway.name}", paid_at=paid["paid_at"])
