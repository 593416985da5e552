"""Deposit refunds (BIL-7). Plain functions over a session; no Flask.

A refund is asked for (by the desk, or by occupants after a decoration's completion inspection), approved or
rejected by a manager, then paid by the cashier. Paying writes two ledger entries that keep the balance
true: a credit of the refunded amount (the deposit given back) and a payment of minus that amount (the money
going out, on a receipt numbered from the site's sequence). The part of the deposit kept back stays paid,
its reasons on the refund.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.billing.deposits.tables import Refund
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Account, Charge, Credit, Payment
from services.billing.models import chassis, new_id, utcnow
from shared import audit, bulk, roles
from shared.problems import Problem, unprocessable
from shared.workflow import Step, Workflow

DEPOSITS = ("decoration_deposit", "property_deposit")
REFUND = Workflow("refund", "requested", [
    Step("requested", "approve", "approved", roles=roles.MANAGERS),
    Step("requested", "reject", "rejected", roles=roles.MANAGERS),
    Step("approved", "pay", "paid", roles=(*roles.MANAGERS, roles.CASHIER)),
], final={"rejected", "paid"})


def held(session: Session, account_id: str, item: str) -> Decimal:
    """The deposit paid on the account and not refunded or asked back yet."""
    paid = session.scalar(select(func.coalesce(func.sum(Charge.paid), 0)).where(
        Charge.account_id == account_id, Charge.item == item))
    asked = session.scalar(select(func.coalesce(func.sum(Refund.held), 0)).where(
        Refund.account_id == account_id, Refund.item == item, Refund.state != "rejected"))
    return Decimal(paid) - Decimal(asked)


def request(session: Session, account: Account, *, key: str, item: str, deductions: Sequence[dict], actor: str,
            reason: str = "") -> Refund | None:
    """Ask for the deposit back less the deductions; None when this key asked already."""
    if item not in DEPOSITS:
        raise unprocessable("item", f"A refund gives back one of: {', '.join(DEPOSITS)}.")
    account = ledger.lock(session, account.id)
    for number, deduction in enumerate(deductions):
        if not str(deduction.get("reason", "")).strip():
            raise unprocessable(f"deductions.{number}.reason", "Every deduction says why.")
    kept = sum((Decimal(d["amount"]) for d in deductions), Decimal("0.00"))
    deposit = held(session, account.id, item)
    if deposit <= 0:
        raise Problem(409, "Conflict", f"The account holds no {item} to refund.", field="item")
    if kept > deposit:
        raise unprocessable("deductions", f"The deductions, {kept}, exceed the deposit held, {deposit}.")
    row = {"id": new_id(), "key": key, "organization_id": account.organization_id, "site_id": account.site_id,
           "account_id": account.id, "item": item, "held": deposit,
           "deductions": [{"amount": str(Decimal(d["amount"])), "reason": d["reason"]} for d in deductions],
           "amount": deposit - kept, "state": REFUND.initial, "reason": reason, "requested_by": actor,
           "decided_by": "", "payment_id": None, "created_at": utcnow()}
    if not bulk.insert_new(session, Refund.__table__, [row], key="key"):
        return None
    refund = session.get(Refund, row["id"])
    audit.record_for(session, chassis.audit_log, refund, entity="refund", action="request", actor=actor,
                     to_state=refund.state, reason=reason,
                     data={"item": item, "held": str(deposit), "deductions": row["deductions"],
                           "amount": str(refund.amount)})
    return refund


def decide(session: Session, refund: Refund, *, action: str, actor: str, roles, reason: str = "") -> Refund:
    """Approve or reject (a manager at the site)."""
    step = REFUND.step(refund.state, action, roles)
    if action == "reject" and not reason.strip():
        raise unprocessable("reason", "A rejection says why.")
    previous, refund.state, refund.decided_by = refund.state, step.target, actor
    audit.record_for(session, chassis.audit_log, refund, entity="refund", action=action, actor=actor,
                     from_state=previous, to_state=refund.state, reason=reason)
    return refund


def pay(session: Session, refund: Refund, *, actor: str, roles) -> Refund:
    """Give the money back: the credit and the negative payment, on a numbered receipt."""
    step = REFUND.step(refund.state, "pay", roles)
    account = ledger.lock(session, refund.account_id)
    now = utcnow()
    if refund.amount > 0:
        session.add(Credit(id=new_id(), organization_id=account.organization_id, site_id=account.site_id,
                           account_id=account.id, amount=refund.amount, unallocated=Decimal("0.00"),
                           currency=account.currency, reason=f"{refund.item} refunded ({refund.id})",
                           created_by=actor, created_at=now))
        payout = Payment(id=new_id(), organization_id=account.organization_id, site_id=account.site_id,
                         account_id=account.id, unit_id=account.unit_id, person_id=account.person_id,
                         amount=-refund.amount, unallocated=Decimal("0.00"), currency=account.currency,
                         method="refund", reference=f"refund:{refund.id}",
                         receipt_number=ledger.next_receipt_number(session, account.site_id), state="posted",
                         paid_at=now, posted_by=actor)
        session.add(payout)
        session.flush()
        refund.payment_id = payout.id
    previous, refund.state = refund.state, step.target
    session.flush()
    audit.record_for(session, chassis.audit_log, refund, entity="refund", action="pay", actor=actor,
                     from_state=previous, to_state=refund.state, data={"amount": str(refund.amount)})
    return refund
