"""Bill runs (BIL-2): a period's charges for every unit of a site, from the rates, areas and meter readings.

Idempotent per (unit, item, period): each charge's key is unique and goes in with insert-on-conflict-do-
nothing, a batch of units at a time. A run is queued by the API and made by the worker (`run_queued`), one
transaction per batch that also moves the run's cursor; a worker that dies leaves its lease to run out, and
the next takes the run over from the cursor. Custody units pay the custody share (OCC-6) of every fee that
is not metered.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time as clock, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.billing import metrics
from services.billing.billruns import events
from services.billing.billruns.tables import BillRun
from services.billing.ledger import rules as ledger
from services.billing.meters.rules import consumption_in
from services.billing.models import chassis, to_fen, utcnow
from services.billing.places.rules import custody_shares, payers_of, time_zone
from services.billing.places.tables import Unit
from services.billing.rates import rules as rates
from services.billing.rates.tables import FeeItem
from shared import audit, bulk, policy
from shared.bus.outbox import record_many
from shared.problems import Problem, unprocessable

log = logging.getLogger(__name__)

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
BATCH_UNITS = 2000
LEASE = timedelta(seconds=120)
CUSTODY_SHARE = policy.define("billing.custody_fee_share", "0.70",
                              "Share of the unmetered fees a unit in custody pays (OCC-6: 70%) when its "
                              "custody agreement names none.")
DUE_DAYS = policy.define("billing.due_days", 30, "Days from the start of the period billed to the bill's due date.")
BILLING_DAY = policy.define("billing.bill_run_day", 1,
                            "Day of the month the worker bills each priced site for the month; 0: only by hand.")
ACTOR = "bill-run"
_SCHEDULED = uuid.UUID("5c0e9a1d-7b24-4f63-a8d5-3e91c2b7f046")


def month_of(period: str) -> date:
    match = PERIOD.match(period)
    if not match:
        raise unprocessable("period", "A period is a month, YYYY-MM.")
    return date(int(match[1]), int(match[2]), 1)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def cycle_period(cycle: str, first: date) -> str | None:
    """The label of the cycle's charge billed in this month, or None when the cycle is not due in it."""
    if cycle == "monthly":
        return f"{first.year}-{first.month:02d}"
    if cycle == "quarterly" and first.month % 3 == 1:
        return f"{first.year}-Q{first.month // 3 + 1}"
    if cycle == "half_yearly" and first.month in (1, 7):
        return f"{first.year}-H{1 if first.month == 1 else 2}"
    if cycle == "yearly" and first.month == 1:
        return str(first.year)
    return None


def queue(session: Session, *, organization_id: str, site_id: str, period: str, actor: str) -> BillRun:
    month_of(period)
    busy = session.scalar(select(BillRun.id).where(BillRun.site_id == site_id, BillRun.period == period,
                                                   BillRun.state != "done"))
    if busy:
        raise Problem(409, "Conflict", f"A run of {period} at this site is under way ({busy}).", field="period")
    run = BillRun(organization_id=organization_id, site_id=site_id, period=period, state="queued",
                  units_total=0, units_done=0, charges_new=0, amount_new=Decimal("0.00"), bills_issued=0,
                  cursor="", lease_holder="", created_by=actor, created_at=utcnow())
    session.add(run)
    session.flush()
    audit.record_for(session, chassis.audit_log, run, entity="bill_run", action="queue", actor=actor,
                     to_state="queued", data={"period": period})
    return run


def schedule_due(sessions: sessionmaker, now: datetime | None = None) -> int:
    """The worker's job: queue each priced site's run of its current month once its billing day has come.
    The run's id is derived from (site, period), so two workers, or a site already billed by hand that
    month, queue it once."""
    now = now or utcnow()
    queued = 0
    with sessions() as session, session.begin():
        sites = session.execute(select(FeeItem.organization_id, FeeItem.site_id).distinct()).all()
        for organization_id, site_id in sites:
            day = int(policy.value(session, chassis, organization_id, site_id, BILLING_DAY))
            today = now.astimezone(time_zone(session, site_id)).date()
            if not 1 <= day <= today.day:
                continue
            period = f"{today.year}-{today.month:02d}"
            if session.scalar(select(BillRun.id).where(BillRun.site_id == site_id, BillRun.period == period)):
                continue
            run_id = str(uuid.uuid5(_SCHEDULED, f"{site_id}:{period}"))
            if bulk.insert_new(session, BillRun.__table__, [{
                    "id": run_id, "organization_id": organization_id, "site_id": site_id, "period": period,
                    "state": "queued", "units_total": 0, "units_done": 0, "charges_new": 0,
                    "amount_new": Decimal("0.00"), "bills_issued": 0, "cursor": "", "lease_holder": "",
                    "lease_until": None, "created_by": ACTOR, "created_at": now, "started_at": None,
                    "finished_at": None}], key="id"):
                audit.record(session, chassis.audit_log, organization_id=organization_id, site_id=site_id,
                             entity="bill_run", entity_id=run_id, action="queue", actor=ACTOR, to_state="queued",
                             data={"period": period, "scheduled": True})
                queued += 1
    return queued


def run_queued(sessions: sessionmaker) -> int:
    """The worker's job: take a queued run (or one whose worker's lease ran out) and make it to the end."""
    made = 0
    while (claimed := _claim(sessions)) is not None:
        _make(sessions, *claimed)
        made += 1
    with sessions() as session:
        metrics.BILL_RUNS_UNFINISHED.labels(metrics.SERVICE).set(session.scalar(
            select(func.count()).select_from(BillRun).where(BillRun.state != "done")))
    return made


def _claim(sessions: sessionmaker) -> tuple[str, str] | None:
    holder = str(uuid.uuid4())
    with sessions() as session, session.begin():
        now = utcnow()
        candidates = session.scalars(select(BillRun.id).where(or_(
            BillRun.state == "queued", (BillRun.state == "running") & (BillRun.lease_until < now)))
            .order_by(BillRun.created_at).limit(5)).all()
        for run_id in candidates:
            taken = session.execute(update(BillRun).where(BillRun.id == run_id, or_(
                BillRun.state == "queued", (BillRun.state == "running") & (BillRun.lease_until < now)))
                .values(state="running", lease_holder=holder, lease_until=now + LEASE))
            if taken.rowcount:
                run = session.get(BillRun, run_id)
                if run.started_at is None:
                    run.started_at = now
                    run.units_total = session.scalar(select(func.count()).select_from(Unit).where(
                        Unit.site_id == run.site_id))
                    audit.record_for(session, chassis.audit_log, run, entity="bill_run", action="start",
                                     actor=ACTOR, from_state="queued", to_state="running")
                return run_id, holder
    return None


def _make(sessions: sessionmaker, run_id: str, holder: str) -> None:
    started = time.monotonic()
    while True:
        with sessions() as session, session.begin():
            run = session.get(BillRun, run_id)
            if run.lease_holder != holder:
                log.warning("bill run %s was taken over; this worker stops", run_id)
                return
            units = session.execute(select(Unit.unit_id, Unit.floor_area_m2, Unit.state).where(
                Unit.site_id == run.site_id, Unit.unit_id > run.cursor).order_by(Unit.unit_id).limit(BATCH_UNITS)).all()
            if not units:
                run.state, run.finished_at, run.lease_until = "done", utcnow(), None
                audit.record_for(session, chassis.audit_log, run, entity="bill_run", action="finish", actor=ACTOR,
                                 from_state="running", to_state="done", data=summary(run))
                metrics.BILL_RUN_DURATION.labels(metrics.SERVICE).observe(time.monotonic() - started)
                return
            new, bills = bill_units(session, run.organization_id, run.site_id, run.period, units)
            run.cursor = units[-1].unit_id
            run.units_done += len(units)
            run.charges_new += len(new)
            run.amount_new += sum((row["amount"] for row in new), Decimal("0.00"))
            run.bills_issued += bills
            run.lease_until = utcnow() + LEASE
            metrics.BILL_RUN_UNITS.labels(metrics.SERVICE).inc(len(units))


def summary(run: BillRun) -> dict:
    return {"units": run.units_done, "charges_new": run.charges_new, "amount_new": str(run.amount_new),
            "bills_issued": run.bills_issued}


def bill_units(session: Session, organization_id: str, site_id: str, period: str,
               units: Sequence) -> tuple[list[dict], int]:
    """Charge the units (rows with unit_id, floor_area_m2 and state) for the period; answers the charges new
    this time and how many bills were issued."""
    first = month_of(period)
    last = month_end(first)
    zone = time_zone(session, site_id)
    due_on = first + timedelta(days=int(policy.value(session, chassis, organization_id, site_id, DUE_DAYS)))
    share = Decimal(str(policy.value(session, chassis, organization_id, site_id, CUSTODY_SHARE)))
    due = [(item, price, label) for item, price in rates.prices_on(session, site_id, first).values()
           if item.basis != "per_use" and (label := cycle_period(item.cycle, first)) is not None]
    if not due:
        return [], 0
    unit_ids = [unit.unit_id for unit in units]
    metered = consumption_in(session, unit_ids, first, last) if any(
        item.meter_kind for item, _, _ in due) else {}
    payers = payers_of(session, unit_ids)
    agreed = custody_shares(session, [unit.unit_id for unit in units if unit.state == "in_custody"])
    owners = {unit_id: ledger.owner(organization_id, site_id, unit_id, payers.get(unit_id, "")) for unit_id in unit_ids}
    ledger.open_accounts(session, owners.values())
    priced = [(item, rates.pricer(item, price), label, rates.CYCLES[item.cycle]) for item, price, label in due]
    now = utcnow()
    rows = []
    for unit in units:
        for item, price_of, label, months in priced:
            value = price_of(rates.Quantities(
                area=unit.floor_area_m2, consumption=metered.get((unit.unit_id, item.meter_kind), Decimal(0)),
                months=months))
            if unit.state == "in_custody" and not item.meter_kind:
                value = to_fen(value * agreed.get(unit.unit_id, share))
            if value <= 0:
                continue
            rows.append(ledger.charge_row(
                owners[unit.unit_id], key=f"{unit.unit_id}:{item.code}:{label}", item=item.code, amount=value,
                period=label, description=f"{item.name} {label}", source="bill_run", source_id=unit.unit_id,
                due_on=due_on, created_at=now))
    new = ledger.raise_charges(session, rows)
    bills: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in new:
        bills[(row["unit_id"], row["person_id"])] += row["amount"]
    due_at = datetime.combine(due_on, clock(23, 59, 59), zone).astimezone(timezone.utc)
    issued = [events.bill_issued(site_id=site_id, unit_id=unit_id, person_id=person_id, period=period,
                                 amount=amount, due_at=due_at)
              for (unit_id, person_id), amount in bills.items() if person_id]
    if issued:
        record_many(session, chassis.outbox, issued, organization_id=organization_id)
    prepaid = ledger.accounts_with_prepaid(session, site_id).intersection(row["account_id"] for row in new)
    if prepaid:
        ledger.spend_prepaid(session, prepaid)
    return new, len(issued)


def final_bill(session: Session, organization_id: str, unit_id: str, day: date) -> list[dict]:
    """A move-out's final bill: the month it ends in, for the unit (what was billed already is skipped)."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        return []
    new, _ = bill_units(session, organization_id, unit.site_id, f"{day.year}-{day.month:02d}", [unit])
    return new

