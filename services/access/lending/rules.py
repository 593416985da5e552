"""Lending of items and common keys, and temporary storage (ACC-4, ACC-1). Plain functions over a session.

A loan of a key moves the key in the register with it (lent, back in the office, lost). The overdue alert is
a scheduled job: it claims each overdue loan with a conditional UPDATE, so two workers alert once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp
from psp.access.v1.lending_pb2 import LoanOverdue
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.access.keys import rules as keys
from services.access.keys.tables import Key
from services.access.lending.tables import Loan, StoredItem
from services.access.models import chassis, utcnow
from shared import audit
from shared.bus import outbox
from shared.db import aware
from shared.problems import unprocessable
from shared.roles import CUSTOMER_SERVICE, SECURITY_GUARD
from shared.workflow import Step, Workflow

LENDERS = frozenset({*CUSTOMER_SERVICE, SECURITY_GUARD})
LOAN = Workflow("loan", "out", [
    Step("out", "return", "returned", roles=LENDERS),
    Step("out", "report_lost", "lost", roles=LENDERS),
], final=("returned", "lost"))
STORAGE = Workflow("stored item", "stored", [
    Step("stored", "pick_up", "picked_up", roles=LENDERS),
], final=("picked_up",))
OVERDUE_ACTOR = "access"


def lend(session: Session, *, organization_id: str, site_id: str, key: Key | None, item: str, borrower_name: str,
         borrower_person_id: str | None, borrower_phone: str, due_at: datetime, deposit: Decimal,
         actor: str, roles) -> Loan:
    due_at = aware(due_at)
    if due_at <= utcnow():
        raise unprocessable("due_at", "The return deadline must be in the future.")
    if key is not None:
        keys.move(session, key, "lend", actor=actor, roles=None, holder_person_id=borrower_person_id,
                  holder_name=borrower_name)
        item = item or key.tag
    elif not item.strip():
        raise unprocessable("item", "Name the item lent, or the key.")
    loan = Loan(organization_id=organization_id, site_id=site_id, key_id=key.id if key else None, item=item,
                borrower_name=borrower_name, borrower_person_id=borrower_person_id, borrower_phone=borrower_phone,
                deposit=deposit, lent_by=actor, due_at=due_at, state=LOAN.initial)
    session.add(loan)
    session.flush()
    audit.record_for(session, chassis.audit_log, loan, entity="loan", action="lend", actor=actor,
                     to_state=loan.state, data={"item": item, "key_id": loan.key_id, "due_at": due_at.isoformat(),
                                                "deposit": str(deposit)})
    return loan


def close(session: Session, loan: Loan, action: str, *, actor: str, roles, reason: str = "") -> Loan:
    """Returned or lost; a key follows its loan."""
    step = LOAN.step(loan.state, action, roles)
    loan.state = step.target
    if action == "return":
        loan.returned_at = utcnow()
    if loan.key_id:
        key = session.get(Key, loan.key_id)
        keys.move(session, key, "take_back" if action == "return" else "report_lost", actor=actor, roles=None,
                  reason=reason)
    audit.record_for(session, chassis.audit_log, loan, entity="loan", action=action, actor=actor,
                     from_state=step.source, to_state=step.target, reason=reason)
    return loan


def alert_overdue(sessions: sessionmaker, batch: int = 200) -> int:
    """Publish one LoanOverdue per loan past its deadline and still out; answers how many."""
    with sessions() as session, session.begin():
        now = utcnow()
        due = session.scalars(select(Loan).where(Loan.state == "out", Loan.due_at < now,
                                                 Loan.overdue_alerted_at.is_(None))
                              .order_by(Loan.due_at).limit(batch).with_for_update(skip_locked=True)).all()
        alerted = 0
        for loan in due:
            claimed = session.execute(update(Loan).where(Loan.id == loan.id, Loan.overdue_alerted_at.is_(None))
                                      .values(overdue_alerted_at=now)).rowcount
            if not claimed:
                continue
            due_at = Timestamp()
            due_at.FromDatetime(aware(loan.due_at))
            outbox.record(session, chassis.outbox, LoanOverdue(
                loan_id=loan.id, site_id=loan.site_id, key_id=loan.key_id or "", item=loan.item,
                borrower_name=loan.borrower_name, borrower_person_id=loan.borrower_person_id or "",
                borrower_phone=loan.borrower_phone, due_at=due_at), organization_id=loan.organization_id)
            audit.record_for(session, chassis.audit_log, loan, entity="loan", action="overdue_alert",
                             actor=OVERDUE_ACTOR, data={"due_at": aware(loan.due_at).isoformat()})
            alerted += 1
    return alerted


def store(session: Session, *, organization_id: str, site_id: str, description: str, depositor_name: str,
          depositor_person_id: str | None, pickup_name: str, deposit: Decimal, actor: str) -> StoredItem:
    """An item kept for pickup; the answer carries the pickup code given to the depositor."""
    stored = StoredItem(organization_id=organization_id, site_id=site_id, description=description,
                        depositor_name=depositor_name, depositor_person_id=depositor_person_id,
                        pickup_name=pickup_name, pickup_code=f"{secrets.randbelow(10**6):06d}", deposit=deposit,
                        state=STORAGE.initial, stored_by=actor)
    session.add(stored)
    session.flush()
    audit.record_for(session, chassis.audit_log, stored, entity="stored_item", action="store", actor=actor,
                     to_state=stored.state, data={"description": description, "deposit": str(deposit)})
    return stored


def pick_up(session: Session, stored: StoredItem, *, actor: str, roles, pickup_code: str, picked_up_by: str,
            reason: str = "") -> StoredItem:
    step = STORAGE.step(stored.state, "pick_up", roles)
    if not secrets.compare_digest(pickup_code, stored.pickup_code):
        raise unprocessable("pickup_code", "The pickup code does not match.")
    stored.state, stored.picked_up_by, stored.picked_up_at = step.target, picked_up_by, utcnow()
    audit.record_for(session, chassis.audit_log, stored, entity="stored_item", action="pick_up", actor=actor,
                     from_state=step.source, to_state=step.target, reason=reason,
                     data={"picked_up_by": picked_up_by, "deposit_refunded": str(stored.deposit)})
    return stored
