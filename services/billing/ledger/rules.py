"""The owner ledger (台帐, BIL-4). Plain functions over a session; no Flask.

An account's balance is charges − payments − credits, always computed from the entries. Payments and
credits settle open charges oldest first (or the charges named); what is left is the prepaid balance, spent
on the next charges as they are raised, month by month (按月分解预收). Every posting to an account holds
the account's row lock, so concurrent payments settle each charge once and receipt numbers (a row-locked
counter per site) have no gaps.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from services.billing import metrics
from services.billing.ledger import closing, events
from services.billing.ledger.tables import (
    Account, Allocation, Charge, ChargeRequest, Credit, Payment, ReceiptCounter)
from services.billing.models import CURRENCY, chassis, new_id, utcnow
from services.billing.places.rules import payers_of
from shared import audit, bulk, policy
from shared.bus.outbox import record
from shared.problems import Problem, unprocessable

METHODS = ("counter", "door_to_door", "direct_debit", "online")
PREPAYMENT_ALLOWED = policy.define(
    "billing.prepayment_allowed", True,
    "Whether a payment may exceed what is owed, the rest kept as a prepaid balance (预收).")
# Every method's series exists from the start at 0, so a rate over a quiet method reads 0.
for _method in METHODS:
    metrics.PAYMENTS_POSTED.labels(metrics.SERVICE, _method)
    metrics.PAID_AMOUNT.labels(metrics.SERVICE, _method)
# How far ahead of this server's clock a payment's time may be (a gateway's or a till's clock running fast).
CLOCK_SKEW = timedelta(minutes=5)
_ACCOUNTS = uuid.UUID("4b1f6e0a-2c7d-4e59-9a3b-8d0c1e2f3a4b")


def account_id(unit_id: str, person_id: str) -> str:
    """Derived, so a bill run opens each account once with a plain insert."""
    return str(uuid.uuid5(_ACCOUNTS, f"{unit_id}:{person_id}"))


class Owner(NamedTuple):
    """Whose account a charge goes to, before the account is loaded: what `charge_row` reads of an Account."""

    organization_id: str
    site_id: str
    unit_id: str
    person_id: str
    id: str


def owner(organization_id: str, site_id: str, unit_id: str, person_id: str) -> Owner:
    return Owner(organization_id, site_id, unit_id, person_id, account_id(unit_id, person_id))


def open_accounts(session: Session, owners: Iterable[Owner]) -> None:
    """The owners' accounts, those missing only."""
    now = utcnow()
    wanted = {row.id: row for row in owners}
    bulk.insert_new(session, Account.__table__, [
        {"id": row.id, "organization_id": row.organization_id, "site_id": row.site_id, "unit_id": row.unit_id,
         "person_id": row.person_id, "currency": CURRENCY, "opened_at": now} for row in wanted.values()], key="id")


def account_of(session: Session, organization_id: str, site_id: str, unit_id: str, person_id: str) -> Account:
    """The account, locked for this transaction; opened first if it is new."""
    whose = owner(organization_id, site_id, unit_id, person_id)
    found = locked_if_open(session, whose.id)
    if found is None:
        open_accounts(session, [whose])
        found = lock(session, whose.id)
    return found


def default_payer(session: Session, unit_id: str) -> str:
    """Who pays at the unit when the payer is not named: whoever owes its oldest open charge (a newcomer's
    move-in fees), else the unit's payer now."""
    owing = session.scalar(select(Charge.person_id).where(Charge.unit_id == unit_id, Charge.state == "open")
                           .order_by(Charge.due_on, Charge.created_at).limit(1))
    return owing if owing is not None else payers_of(session, [unit_id]).get(unit_id, "")


def charge_row(account: Account | Owner, *, key: str, item: str, amount: Decimal, period: str, description: str,
               source: str, source_id: str, due_on: date, currency: str = CURRENCY,
               created_at: datetime | None = None) -> dict:
    """A charge as a row for `raise_charges`."""
    return {"id": new_id(), "key": key, "organization_id": account.organization_id, "site_id": account.site_id,
            "account_id": account.id, "unit_id": account.unit_id, "person_id": account.person_id, "item": item,
            "period": period, "amount": amount, "paid": Decimal("0.00"), "currency": currency,
            "description": description[:300], "source": source, "source_id": source_id,
            "state": "open" if amount > 0 else "paid", "due_on": due_on, "created_at": created_at or utcnow()}


def raise_charges(session: Session, rows: Sequence[dict]) -> list[dict]:
    """Insert the charges whose key is new (the accounts must exist); answers the rows inserted. A key
    raised before, by this call's twin or an earlier one, is skipped by the unique constraint."""
    inserted = bulk.insert_new(session, Charge.__table__, rows, key="key")
    new = [row for row in rows if row["key"] in inserted]
    metrics.charged(new)
    return new


def balance(session: Session, account_id_: str) -> Decimal:
    """Charges − payments − credits; negative is the payer's credit."""
    charged = session.scalar(select(func.coalesce(func.sum(Charge.amount), 0)).where(Charge.account_id == account_id_))
    paid = session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.account_id == account_id_, Payment.state == "posted"))
    credited = session.scalar(select(func.coalesce(func.sum(Credit.amount), 0)).where(Credit.account_id == account_id_))
    return Decimal(charged) - Decimal(paid) - Decimal(credited)


def outstanding(session: Session, account_id_: str) -> Decimal:
    """What the open charges still want."""
    return Decimal(session.scalar(select(func.coalesce(func.sum(Charge.amount - Charge.paid), 0)).where(
        Charge.account_id == account_id_, Charge.state == "open")))


def prepaid(session: Session, account_id_: str) -> Decimal:
    """Money and credits no charge has taken yet, in one statement."""
    return Decimal(session.scalar(select(_prepaid(account_id_))))


def _prepaid(account_id_: str) -> ColumnElement:
    payments = select(func.coalesce(func.sum(Payment.unallocated), 0)).where(
        Payment.account_id == account_id_, Payment.state == "posted").scalar_subquery()
    credits = select(func.coalesce(func.sum(Credit.unallocated), 0)).where(
        Credit.account_id == account_id_).scalar_subquery()
    return payments + credits


# The statements of posting a payment are built once, their values bound at execution: building one anew
# for every payment costs more CPU than sending it.
_LOCK = (select(Account).where(Account.id == bindparam("account_id")).with_for_update()
         .execution_options(populate_existing=True))


class Figures(NamedTuple):
    balance: Decimal
    outstanding: Decimal
    prepaid: Decimal


def figures(session: Session, account_ids: Sequence[str]) -> dict[str, Figures]:
    """Each account's balance, outstanding and prepaid in one statement, whatever the number of accounts:
    the charges, payments and credits each grouped by account once."""
    if not account_ids:
        return {}
    zero = Decimal("0.00")
    charges = select(Charge.account_id, func.sum(Charge.amount).label("charged"), func.sum(case(
        (Charge.state == "open", Charge.amount - Charge.paid), else_=0)).label("outstanding")).where(
        Charge.account_id.in_(account_ids)).group_by(Charge.account_id).subquery()
    payments = select(Payment.account_id, func.sum(Payment.amount).label("paid"),
                      func.sum(Payment.unallocated).label("held")).where(
        Payment.account_id.in_(account_ids), Payment.state == "posted").group_by(Payment.account_id).subquery()
    credits = select(Credit.account_id, func.sum(Credit.amount).label("credited"),
                     func.sum(Credit.unallocated).label("held")).where(
        Credit.account_id.in_(account_ids)).group_by(Credit.account_id).subquery()
    rows = session.execute(
        select(Account.id, charges.c.charged, charges.c.outstanding, payments.c.paid, payments.c.held,
               credits.c.credited, credits.c.held)
        .outerjoin(charges, charges.c.account_id == Account.id)
        .outerjoin(payments, payments.c.account_id == Account.id)
        .outerjoin(credits, credits.c.account_id == Account.id).where(Account.id.in_(account_ids)))
    found = {}
    for account_id, *sums in rows:
        charged, owing, paid, paid_held, credited, credit_held = (Decimal(value or zero) for value in sums)
        found[account_id] = Figures(charged - paid - credited, owing, paid_held + credit_held)
    return found


def locked_if_open(session: Session, account_id_: str) -> Account | None:
    """The account locked for this transaction, or None when it is not open yet."""
    return session.scalars(_LOCK, {"account_id": account_id_}).first()


def lock(session: Session, account_id_: str) -> Account:
    """The account, locked for this transaction (PostgreSQL; SQLite's write lock covers the database)."""
    return session.scalars(_LOCK, {"account_id": account_id_}).one()


_OLDEST_DUE_FIRST = (Charge.due_on, Charge.created_at, Charge.id)


def _open_charges(session: Session, account_id_: str) -> list[Charge]:
    """The account's open charges, oldest due first (the account is locked, so they stay as read)."""
    return session.scalars(select(Charge).where(Charge.account_id == account_id_, Charge.state == "open")
                           .order_by(*_OLDEST_DUE_FIRST).execution_options(populate_existing=True)).all()


class _Posting(NamedTuple):
    charges: list[Charge]
    held: Decimal
    month_closed_near: bool


def _posting_facts() -> Select:
    facts = select(_prepaid(bindparam("account_id")).label("held"), exists(closing.closes_near(
        bindparam("site_id"), bindparam("months", expanding=True))).label("month_closed_near")).subquery()
    return (select(facts.c.held, facts.c.month_closed_near, Charge)
            .select_from(facts.outerjoin(Charge, and_(Charge.account_id == bindparam("account_id"),
                                                      Charge.state == "open")))
            .order_by(*_OLDEST_DUE_FIRST).execution_options(populate_existing=True))


_POSTING_FACTS = _posting_facts()


def _posting(session: Session, account: Account, paid_at: datetime) -> _Posting:
    """What a payment needs to know, in one statement as posting is the hot path: the account's open charges,
    oldest due first, what it holds prepaid, and whether a month the payment may fall in is closed. The
    facts are one row, joined to the charges so that an account without any still answers it."""
    rows = session.execute(_POSTING_FACTS, {"account_id": account.id, "site_id": account.site_id,
                                            "months": closing.months_near(paid_at)}).all()
    return _Posting([row.Charge for row in rows if row.Charge is not None], Decimal(rows[0].held),
                    bool(rows[0].month_closed_near))


_SETTLE_CHARGE = Charge.__table__.update().where(Charge.__table__.c.id == bindparam("charge_id")).values(
    paid=bindparam("new_paid"), state=bindparam("new_state"))


def _settle(session: Session, charges: Sequence[Charge], amount: Decimal, *, payment_id: str | None = None,
            credit_id: str | None = None, charge_ids: Sequence[str] = ()) -> tuple[Decimal, list[Charge]]:
    """Settle the open charges with `amount`: the named ones first, then oldest due first. Answers what is left
    and the charges it settled in full. The allocations go in one statement and the charges change in one
    more (an executemany, pipelined by psycopg), whatever their number; the loaded charges are kept in step
    without the ORM writing them again."""
    named = {charge_id: position for position, charge_id in enumerate(charge_ids)}
    shares, touched = [], []
    for charge in sorted(charges, key=lambda charge: named.get(charge.id, len(named))):
        if amount <= 0:
            break
        share = min(amount, charge.amount - charge.paid)
        shares.append({"charge_id": charge.id, "payment_id": payment_id, "credit_id": credit_id, "amount": share})
        set_committed_value(charge, "paid", charge.paid + share)
        set_committed_value(charge, "state", "paid" if charge.paid == charge.amount else "open")
        touched.append(charge)
        amount -= share
    if touched:
        bulk.insert(session, Allocation.__table__, shares)
        session.connection().execute(_SETTLE_CHARGE, [
            {"charge_id": charge.id, "new_paid": charge.paid, "new_state": charge.state} for charge in touched])
    return amount, [charge for charge in touched if charge.state == "paid"]


# Core, not the ORM's bulk update: nothing loaded needs to follow it.
_COUNTERS = ReceiptCounter.__table__
_TAKE_RECEIPT_NUMBER = _COUNTERS.update().where(_COUNTERS.c.site_id == bindparam("counter_site_id")).values(
    next_number=_COUNTERS.c.next_number + 1).returning(_COUNTERS.c.next_number)


def next_receipt_number(session: Session, site_id: str) -> str:
    """The site's next number, from its counter row, locked by the update until the payment commits: no gaps,
    no reuse, also under concurrency. A site's first receipt creates its counter."""
    number = session.connection().scalar(_TAKE_RECEIPT_NUMBER, {"counter_site_id": site_id})
    if number is None:
        bulk.insert_new(session, _COUNTERS, [{"site_id": site_id, "next_number": 1}], key="site_id")
        number = session.connection().scalar(_TAKE_RECEIPT_NUMBER, {"counter_site_id": site_id})
    return f"{number - 1:010d}"



def post_payment(session: Session, account: Account, *, amount: Decimal, method: str, reference: str,
                 actor: str, paid_at: datetime | None = None, charge_ids: Sequence[str] = ()) -> Payment:
    """Post a payment (counter, door-to-door, direct debit, online) with its receipt: it settles open charges,
    the rest is prepaid (if the policy allows), and charge requests it completes are announced settled. The
    caller holds the account's lock (`lock`, `account_of`), so the charges stay as read.

    The hot path of the service: the reads are one statement, the writes one each (receipt counter, payment,
    allocations, charges, audit, outbox), and a reference posted before is found by its unique constraint."""
    if amount <= 0:
        raise unprocessable("amount", "A payment is a positive amount.")
    paid_at = paid_at or utcnow()
    if paid_at > utcnow() + CLOCK_SKEW:
        raise unprocessable("paid_at", "A payment cannot be dated in the future.")
    charges, held, month_closed_near = _posting(session, account, paid_at)
    unknown = set(charge_ids) - {charge.id for charge in charges}
    if unknown:
        raise unprocessable("charge_ids", f"Not open charges of this account: {', '.join(sorted(unknown))}.")
    if month_closed_near:
        closing.check_open(session, account.site_id, paid_at)
    owed = sum((charge.amount - charge.paid for charge in charges), Decimal("0.00"))
    if amount > owed and not policy.value(session, chassis, account.organization_id, account.site_id,
                                          PREPAYMENT_ALLOWED):
        raise unprocessable("amount", f"The account owes {owed}; prepayment is not allowed at this site.")
    row = {"id": new_id(), "organization_id": account.organization_id, "site_id": account.site_id,
           "account_id": account.id, "unit_id": account.unit_id, "person_id": account.person_id, "amount": amount,
           "unallocated": max(amount - owed, Decimal("0.00")), "currency": account.currency, "method": method,
           "reference": reference, "receipt_number": next_receipt_number(session, account.site_id),
           "state": "posted", "void_reason": "", "paid_at": paid_at, "posted_by": actor}
    try:
        bulk.insert(session, Payment.__table__, [row])
    except IntegrityError as taken:
        if "reference" not in str(taken.orig):
            raise
        raise Problem(409, "Conflict", f"A payment with reference {reference} is posted already.",
                      field="reference") from taken
    # Written as a plain row; the caller reads it back as a Payment.
    payment = Payment(**row)
    _, settled = _settle(session, charges, amount, payment_id=payment.id, charge_ids=charge_ids)
    audit.record_for(session, chassis.audit_log, payment, entity="payment", action="post", actor=actor,
                     to_state="posted", data={"amount": str(amount), "method": method,
                                              "receipt_number": payment.receipt_number, "reference": reference})
    # balance = outstanding − prepaid, before the payment and after it: the payment takes its amount off.
    record(session, chassis.outbox, events.payment_received(payment, owed - held - amount),
           organization_id=account.organization_id)
    _announce_settled_requests(session, settled)
    metrics.PAYMENTS_POSTED.labels(metrics.SERVICE, method).inc()
    metrics.PAID_AMOUNT.labels(metrics.SERVICE, method).inc(float(amount))
    return payment


def void_payment(session: Session, payment: Payment, *, reason: str, actor: str) -> Payment:
    """Void a payment: its receipt number stays taken, the charges it settled are open again (or settled by
    other prepaid money)."""
    if not reason.strip():
        raise unprocessable("reason", "A void needs a reason.")
    lock(session, payment.account_id)
    session.refresh(payment)
    if payment.state != "posted":
        raise Problem(409, "Conflict", "The payment is voided already.", extra={"allowed": []})
    if payment.method == "refund":
        raise Problem(409, "Conflict", "A deposit refund paid out is not voided; a new charge corrects it.")
    closing.check_open(session, payment.site_id, payment.paid_at)
    for allocation in session.scalars(select(Allocation).where(Allocation.payment_id == payment.id)).all():
        charge = session.get(Charge, allocation.charge_id)
        charge.paid -= allocation.amount
        charge.state = "open"
        session.delete(allocation)
    payment.state, payment.void_reason, payment.unallocated = "voided", reason, Decimal("0.00")
    audit.record_for(session, chassis.audit_log, payment, entity="payment", action="void", actor=actor,
                     from_state="posted", to_state="voided", reason=reason,
                     data={"receipt_number": payment.receipt_number, "amount": str(payment.amount)})
    # Other money the account holds prepaid settles the charges the void opened again.
    spend_prepaid(session, [payment.account_id])
    return payment


def add_credit(session: Session, account: Account, *, amount: Decimal, reason: str, actor: str) -> Credit:
    """Take an amount off what the account owes without money received; it settles open charges too."""
    if amount <= 0:
        raise unprocessable("amount", "A credit is a positive amount.")
    if not reason.strip():
        raise unprocessable("reason", "A credit needs a reason.")
    account = lock(session, account.id)
    credit = Credit(id=new_id(), organization_id=account.organization_id, site_id=account.site_id,
                    account_id=account.id, amount=amount, unallocated=amount, currency=account.currency,
                    reason=reason, created_by=actor, created_at=utcnow())
    session.add(credit)
    session.flush()
    credit.unallocated, settled = _settle(session, _open_charges(session, account.id), amount, credit_id=credit.id)
    audit.record_for(session, chassis.audit_log, credit, entity="credit", action="create", actor=actor,
                     reason=reason, data={"amount": str(amount)})
    _announce_settled_requests(session, settled)
    return credit


def spend_prepaid(session: Session, account_ids: Iterable[str]) -> None:
    """Settle newly raised charges from what the accounts hold prepaid, oldest money first."""
    for account_id_ in sorted(set(account_ids)):
        lock(session, account_id_)
        holders = [*session.scalars(select(Payment).where(
                       Payment.account_id == account_id_, Payment.state == "posted", Payment.unallocated > 0)
                       .order_by(Payment.paid_at, Payment.id)),
                   *session.scalars(select(Credit).where(Credit.account_id == account_id_, Credit.unallocated > 0)
                                    .order_by(Credit.created_at, Credit.id))]
        settled = []
        for holder in holders:
            is_payment = isinstance(holder, Payment)
            holder.unallocated, done = _settle(session, _open_charges(session, account_id_), holder.unallocated,
                                               payment_id=holder.id if is_payment else None,
                                               credit_id=None if is_payment else holder.id)
            settled += done
        _announce_settled_requests(session, settled)


def accounts_with_prepaid(session: Session, site_id: str) -> set[str]:
    """The site's accounts holding money or credit no charge has taken yet (found by a partial index)."""
    return set(session.scalars(select(Payment.account_id).where(
        Payment.site_id == site_id, Payment.unallocated > 0, Payment.state == "posted"))) | set(
        session.scalars(select(Credit.account_id).where(Credit.site_id == site_id, Credit.unallocated > 0)))


def _announce_settled_requests(session: Session, settled: Sequence[Charge]) -> None:
    for request_id in sorted({charge.source_id for charge in settled if charge.source == "request"}):
        settle_if_paid(session, request_id)


def settle_if_paid(session: Session, request_id: str) -> None:
    """charges.settled.v1 once the request's charges are all paid, once (the request row is claimed by a
    conditional update)."""
    still_open = session.scalar(select(func.count()).select_from(Charge).where(
        Charge.source == "request", Charge.source_id == request_id, Charge.state == "open"))
    if still_open:
        return
    claimed = session.execute(update(ChargeRequest).where(
        ChargeRequest.request_id == request_id, ChargeRequest.settled_at.is_(None)).values(settled_at=utcnow()))
    if not claimed.rowcount:
        return
    request = session.get(ChargeRequest, request_id)
    charges = session.scalars(select(Charge).where(Charge.source == "request", Charge.source_id == request_id)).all()
    receipts = sorted(set(session.scalars(
        select(Payment.receipt_number).join(Allocation, Allocation.payment_id == Payment.id)
        .where(Allocation.charge_id.in_([charge.id for charge in charges])))))
    record(session, chassis.outbox, events.charges_settled(
        request, sum((charge.amount for charge in charges), Decimal("0.00")),
        charges[0].currency if charges else CURRENCY, receipts), organization_id=request.organization_id)
