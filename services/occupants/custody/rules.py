"""Rules for vacant units in custody (OCC-6, 房屋托管). Plain functions over a session; no Flask.

The seeds' procedure: sign the custody agreement (托管协议), read the water and electricity meters, keep water
use under 5 units and electricity under 20 during custody, charge 70% of the management fee, and patrol the
unit's exterior every week and before and after heavy rain, telling the owner of anything found.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.occupants.custody import events
from services.occupants.custody.tables import CustodyAgreement, CustodyReading, HeavyRainWarning
from services.occupants.models import chassis, utcnow
from services.occupants.people.tables import Person
from services.occupants.places import rules as places
from services.occupants.places.tables import Site, Unit
from shared import audit, policy, roles
from shared.bus.outbox import record, record_many
from shared.problems import Problem
from shared.workflow import Step, Workflow

# Recording a reading and extending are steps too, so either on an ended agreement answers the workflow's 409.
# The worker ends an agreement whose agreed last day has passed (`expire_due`) with the same "end" step.
CUSTODY = Workflow("custody agreement", "active", [
    Step("active", "record_reading", "active", roles=roles.CUSTOMER_SERVICE),
    Step("active", "extend", "active", roles=roles.CUSTOMER_SERVICE),
    Step("active", "end", "ended", roles=roles.CUSTOMER_SERVICE),
], final={"ended"})
EXPIRY_ACTOR = "custody-expiry"

METERS = ("water", "electricity")
FEE_RATE = policy.define("custody.fee_rate", "0.70",
                         "Share of the full management fee billing charges for a unit in custody.")
LIMITS = {
    "water": policy.define("custody.water_limit", "5",
                           "Water units a unit in custody may use before the owner is alerted."),
    "electricity": policy.define("custody.electricity_limit", "20",
                                 "Electricity units a unit in custody may use before the owner is alerted."),
}
RAIN_PATROL_HOURS = policy.define("custody.heavy_rain_patrol_hours", 2,
                                  "Hours before heavy rain and after it that units in custody are patrolled.")
# How far from now a heavy-rain warning may reach: forecasts say nothing useful beyond it.
RAIN_WARNING_HORIZON = timedelta(days=14)


def _midnight(day: date, site: Site) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(site.time_zone)).astimezone(timezone.utc)


def today_at(site: Site) -> date:
    return datetime.now(ZoneInfo(site.time_zone)).date()


def _locked(session: Session, model, row_id: str):
    """The row, locked for this transaction (PostgreSQL; SQLite's write lock covers the whole database)."""
    return session.scalars(select(model).where(model.id == row_id).with_for_update().execution_options(
        populate_existing=True)).one()


def start(session: Session, unit: Unit, owner: Person, *, actor: str, starts_on: date, ends_on: date,
          keys_held: int, water_start: Decimal, electricity_start: Decimal) -> CustodyAgreement:
    """Take a vacant unit into custody: the agreement, the unit's state, the 70% fee flag for billing and the
    weekly exterior patrol for ticketing, in one transaction."""
    if ends_on < starts_on:
        raise Problem(422, "Unprocessable Content", "The agreement cannot end before it starts.", field="ends_on")
    unit = _locked(session, Unit, unit.id)
    live = session.scalar(select(CustodyAgreement.id).where(CustodyAgreement.unit_id == unit.id,
                                                            CustodyAgreement.state == "active"))
    if live:
        raise Problem(409, "Conflict", f"The unit is in custody already (agreement {live}).", field="unit_id")
    if unit.state != "vacant":
        raise Problem(409, "Conflict", f"Only a vacant unit is taken into custody; this one is {unit.state}.",
                      field="unit_id")
    site = session.get(Site, unit.site_id)
    agreement = CustodyAgreement(
        organization_id=unit.organization_id, site_id=unit.site_id, unit_id=unit.id, owner_id=owner.id,
        state=CUSTODY.initial, starts_on=starts_on, ends_on=ends_on, keys_held=keys_held,
        water_start=water_start, electricity_start=electricity_start,
        fee_rate=policy.decimal_value(session, chassis, site.organization_id, site.id, FEE_RATE,
                                      maximum=Decimal(1)),
        created_by=actor,
    )
    session.add(agreement)
    session.flush()
    places.change_unit(session, unit, actor=actor, reason=f"custody agreement {agreement.id}", held_roles=None,
                       state="in_custody")
    audit.record(session, chassis.audit_log, organization_id=agreement.organization_id, site_id=agreement.site_id,
                 entity="custody_agreement", entity_id=agreement.id, action="start", to_state=agreement.state,
                 actor=actor, data={"unit_id": unit.id, "owner_id": owner.id, "keys_held": keys_held,
                                    "water_start": str(water_start), "electricity_start": str(electricity_start)})
    record_many(session, chassis.outbox, [events.started(agreement), _weekly_patrol(agreement, site)],
                organization_id=agreement.organization_id)
    return agreement


def _weekly_patrol(agreement: CustodyAgreement, site: Site):
    """From midnight at the site on the first day to midnight after the last."""
    return events.weekly_patrol(agreement, _midnight(agreement.starts_on, site),
                                _midnight(agreement.ends_on + timedelta(days=1), site))


def extend(session: Session, agreement: CustodyAgreement, *, ends_on: date, reason: str, actor: str,
           held_roles: Iterable[str] | None) -> CustodyAgreement:
    """The owner stays away longer: a later agreed end, and the weekly patrol republished to it."""
    agreement = _locked(session, CustodyAgreement, agreement.id)
    step = CUSTODY.step(agreement.state, "extend", held_roles)
    if ends_on <= agreement.ends_on:
        raise Problem(422, "Unprocessable Content", f"Must be after the agreed end, {agreement.ends_on}.",
                      field="ends_on")
    audit.record(session, chassis.audit_log, organization_id=agreement.organization_id, site_id=agreement.site_id,
                 entity="custody_agreement", entity_id=agreement.id, action=step.action, actor=actor, reason=reason,
                 data={"ends_on": {"from": agreement.ends_on.isoformat(), "to": ends_on.isoformat()}})
    agreement.ends_on = ends_on
    record(session, chassis.outbox, _weekly_patrol(agreement, session.get(Site, agreement.site_id)),
           organization_id=agreement.organization_id)
    return agreement


def record_reading(session: Session, agreement: CustodyAgreement, *, meter: str, reading: Decimal, actor: str,
                   held_roles: Iterable[str] | None) -> tuple[CustodyReading, Decimal]:
    """Record a meter reading; answers it and the meter's limit. The first reading whose use since the start
    exceeds the limit publishes the alert; later ones do not repeat it."""
    agreement = _locked(session, CustodyAgreement, agreement.id)
    CUSTODY.step(agreement.state, "record_reading", held_roles)
    start_reading = getattr(agreement, f"{meter}_start")
    previous = session.scalar(
        select(CustodyReading.reading).where(CustodyReading.agreement_id == agreement.id,
                                             CustodyReading.meter == meter)
        .order_by(CustodyReading.number.desc()).limit(1))
    previous = start_reading if previous is None else previous
    if reading < previous:
        raise Problem(422, "Unprocessable Content",
                      f"Lower than the previous {meter} reading, {previous}: a meter does not run back.",
                      field="reading")
    number = session.scalar(select(func.coalesce(func.max(CustodyReading.number), 0))
                            .where(CustodyReading.agreement_id == agreement.id)) + 1
    row = CustodyReading(organization_id=agreement.organization_id, site_id=agreement.site_id,
                         agreement_id=agreement.id, number=number, meter=meter, reading=reading,
                         used=reading - start_reading, read_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=agreement.organization_id, site_id=agreement.site_id,
                 entity="custody_agreement", entity_id=agreement.id, action="record_reading", actor=actor,
                 data={"meter": meter, "reading": str(reading), "used": str(row.used)})
    limit = policy.decimal_value(session, chassis, agreement.organization_id, agreement.site_id, LIMITS[meter],
                                 maximum=Decimal("9999999999"))
    alerted = f"{meter}_alerted_at"
    if row.used > limit and getattr(agreement, alerted) is None:
        setattr(agreement, alerted, utcnow())
        audit.record(session, chassis.audit_log, organization_id=agreement.organization_id,
                     site_id=agreement.site_id, entity="custody_agreement", entity_id=agreement.id,
                     action="meter_limit_exceeded", actor=actor,
                     data={"meter": meter, "used": str(row.used), "limit": str(limit)})
        record(session, chassis.outbox, events.limit_exceeded(agreement, meter=meter, used=row.used, limit=limit,
                                                              reading=reading),
               organization_id=agreement.organization_id)
    return row, limit


def end(session: Session, agreement: CustodyAgreement, *, ended_on: date | None, reason: str, actor: str,
        held_roles: Iterable[str] | None) -> CustodyAgreement:
    """End custody: the unit is vacant again, billing charges the full fee, the weekly patrol is withdrawn."""
    agreement = _locked(session, CustodyAgreement, agreement.id)
    step = CUSTODY.step(agreement.state, "end", held_roles)
    site = session.get(Site, agreement.site_id)
    ended_on = ended_on or today_at(site)
    if ended_on < agreement.starts_on:
        raise Problem(422, "Unprocessable Content", "Custody cannot end before it started.", field="ended_on")
    agreement.state, agreement.ended_on = step.target, ended_on
    unit = _locked(session, Unit, agreement.unit_id)
    # Someone may have moved the unit on meanwhile (a sale, a lease); then it stays where it is.
    if unit.state == "in_custody":
        places.change_unit(session, unit, actor=actor, reason=f"custody agreement {agreement.id} ended",
                           held_roles=None, state="vacant")
    audit.record(session, chassis.audit_log, organization_id=agreement.organization_id, site_id=agreement.site_id,
                 entity="custody_agreement", entity_id=agreement.id, action=step.action, from_state=step.source,
                 to_state=step.target, actor=actor, reason=reason, data={"ended_on": ended_on.isoformat()})
    record_many(session, chassis.outbox, [events.ended(agreement, reason), events.patrol_withdrawn(agreement, reason)],
                organization_id=agreement.organization_id)
    return agreement


def expire_due(sessions: sessionmaker, batch: int = 200) -> int:
    """End the agreements whose agreed last day has passed at their site, as of that day; answers how many.

    The batch is locked with SKIP LOCKED, so workers running this at once never end one agreement twice, and
    a step taken meanwhile by someone else finds the agreement ended (409) rather than ending it again.
    """
    with sessions() as session, session.begin():
        # A site's date is at most a day ahead of UTC's: these are all that can be due.
        due = session.scalars(select(CustodyAgreement).where(
            CustodyAgreement.state == "active", CustodyAgreement.ends_on <= utcnow().date())
            .order_by(CustodyAgreement.ends_on, CustodyAgreement.id).limit(batch)
            .with_for_update(skip_locked=True)).all()
        ended = 0
        for agreement in due:
            if agreement.ends_on < today_at(session.get(Site, agreement.site_id)):
                end(session, agreement, ended_on=agreement.ends_on, reason="The agreed end date passed.",
                    actor=EXPIRY_ACTOR, held_roles=None)
                ended += 1
    return ended


def announce_heavy_rain(session: Session, site: Site, *, expected_start: datetime, expected_end: datetime,
                        actor: str) -> tuple[HeavyRainWarning, list[str]]:
    """Heavy rain is forecast at the site: a patrol before it and one after it for every unit in custody there.
    Answers the warning and the units it covers."""
    now = utcnow()
    if not now - RAIN_WARNING_HORIZON <= expected_start <= now + RAIN_WARNING_HORIZON:
        raise Problem(422, "Unprocessable Content", "The rain must be expected within 14 days of now.",
                      field="expected_start")
    if expected_end <= expected_start:
        raise Problem(422, "Unprocessable Content", "The rain must end after it starts.", field="expected_end")
    if not now <= expected_end <= now + RAIN_WARNING_HORIZON:
        raise Problem(422, "Unprocessable Content", "The rain must be expected to end within the next 14 days.",
                      field="expected_end")
    hours = policy.value(session, chassis, site.organization_id, site.id, RAIN_PATROL_HOURS)
    if not isinstance(hours, int) or not 0 <= hours <= 72:
        raise Problem(409, "Conflict", f"The setting {RAIN_PATROL_HOURS.key} holds {hours!r}: whole hours from 0 "
                                       "to 72 are needed; correct it under /v1/policies.")
    warning = HeavyRainWarning(organization_id=site.organization_id, site_id=site.id,
                               expected_start=expected_start.astimezone(timezone.utc),
                               expected_end=expected_end.astimezone(timezone.utc), announced_by=actor)
    session.add(warning)
    session.flush()
    agreements = session.scalars(select(CustodyAgreement).where(
        CustodyAgreement.site_id == site.id, CustodyAgreement.state == "active").order_by(CustodyAgreement.unit_id)
    ).all()
    before = max(now, warning.expected_start - timedelta(hours=hours))
    after = warning.expected_end + timedelta(hours=hours)
    plans = [events.rain_patrol(events.rain_plan_id(warning.id, agreement.id, when), agreement, at)
             for agreement in agreements for when, at in (("before", before), ("after", after))]
    record_many(session, chassis.outbox, plans, organization_id=site.organization_id)
    audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id,
                 entity="heavy_rain_warning", entity_id=warning.id, action="announce", actor=actor,
                 data={"expected_start": warning.expected_start.isoformat(),
                       "expected_end": warning.expected_end.isoformat(), "units": len(agreements)})
    return warning, [agreement.unit_id for agreement in agreements]
