"""Events the ledger publishes on `billing.events`; contracts in proto/psp/billing/v1/accounts.proto and
events.proto."""

from __future__ import annotations

from decimal import Decimal

from psp.billing.v1.accounts_pb2 import PaymentReceived
from psp.billing.v1.events_pb2 import ChargesSettled

from services.billing.ledger.tables import ChargeRequest, Payment


def payment_received(payment: Payment, balance_after: Decimal) -> PaymentReceived:
    event = PaymentReceived(
        payment_id=payment.id, site_id=payment.site_id, unit_id=payment.unit_id, person_id=payment.person_id,
        amount=str(payment.amount), currency=payment.currency, receipt_number=payment.receipt_number,
        method=payment.method, balance_after=str(balance_after))
    event.paid_at.FromDatetime(payment.paid_at)
    return event


def charges_settled(request: ChargeRequest, amount_paid: Decimal, currency: str,
                    receipt_numbers: list[str]) -> ChargesSettled:
    return ChargesSettled(
        request_id=request.request_id, purpose=request.purpose, reference_id=request.reference_id,
        site_id=request.site_id, unit_id=request.unit_id, amount_paid=str(amount_paid), currency=currency,
        receipt_numbers=receipt_numbers)
