"""`make run`'s demo organization on the billing side: once occupants' units and their owners have arrived,
at each site the office-tower move-in set and a residential monthly set, the paid-services catalogue, the
site's last five months billed by the worker, most of it paid, and one account in arrears."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.billing.arrears import rules as arrears
from services.billing.billruns import rules as bill_runs
from services.billing.billruns.tables import BillRun
from services.billing.catalogue import rules as catalogue
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Charge
from services.billing.models import utcnow
from services.billing.places.rules import payers_of, today_at
from services.billing.places.tables import Occupancy, Unit
from services.billing.rates import rules as rates
from services.billing.rates.demo import seed_office_tower_set
from services.billing.rates.tables import FeeItem

ACTOR = "demo-finance"
# Five months back: the oldest is from 120 to 150 days overdue, past the demand letter, short of the lawyer.
BILLED_MONTHS = 5
CASHIER = "demo-cashier"
MONTHLY = (("residential_management_fee", "住宅物业管理费 Residential management fee", "per_area", "2.50"),
           ("elevator_fee", "电梯运行费 Elevator", "fixed", "15.00"))
PAID_SERVICES = (("replace_tap", "更换水龙头 Replace a tap", "80.00", "job"),
                 ("unblock_drain", "疏通下水道 Unblock a drain", "60.00", "job"),
                 ("electrician_hour", "电工上门 Electrician", "50.00", "hour"))


def seed(session: Session, organization_id: str) -> None:
    """Nothing before the services start: every demo record needs occupants' units first (`seed_live`)."""


def seed_live(session: Session, organization_id: str) -> bool:
    """False until a site's units and owners are here and the demo bill runs are done; then the payments.
    Every site with at least three occupied units gets the same."""
    sites = session.scalars(select(Occupancy.site_id).where(Occupancy.organization_id == organization_id)
                            .group_by(Occupancy.site_id).having(func.count() >= 3).order_by(Occupancy.site_id)).all()
    if not sites:
        return False
    done = True
    for site_id in sites:
        done = _seed_site(session, organization_id, site_id) and done
    return done


def _seed_site(session: Session, organization_id: str, site_id: str) -> bool:
    if not session.scalar(select(FeeItem.id).where(FeeItem.site_id == site_id).limit(1)):
        _price(session, organization_id, site_id)
        return False
    runs = session.scalars(select(BillRun).where(BillRun.site_id == site_id)).all()
    if any(run.state != "done" for run in runs):
        return False
    if session.scalar(select(Charge.id).where(Charge.site_id == site_id, Charge.state == "paid").limit(1)):
        return True
    _pay(session, organization_id, site_id)
    return True


def _months_back(today: date, count: int) -> list[str]:
    first = today.replace(day=1)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(f"{first.year}-{first.month:02d}")
    return sorted(months)


def _price(session: Session, organization_id: str, site_id: str) -> None:
    """The site's rates and catalogue, and its last five months queued for the worker to bill."""
    since = date(2026, 1, 1)
    seed_office_tower_set(session, organization_id, site_id, ACTOR, since)
    for code, name, basis, price in MONTHLY:
        item = rates.create_item(session, organization_id=organization_id, site_id=site_id, code=code, name=name,
                                 basis=basis, cycle="monthly", actor=ACTOR)
        rates.add_rate(session, item, price=Decimal(price), effective_from=since, effective_to=None, actor=ACTOR)
    for code, name, price, unit in PAID_SERVICES:
        catalogue.set_price(session, organization_id=organization_id, site_id=site_id, code=code, name=name,
                            price=Decimal(price), unit=unit, actor=ACTOR)
    for period in _months_back(today_at(session, site_id), BILLED_MONTHS):
        bill_runs.queue(session, organization_id=organization_id, site_id=site_id, period=period, actor=ACTOR)


def _pay(session: Session, organization_id: str, site_id: str) -> None:
    """Every unit paid up but the last two: one owes last month only, the other has paid nothing for five
    months and has the arrears ladder's steps taken on it."""
    units = session.scalars(select(Unit.unit_id).where(Unit.site_id == site_id).order_by(Unit.number,
                                                                                         Unit.unit_id)).all()
    payers = payers_of(session, units)
    last_month = _months_back(today_at(session, site_id), 1)[0]
    for number, unit_id in enumerate(units[:-1]):
        account = ledger.account_of(session, organization_id, site_id, unit_id, payers.get(unit_id, ""))
        owed = ledger.outstanding(session, account.id)
        if number == len(units) - 2:
            owed -= session.scalar(select(func.coalesce(func.sum(Charge.amount), 0)).where(
                Charge.account_id == account.id, Charge.period == last_month))
        if owed > 0:
            ledger.post_payment(session, account, amount=Decimal(owed), actor=CASHIER,
                                method="door_to_door" if number % 2 else "counter",
                                reference=f"DEMO-{uuid.uuid5(uuid.NAMESPACE_URL, account.id).hex[:12]}")
    arrears.take_at_site(session, organization_id, site_id, utcnow())
