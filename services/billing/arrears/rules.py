"""The arrears ladder (催缴, BIL-5): reminder → demand letter → late fee → home visit → lawyer's letter → public
posting → service suspension → litigation, each step at a configurable number of days after the account fell overdue.

The worker's job takes each due step once: a step's id is derived from (account, step, overdue since) and
goes in with insert-on-conflict-do-nothing in the transaction that records its event, so two workers or a
repeated firing take it once. Every step is published (notifications sends it, ticketing records a
fee-refusal violation) and audited.

The late fee (滞纳金) accrues per day on each overdue charge past the grace days, from the day the late-fee step
is due: each run charges the days since the account's last accrual, as one charge keyed by account and day, so
it accrues once per account and day whatever the number of runs or workers. A charge paid stops accruing, and
the fee of one overdue spell stays within the site's cap, if it sets one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import NamedTuple

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken
from sqlalchemy import and_, func, select
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
LATE_FEE_CAP = policy.define(
    "billing.arrears.late_fee_cap", None,
    "The most late fee one overdue spell accrues, as a share of the overdue charges (\"1.00\": never more "
    "than the debt itself); null: no cap.")
ACTOR = "arrears-ladder"
for _step in STEPS:
    metrics.ARREARS_STEPS.labels(metrics.SERVICE, _step)
_STEPS = uuid.UUID("2f8e6d4c-1a3b-4c5d-8e7f-9a0b1c2d3e4f")


def step_id(account_id: str, step: str, overdue_since: date) -> str:
    return str(uuid.uuid5(_STEPS, f"{account_id}:{step}:{overdue_since.isoformat()}"))


class LateFeeTerms(NamedTuple):
    """A site's late-fee settings."""

    rate: Decimal
    grace_days: int
    cap: Decimal | None


def late_fee(overdue: Iterable[tuple[date, Decimal]], today: date, accrued_through: date | None,
             accrued: Decimal, terms: LateFeeTerms) -> Decimal:
    """The fee the overdue charges (due date, amount still owed) accrued from the later of their grace's end
    and the last accrual up to today, within what the cap leaves of this spell's fee."""
    charge_days = Decimal(0)
    base = Decimal(0)
    for due_on, owed in overdue:
        base += owed
        start = due_on + timedelta(days=terms.grace_days)
        if accrued_through is not None:
            start = max(start, accrued_through)
        charge_days += owed * max((today - start).days, 0)
    fee = to_fen(charge_days * terms.rate)
    if terms.cap is not None:
        fee = min(fee, max(to_fen(base * terms.cap) - accrued, Decimal("0.00")))
    return fee


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
    terms = _late_fee_terms(session, organization_id, site_id)
    overdue = session.execute(select(Charge.account_id, func.min(Charge.due_on), func.sum(Charge.amount - Charge.paid))
                              .where(Charge.site_id == site_id, Charge.state == "open", Charge.due_on < today)
                              .group_by(Charge.account_id)).all()
    due_steps = {account_id: [step for step in STEPS if step in ladder and ladder[step] <= (today - since).days]
                 for account_id, since, _ in overdue}
    fees = accrue_late_fees(session, site_id, today, terms,
                            {account_id for account_id, steps in due_steps.items() if "late_fee" in steps})
    taken = 0
    for account_id, overdue_since, amount in overdue:
        due = due_steps[account_id]
        if not due:
            continue
        rows = [{"id": step_id(account_id, step, overdue_since), "organization_id": organization_id,
                 "site_id": site_id, "account_id": account_id, "step": step, "overdue_since": overdue_since,
                 "amount_overdue": Decimal(amount),
                 "late_fee": fees.get(account_id, Decimal("0.00")) if step == "late_fee" else Decimal("0.00"),
                 "taken_at": now} for step in due]
        new = bulk.insert_new(session, ArrearsStep.__table__, rows, key="id")
        account = session.get(Account, account_id)
        for row in rows:
            if row["id"] in new:
                _publish(session, account, row, today)
                taken += 1
    return taken


def _late_fee_terms(session: Session, organization_id: str, site_id: str) -> LateFeeTerms:
    cap = policy.value(session, chassis, organization_id, site_id, LATE_FEE_CAP)
    return LateFeeTerms(Decimal(str(policy.value(session, chassis, organization_id, site_id, LATE_FEE_RATE))),
                        int(policy.value(session, chassis, organization_id, site_id, GRACE_DAYS)),
                        None if cap is None else Decimal(str(cap)))


def accrue_late_fees(session: Session, site_id: str, today: date, terms: LateFeeTerms,
                     account_ids: set[str]) -> dict[str, Decimal]:
    """Charge the accounts the late fee accrued since their last accrual, once per account and day (the
    charge's key; a second worker's twin is skipped). Answers each account's fee of its overdue spell so far.
    A late fee bears none itself."""
    if not account_ids:
        return {}
    past_grace = today - timedelta(days=terms.grace_days)
    principal = (Charge.site_id == site_id, Charge.state == "open", Charge.source != "late_fee",
                 Charge.due_on < past_grace)
    overdue: dict[str, list[tuple[date, Decimal]]] = {}
    owing = select(Charge.account_id, Charge.due_on, Charge.amount - Charge.paid).where(*principal)
    for account_id, due_on, owed in session.execute(owing):
        if account_id in account_ids:
            overdue.setdefault(account_id, []).append((due_on, Decimal(owed)))
    spells = select(Charge.account_id, func.min(Charge.due_on).label("since")).where(*principal).group_by(
        Charge.account_id).subquery()
    earlier = {account_id: (through, Decimal(accrued)) for account_id, through, accrued in session.execute(
        select(spells.c.account_id, func.max(Charge.due_on), func.sum(Charge.amount)).join(Charge, and_(
            Charge.account_id == spells.c.account_id, Charge.source == "late_fee", Charge.due_on >= spells.c.since))
        .group_by(spells.c.account_id))}
    accounts = {account.id: account
                for account in session.scalars(select(Account).where(Account.id.in_(list(overdue))))}
    rows, fees = [], {}
    for account_id, charges in overdue.items():
        through, accrued = earlier.get(account_id, (None, Decimal("0.00")))
        fee = late_fee(charges, today, through, accrued, terms)
        fees[account_id] = accrued + fee
        if fee > 0:
            rows.append(ledger.charge_row(
                accounts[account_id], key=f"late_fee:{account_id}:{today.isoformat()}", item="late_fee", amount=fee,
                period="",
                description=f"滞纳金 late fee to {today.isoformat()} on "
                            f"{sum((owed for _, owed in charges), Decimal('0.00'))} overdue",
                source="late_fee", source_id=account_id, due_on=today))
    ledger.spend_prepaid(session, [row["account_id"] for row in ledger.raise_charges(session, rows)])
    return fees


def _publish(session: Session, account: Account, row: dict, today: date) -> None:
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
