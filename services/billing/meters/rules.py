"""Meters (BIL-3): readings checked against the last (lower is refused, implausible is flagged with why),
opening readings from move-in, consumption per period for bill runs, apportionment of a shared meter over
the site's units by area (公摊), and the daily check of prepaid meters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from psp.billing.v1.accounts_pb2 import PrepaidBalanceLow
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.billing.ledger import rules as ledger
from services.billing.meters.tables import Meter, PrepaidCheck, Reading
from services.billing.models import CURRENCY, chassis, to_fen, utcnow
from services.billing.places.rules import payers_of, today_at
from services.billing.places.tables import Unit
from services.billing.rates import rules as rates
from shared import audit, bulk, policy
from shared.bus.outbox import record
from shared.problems import Problem, unprocessable

IMPLAUSIBLE_FACTOR = policy.define(
    "billing.meter.implausible_factor", "3",
    "A reading whose consumption exceeds this many times the meter's average so far is flagged implausible.")
PREPAID_LOW = policy.define("billing.prepaid.low_balance", "50.00",
                            "A prepaid meter's balance below this (yuan) sends the low-balance notice.")


def add_meter(session: Session, *, organization_id: str, site_id: str, unit_id: str, kind: str, code: str,
              prepaid: bool, actor: str) -> Meter:
    if session.scalar(select(Meter.id).where(Meter.site_id == site_id, Meter.code == code)):
        raise Problem(409, "Conflict", f"The site has a meter {code} already.", field="code")
    meter = Meter(organization_id=organization_id, site_id=site_id, unit_id=unit_id, kind=kind, code=code,
                  prepaid=prepaid, created_at=utcnow())
    session.add(meter)
    session.flush()
    audit.record_for(session, chassis.audit_log, meter, entity="meter", action="create", actor=actor,
                     data={"code": code, "kind": kind, "unit_id": unit_id})
    return meter


def record_reading(session: Session, meter: Meter, *, value: Decimal, read_on: date, actor: str,
                   kind: str = "regular") -> Reading:
    """A reading; one lower than the last is refused (a new meter starts with an opening reading)."""
    session.execute(select(Meter.id).where(Meter.id == meter.id).with_for_update())
    last = session.scalars(select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.number.desc())
                           .limit(1)).first()
    if kind == "opening" or last is None:
        consumption, flag = Decimal("0.00"), ""
    else:
        if value < last.value:
            raise unprocessable("value", f"Lower than the last reading, {last.value} on {last.read_on.isoformat()}.")
        if read_on < last.read_on:
            raise unprocessable("read_on", f"Before the last reading, on {last.read_on.isoformat()}.")
        consumption = value - last.value
        flag = _implausible(session, meter, consumption)
    reading = Reading(organization_id=meter.organization_id, meter_id=meter.id, number=(last.number + 1) if last else 1,
                      value=value, consumption=consumption, read_on=read_on, kind=kind, flag=flag, read_by=actor,
                      created_at=utcnow())
    session.add(reading)
    session.flush()
    audit.record_for(session, chassis.audit_log, meter, entity="meter", action="read", actor=actor,
                     reason=flag, data={"value": str(value), "consumption": str(consumption), "kind": kind})
    return reading


def _implausible(session: Session, meter: Meter, consumption: Decimal) -> str:
    """Why the consumption is implausible, or ""."""
    average = session.scalar(select(func.avg(Reading.consumption)).where(
        Reading.meter_id == meter.id, Reading.kind == "regular", Reading.flag == ""))
    if average is None or Decimal(average) <= 0:
        return ""
    factor = Decimal(str(policy.value(session, chassis, meter.organization_id, meter.site_id, IMPLAUSIBLE_FACTOR)))
    if consumption > Decimal(average) * factor:
        return f"implausible: {consumption} is over {factor} times the average of {to_fen(Decimal(average))}"
    return ""


def record_opening(session: Session, *, organization_id: str, site_id: str, unit_id: str, meter_kind: str,
                   value: Decimal, read_on: date, actor: str) -> Reading:
    """The opening reading taken with the occupant at move-in; the unit's meter of the kind is created if new."""
    code = f"{meter_kind}:{unit_id}"
    meter = session.scalar(select(Meter).where(Meter.site_id == site_id, Meter.code == code))
    if meter is None:
        meter = add_meter(session, organization_id=organization_id, site_id=site_id, unit_id=unit_id,
                          kind=meter_kind, code=code, prepaid=False, actor=actor)
    return record_reading(session, meter, value=value, read_on=read_on, actor=actor, kind="opening")


def consumption_in(session: Session, unit_ids: Iterable[str], start: date, end: date) -> dict[tuple[str, str], Decimal]:
    """(unit, meter kind) → consumption read from `start` to `end` inclusive, implausible readings included
    (they are flagged for a person to check, not dropped)."""
    rows = session.execute(select(Meter.unit_id, Meter.kind, func.sum(Reading.consumption))
                           .join(Reading, Reading.meter_id == Meter.id)
                           .where(Meter.unit_id.in_(list(unit_ids)), Reading.read_on >= start, Reading.read_on <= end)
                           .group_by(Meter.unit_id, Meter.kind)).all()
    return {(unit, kind): Decimal(total) for unit, kind, total in rows}


def apportion(session: Session, meter: Meter, *, item_code: str, start: date, end: date, period: str,
              actor: str) -> list[dict]:
    """Split the shared meter's consumption in the period over the site's units by area, at the item's rate:
    each unit's share rounded to the fen, the rounding remainder on the largest unit so the shares add up to
    the whole exactly. Raised once per (meter, unit, period)."""
    if meter.unit_id:
        raise Problem(409, "Conflict", "Only a shared meter is apportioned.")
    priced = rates.prices_on(session, meter.site_id, end).get(item_code)
    if priced is None:
        raise unprocessable("item", f"The site has no rate for {item_code} on {end.isoformat()}.")
    item, price = priced
    used = Decimal(session.scalar(select(func.coalesce(func.sum(Reading.consumption), 0)).where(
        Reading.meter_id == meter.id, Reading.read_on >= start, Reading.read_on <= end)))
    total = to_fen(used * price)
    units = session.execute(select(Unit.unit_id, Unit.floor_area_m2).where(
        Unit.site_id == meter.site_id, Unit.floor_area_m2 > 0).order_by(Unit.floor_area_m2.desc(), Unit.unit_id)).all()
    if not units or total <= 0:
        return []
    area = sum(unit_area for _, unit_area in units)
    shares = {unit_id: to_fen(total * unit_area / area) for unit_id, unit_area in units}
    shares[units[0][0]] += total - sum(shares.values())
    payers = payers_of(session, shares)
    owners = [ledger.owner(meter.organization_id, meter.site_id, unit_id, payers.get(unit_id, ""))
              for unit_id in shares]
    ledger.open_accounts(session, owners)
    rows = [ledger.charge_row(owner, key=f"share:{meter.id}:{owner.unit_id}:{period}", item=item.code,
                              amount=shares[owner.unit_id], period=period,
                              description=f"{item.name} {period} (公摊 {meter.code})", source="meter_share",
                              source_id=meter.id, due_on=end) for owner in owners]
    new = ledger.raise_charges(session, rows)
    ledger.spend_prepaid(session, ledger.accounts_with_prepaid(session, meter.site_id).intersection(
        row["account_id"] for row in new))
    audit.record_for(session, chassis.audit_log, meter, entity="meter", action="apportion", actor=actor,
                     data={"period": period, "consumption": str(used), "total": str(total), "units": len(new)})
    return new


def top_up(session: Session, meter: Meter, *, amount: Decimal, actor: str) -> Meter:
    """Money loaded on a prepaid meter."""
    if not meter.prepaid:
        raise unprocessable("amount", "Only a prepaid meter is topped up.")
    session.execute(select(Meter.id).where(Meter.id == meter.id).with_for_update())
    session.refresh(meter)
    meter.prepaid_balance += amount
    audit.record_for(session, chassis.audit_log, meter, entity="meter", action="top_up", actor=actor,
                     data={"amount": str(amount), "balance": str(meter.prepaid_balance)})
    return meter


def check_prepaid(sessions: sessionmaker) -> int:
    """The daily check of prepaid meters: a low balance sends prepaid.balance_low.v1, once per meter and day."""
    sent = 0
    with sessions() as session, session.begin():
        meters = session.scalars(select(Meter).where(Meter.prepaid.is_(True))).all()
        for meter in meters:
            threshold = Decimal(str(policy.value(session, chassis, meter.organization_id, meter.site_id, PREPAID_LOW)))
            if meter.prepaid_balance >= threshold:
                continue
            day = today_at(session, meter.site_id)
            if not bulk.insert_new(session, PrepaidCheck.__table__, [
                    {"id": f"{meter.id}:{day.isoformat()}", "meter_id": meter.id, "checked_on": day}], key="id"):
                continue
            record(session, chassis.outbox, PrepaidBalanceLow(
                meter_id=meter.id, site_id=meter.site_id, unit_id=meter.unit_id,
                person_id=payers_of(session, [meter.unit_id]).get(meter.unit_id, ""),
                balance=str(meter.prepaid_balance), threshold=str(threshold), currency=CURRENCY,
                checked_on=day.isoformat()), organization_id=meter.organization_id)
            sent += 1
    return sent
