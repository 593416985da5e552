"""Rules for places (OCC-1). Plain functions over a session; no Flask.

Every write records its event through the outbox in the same transaction, so the read models other services
keep of sites (ticketing's calendars) and units (billing's areas) follow exactly what was committed.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.models import chassis
from services.occupants.places import events
from services.occupants.places.tables import Building, Site, Unit
from shared import audit, policy, roles
from shared.bus.outbox import record
from shared.problems import Problem
from shared.workflow import Step, Workflow

UNIT_KINDS = ("residence", "office", "shop", "parking", "storage")
UNIT_STATES = ("vacant", "occupied", "renovating", "in_custody", "rented")
HOLIDAY_KINDS = ("holiday", "workday")
FLOORS = (-10, 200)  # lowest and highest floor a unit may be on
EDITORS = (*roles.MANAGERS, roles.CS_SUPERVISOR)  # who registers and changes places at a site

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# SPEC X-4: Mon–Fri 08:30–18:00, Sat–Sun 09:00–17:00 (ISO weekdays).
DEFAULT_RECEPTION_HOURS = tuple(
    {"weekday": day, "opens": "08:30", "closes": "18:00"} if day <= 5 else
    {"weekday": day, "opens": "09:00", "closes": "17:00"}
    for day in range(1, 8)
)
# What a new site starts with when its registration does not say; each site keeps its own afterwards.
TIME_ZONE = policy.define("places.time_zone", DEFAULT_TIME_ZONE, "IANA time zone of a new site (X-4).")
RECEPTION_HOURS = policy.define(
    "places.reception_hours", list(DEFAULT_RECEPTION_HOURS),
    'Reception hours of a new site (X-4): weekly frames {"weekday": 1-7, "opens": "HH:MM", "closes": "HH:MM"}.')

# A unit's state follows what happens to it; the step's action is the state it goes to. Custody (OCC-6) is
# for units nobody lives in, so an occupied or rented unit is vacated first.
_MOVES = {
    "vacant": ("occupied", "rented", "renovating", "in_custody"),
    "occupied": ("vacant", "rented", "renovating"),
    "rented": ("vacant", "occupied", "renovating"),
    "renovating": ("vacant", "occupied", "rented", "in_custody"),
    "in_custody": ("vacant", "occupied", "rented", "renovating"),
}
UNIT_STATE = Workflow("unit", "vacant", [
    Step(source, target, target, roles=EDITORS) for source, targets in _MOVES.items() for target in targets
])


_CLOCK = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_calendar(*, time_zone: str | None = None, reception_hours: Sequence[dict] | None = None,
                   holiday_overrides: Sequence[dict] | None = None) -> None:
    """422 naming the field for a time zone zoneinfo does not know, a frame that closes before it opens or
    overlaps another on its day, or a date overridden twice."""
    if time_zone is not None and time_zone not in _time_zones():
        raise Problem(422, "Unprocessable Content", f"{time_zone!r} is not an IANA time zone name.",
                      field="time_zone")
    for index, frame in enumerate(reception_hours or ()):
        if frame["closes"] <= frame["opens"]:
            raise Problem(422, "Unprocessable Content", "Closes must be after opens.",
                          field=f"reception_hours.{index}.closes")
    frames = sorted(enumerate(reception_hours or ()), key=lambda f: (f[1]["weekday"], f[1]["opens"]))
    for (_, before), (index, frame) in zip(frames, frames[1:]):
        if frame["weekday"] == before["weekday"] and frame["opens"] < before["closes"]:
            raise Problem(422, "Unprocessable Content", "Overlaps another frame on the same weekday.",
                          field=f"reception_hours.{index}.opens")
    seen: set[date] = set()
    for index, override in enumerate(holiday_overrides or ()):
        if override["date"] in seen:
            raise Problem(422, "Unprocessable Content", "This date is overridden twice.",
                          field=f"holiday_overrides.{index}.date")
        seen.add(override["date"])


def _hours(frames: Iterable[dict]) -> list[dict]:
    return sorted(({"weekday": f["weekday"], "opens": f["opens"], "closes": f["closes"]} for f in frames),
                  key=lambda f: (f["weekday"], f["opens"]))


def _overrides(overrides: Iterable[dict]) -> list[dict]:
    """Dates kept as ISO text: the column is JSON and the event carries text."""
    return sorted(({"date": str(o["date"]), "kind": o["kind"], "name": o["name"]} for o in overrides),
                  key=lambda o: o["date"])


def create_site(session: Session, organization_id: str, *, code: str, name: str, time_zone: str | None = None,
                reception_hours: Sequence[dict] | None = None, holiday_overrides: Sequence[dict] = ()) -> Site:
    """A time zone or reception hours not given are the organization's policy (SPEC X-4's by default)."""
    if time_zone is None:
        time_zone = _policy(session, organization_id, TIME_ZONE, "time_zone")
    if reception_hours is None:
        reception_hours = _policy(session, organization_id, RECEPTION_HOURS, "reception_hours")
    check_calendar(time_zone=time_zone, reception_hours=reception_hours, holiday_overrides=holiday_overrides)
    duplicate = session.scalar(select(Site.id).where(Site.organization_id == organization_id, Site.code == code))
    if duplicate:
        raise Problem(409, "Conflict", f"A site with code {code!r} exists already.", field="code")
    site = Site(organization_id=organization_id, code=code, name=name, time_zone=time_zone,
                reception_hours=_hours(reception_hours), holiday_overrides=_overrides(holiday_overrides))
    session.add(site)
    session.flush()
    record(session, chassis.outbox, events.site_registered(site), organization_id=organization_id)
    return site


def _policy(session: Session, organization_id: str, setting: policy.Setting, field: str):
    """The organization's value, checked: policies are kept as any JSON, so a malformed one is refused here."""
    value = policy.value(session, chassis, organization_id, None, setting)
    try:
        check_calendar(**{field: value})
        if field == "reception_hours" and not all(
                frame["weekday"] in range(1, 8) and _CLOCK.match(frame["opens"]) and _CLOCK.match(frame["closes"])
                for frame in value):
            raise ValueError("a weekday is not 1-7 or a time not HH:MM")
    except (Problem, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise Problem(422, "Unprocessable Content", f"Give the {field}: the organization's policy "
                      f"{setting.key} is not valid ({exc}).", field=field) from exc
    return value


def update_site(session: Session, site: Site, *, actor: str, reason: str = "", name: str | None = None,
                time_zone: str | None = None, reception_hours: Sequence[dict] | None = None,
                holiday_overrides: Sequence[dict] | None = None) -> Site:
    """Change what is given (hours and overrides are replaced whole); audited with the old values."""
    check_calendar(time_zone=time_zone, reception_hours=reception_hours, holiday_overrides=holiday_overrides)
    changes = {
        "name": name, "time_zone": time_zone,
        "reception_hours": None if reception_hours is None else _hours(reception_hours),
        "holiday_overrides": None if holiday_overrides is None else _overrides(holiday_overrides),
    }
    before = {key: getattr(site, key) for key, value in changes.items() if value is not None}
    if not before:
        raise Problem(422, "Unprocessable Content", "Give a name, time zone, reception hours or holiday overrides.",
                      field="_schema")
    for key, value in changes.items():
        if value is not None:
            setattr(site, key, value)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id, entity="site",
                 entity_id=site.id, action="updated", actor=actor, reason=reason, data={"before": before})
    record(session, chassis.outbox, events.site_updated(site), organization_id=site.organization_id)
    return site


def add_building(session: Session, site: Site, *, code: str, name: str, floors_above_ground: int | None = None,
                 floors_below_ground: int | None = None) -> Building:
    duplicate = session.scalar(select(Building.id).where(Building.site_id == site.id, Building.code == code))
    if duplicate:
        raise Problem(409, "Conflict", f"Building {code!r} exists already on this site.", field="code")
    building = Building(organization_id=site.organization_id, site_id=site.id, code=code, name=name,
                        floors_above_ground=floors_above_ground, floors_below_ground=floors_below_ground)
    session.add(building)
    session.flush()
    record(session, chassis.outbox, events.building_registered(building), organization_id=site.organization_id)
    return building


def floor_problem(floor: int, floors_above_ground: int | None, floors_below_ground: int | None) -> str | None:
    """Why a unit cannot be on this floor of a building with these floors, or None."""
    if floors_above_ground is not None and floor > floors_above_ground:
        return f"The building has {floors_above_ground} floors above ground."
    if floors_below_ground is not None and floor < -floors_below_ground:
        return f"The building has {floors_below_ground} floors below ground."
    return None


def add_unit(session: Session, building: Building, *, number: str, floor: int, kind: str,
             floor_area_m2: Decimal, state: str = "vacant") -> Unit:
    wrong_floor = floor_problem(floor, building.floors_above_ground, building.floors_below_ground)
    if wrong_floor:
        raise Problem(422, "Unprocessable Content", wrong_floor, field="floor")
    duplicate = session.scalar(select(Unit.id).where(Unit.building_id == building.id, Unit.number == number))
    if duplicate:
        raise Problem(409, "Conflict", f"Unit {number!r} exists already in this building.", field="number")
    unit = Unit(organization_id=building.organization_id, site_id=building.site_id, building_id=building.id,
                number=number, floor=floor, kind=kind, state=state, floor_area_m2=floor_area_m2)
    session.add(unit)
    session.flush()
    record(session, chassis.outbox, events.unit_registered(events.columns(unit)), organization_id=unit.organization_id)
    return unit


def change_unit(session: Session, unit: Unit, *, actor: str, reason: str, held_roles: Iterable[str] | None,
                state: str | None = None, kind: str | None = None, floor_area_m2: Decimal | None = None) -> Unit:
    """A new state (a step of UNIT_STATE: 409 naming the allowed ones otherwise) or a corrected kind or area,
    audited with why. `held_roles=None` is the platform's own step, which no role restricts."""
    previous = unit.state
    if state is not None:
        UNIT_STATE.step(unit.state, state, held_roles)
        audit.record(session, chassis.audit_log, organization_id=unit.organization_id, site_id=unit.site_id,
                     entity="unit", entity_id=unit.id, action=state, from_state=unit.state, to_state=state,
                     actor=actor, reason=reason)
        unit.state = state
    corrected = {key: value for key, value in (("kind", kind), ("floor_area_m2", floor_area_m2))
                 if value is not None and value != getattr(unit, key)}
    if corrected:
        audit.record(session, chassis.audit_log, organization_id=unit.organization_id, site_id=unit.site_id,
                     entity="unit", entity_id=unit.id, action="corrected", actor=actor, reason=reason,
                     data={key: {"from": str(getattr(unit, key)), "to": str(value)}
                           for key, value in corrected.items()})
        for key, value in corrected.items():
            setattr(unit, key, value)
    if state is None and not corrected:
        raise Problem(422, "Unprocessable Content", "Give a new state, kind or floor area.", field="state")
    session.flush()
    record(session, chassis.outbox, events.unit_changed(events.columns(unit), previous_state=previous, reason=reason),
           organization_id=unit.organization_id)
    return unit
