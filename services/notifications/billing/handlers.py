"""Billing notices (NTF-6): the payment notice, the receipt, each step of the arrears ladder and a prepaid
meter running low, to the payer billing names. Letters with legal weight cannot be opted out of."""

from __future__ import annotations

from datetime import timezone

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken, BillIssued, PaymentReceived, PrepaidBalanceLow

from services.notifications.delivery.rules import Cause, enqueue
from services.notifications.handlers import handlers
from services.notifications.recipients import rules as recipients

LEGAL_STEPS = frozenset({"demand_letter", "lawyer_letter", "litigation"})


def _to_payer(session, event, kind: str, data: dict, category: str = "billing") -> None:
    enqueue(session, Cause.of_event(event), organization_id=event.organization_id, site_id=event.payload.site_id,
            category=category, template_kind=kind, data=data,
            targets=recipients.person(session, event.organization_id, event.payload.person_id))


@handlers.on(BillIssued)
def notify_bill(session, event):
    bill = event.payload
    _to_payer(session, event, "bill_issued", {"period": bill.period, "amount": bill.amount, "currency": bill.currency,
                                              "due_at": bill.due_at.ToDatetime(timezone.utc).date().isoformat()})


@handlers.on(PaymentReceived)
def send_receipt(session, event):
    payment = event.payload
    _to_payer(session, event, "payment_received", {"amount": payment.amount, "currency": payment.currency,
                                                   "receipt_number": payment.receipt_number})


@handlers.on(ArrearsStepTaken)
def notify_arrears_step(session, event):
    step = event.payload
    _to_payer(session, event, "arrears_step",
              {"step": step.step, "amount_overdue": step.amount_overdue, "currency": step.currency,
               "months_overdue": step.months_overdue, "late_fee": step.late_fee},
              category="legal" if step.step in LEGAL_STEPS else "billing")


@handlers.on(PrepaidBalanceLow)
def warn_low_balance(session, event):
    meter = event.payload
    _to_payer(session, event, "prepaid_balance_low",
              {"balance": meter.balance, "threshold": meter.threshold, "currency": meter.currency})
