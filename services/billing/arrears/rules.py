"""The arrears ladder (催缴, BIL-5): reminder → demand letter → late fee → home visit → lawyer's letter → public
posting → service suspension → litigation, each step at a configurable number of days after the account fell overdue.

The worker's job takes each due step once: a step's id is derived from (account, step, overdue since) and
goes in with insert-on-conflict-do-nothing in the transaction that records its event, so two workers or a
repeated firing take it once. Every step is published (notifications sends it, ticketing records a
fee-refusal violation) and audited; the late-fee step also charges the fee accrued so far.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timezone
from decimal import Decimal

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.billing import metrics
from services.billing.arrears.tables import ArrearsStep
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Account, Charge
from services.billing.models import CURRENCY, chassis, to_fen, utcnow
from services.billing.places.rules import time_zone
from shared import audit, bulk, policy
from shared.bus.outbox import record

STEPS = ("reminder", "demand_letter", "late_fee", "home_visit", "lawyer_letter", "public_posting", "suspension",
         "litigation")
LADDER = policy.define("billing.arrears.ladder", {
    "reminder": 1, "demand_letter": 91, "late_fee": 91, "home_visit": 151, "lawyer_letter": 181,
    "public_posting": 271, "suspension": 366, "litigation": 546,
}, "Days after an account fell overdue each arrears step is taken; a step left out is not taken. The demand "
   "letter follows the reminder by 3 months; the home visit is for debtors who live in the unit.")
LATE_FEE_RATE = policy.define("billing.arrears.late_fee_rate_per_day", "0.0003",
                              "Late fee (滞纳金) per day on the overdue amount, after the grace days.")
GRACE_DAYS = policy.define("billing.arrears.grace_days", 30, "Days overdue before the late fee accrues.")
ACTOR = "arrears-ladder"
for _step in STEPS:
    metrics.ARREARS_STEPS.labels(metrics.SERVICE, _step)
_STEPS = uuid.UUID("2f8e6d4c-1a3b-4c5d-8e7f-9a0b1c2d3e4f")


def step_id(account_id: str, step: str, overdue_since: date) -> str:
    return str(uuid.uuid5(_STEPS, f"{account_id}:{step}:{overdue_since.isoformat()}"))


def late_fee(amount: Decimal, days_overdue: int, rate: Decimal, grace_days: int) -> Decimal:
    return to_fen(amount * rate * max(days_overdue - grace_days, 0))


def full_months(since: date, today: date) -> int:
    """Whole months from `since` to `today`: 31 January to 2 May is three."""
    return (today.year - since.year) * 12 + today.month - since.month - (today.day < since.day)


def take_due_steps(sessions: sessionmaker, now: datetime | None = None) -> int:
    """Every due step of every overdue account, each once. Answers how many were taken."""
    now = now or utcnow()
    taken = 0
    with sessions() as session:
        sites = session.execute(select(Charge.organization_id, Charge.site_id).where(Charge.state == "open")
                                .distinct()).all()
    for organization_id, site_id in sites:
        with sessions() as session, session.begin():
            taken += take_at_site(session, organization_id, site_id, now)
    return taken


def take_at_site(session: Session, organization_id: str, site_id: str, now: datetime) -> int:
    today = now.astimezone(time_zone(session, site_id)).date()
    ladder = {step: int(days) for step, days in dict(policy.value(
        session, chassis, organization_id, site_id, LADDER)).items() if step in STEPS}
    rate = Decimal(str(policy.value(session, chassis, organization_id, site_id, LATE_FEE_RATE)))
    grace = int(policy.value(session, chassis, organization_id, site_id, GRACE_DAYS))
    overdue = session.execute(select(Charge.account_id, func.min(Charge.due_on), func.sum(Charge.amount - Charge.paid))
                              .where(Charge.site_id == site_id, Charge.state == "open", Charge.due_on < today)
                              .group_by(Charge.account_id)).all()
    taken = 0
    for account_id, overdue_since, amount in overdue:
        days = (today - overdue_since).days
        due = [step for step in STEPS if step in ladder and ladder[step] <= days]
        if not due:
            continue
        fee = late_fee(Decimal(amount), days, rate, grace)
        rows = [{"id": step_id(account_id, step, overdue_since), "organization_id": organization_id,
                 "site_id": site_id, "account_id": account_id, "step": step, "overdue_since": overdue_since,
                 "amount_overdue": Decimal(amount), "late_fee": fee if step == "late_fee" else Decimal("0.00"),
                 "taken_at": now} for step in due]
        new = bulk.insert_new(session, ArrearsStep.__table__, rows, key="id")
        account = session.get(Account, account_id)
        for row in rows:
            if row["id"] in new:
                _publish(session, account, row, today)
                taken += 1
    return taken


def _publish(session: Session, account: Account, row: dict, today: date) -> None:
    if row["step"] == "late_fee" and row["late_fee"] > 0:
        ledger.raise_charges(session, [ledger.charge_row(
            account, key=f"late_fee:{row['id']}", item="late_fee", amount=row["late_fee"], period="",
            description=f"滞纳金 late fee on {row['amount_overdue']} overdue since {row['overdue_since'].isoformat()}",
            source="late_fee", source_id=row["id"], due_on=today)])
        ledger.spend_prepaid(session, [account.id])
    overdue_at = datetime.combine(row["overdue_since"], time(), time_zone(session, account.site_id))
    event = ArrearsStepTaken(
        step_id=row["id"], site_id=account.site_id, unit_id=account.unit_id, person_id=account.person_id,
        step=row["step"], amount_overdue=str(row["amount_overdue"]), currency=CURRENCY,
        months_overdue=full_months(row["overdue_since"], today),
        late_fee=str(row["late_fee"]) if row["step"] == "late_fee" else "")
    event.overdue_since.FromDatetime(overdue_at.astimezone(timezone.utc))
    event.taken_at.FromDatetime(row["taken_at"])
    record(session, chassis.outbox, event, organization_id=account.organization_id)
    audit.record(session, chassis.audit_log, organization_id=account.organization_id, site_id=account.site_id,
                 entity="account", entity_id=account.id, action=f"arrears_{row['step']}", actor=ACTOR,
                 data={"amount_overdue": str(row["amount_overdue"]), "late_fee": str(row["late_fee"]),
                       "overdue_since": row["overdue_since"].isoformat()})
    metrics.ARREARS_STEPS.labels(metrics.SERVICE, row["step"]).inc()
