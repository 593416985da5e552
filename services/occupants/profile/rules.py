"""Rules for customer profiles (OCC-9). Plain functions over a session; no Flask.

The steward's duties in the seeds: know at least 95% of the households in their area (客户熟悉度), mind the key
customers who complain often (重点客户) and the silent majority (沉默客户) alike, keep each household's
record up to date. A household is an occupied unit, lived in by its owner or by tenants; when new owners or
tenants move in it is a new household, which the steward has yet to get to know.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.occupants.custody.rules import today_at
from services.occupants.models import chassis, utcnow
from services.occupants.people.tables import Occupancy, Person
from services.occupants.places.tables import Building, Site, Unit
from services.occupants.profile import events
from services.occupants.profile.tables import CustomerProfile, FamiliarityRecord, StewardAssignment
from shared import audit, policy, roles
from shared.bus.outbox import record
from shared.problems import Problem

GRADES = policy.define("profile.grades", ["A", "B", "C", "D"], "Customer grades a site gives, best first.")
FAMILIARITY_TARGET = policy.define("profile.familiarity_target", "0.95",
                                   "Share of a steward's households the steward is to know (客户熟悉度).")
# Who flags key and silent customers, grades them and assigns stewards.
SUPERVISORS = (*roles.MANAGERS, roles.CS_SUPERVISOR)
SUPERVISED = ("key_customer", "key_customer_reason", "silent_customer", "grade")
PROFILE_FIELDS = (*SUPERVISED, "notes")
CONTACT_WAYS = ("visit", "phone", "meeting", "community_event", "message")
HOUSEHOLD_STATES = ("occupied", "rented")
# The occupants whose arrival makes a new household (a new household member does not).
HOUSEHOLD_HEADS = ("owner", "tenant")


def profile_of(session: Session, site: Site, person: Person) -> CustomerProfile:
    """The person's profile at the site; an unsaved blank one if nobody has written it yet."""
    found = session.scalar(select(CustomerProfile).where(CustomerProfile.site_id == site.id,
                                                         CustomerProfile.person_id == person.id))
    return found or CustomerProfile(organization_id=site.organization_id, site_id=site.id, person_id=person.id,
                                    key_customer=False, key_customer_reason="", silent_customer=False, grade=None,
                                    notes="")


def _grades(session: Session, site: Site) -> list[str]:
    value = policy.value(session, chassis, site.organization_id, site.id, GRADES)
    return [grade for grade in value if isinstance(grade, str)]


def change_profile(session: Session, site: Site, person: Person, *, changes: dict, actor: str, reason: str,
                   held_roles: Iterable[str]) -> CustomerProfile:
    """Apply the changes given; flags and grade need a supervisor. Each change is a new audit entry and a
    `customer.profile_changed.v1` event; a change to what is there already changes nothing."""
    if set(changes) & set(SUPERVISED) and not set(held_roles) & set(SUPERVISORS):
        raise Problem(403, "Forbidden", "Key and silent customer flags and grades need one of the roles at this "
                                        f"site: {', '.join(SUPERVISORS)}.")
    if changes.get("grade") is not None and changes["grade"] not in (grades := _grades(session, site)):
        raise Problem(422, "Unprocessable Content", f"Not one of this site's grades: {', '.join(grades)}.",
                      field="grade")
    profile = profile_of(session, site, person)
    after = {key: changes.get(key, getattr(profile, key)) for key in PROFILE_FIELDS}
    if not after["key_customer"]:
        # The reason belongs to the flag.
        after["key_customer_reason"] = ""
    elif not after["key_customer_reason"].strip():
        raise Problem(422, "Unprocessable Content", "Say why this is a key customer.", field="key_customer_reason")
    changed = {key: {"from": getattr(profile, key), "to": value} for key, value in after.items()
               if value != getattr(profile, key)}
    if not changed:
        return profile
    for key, value in after.items():
        setattr(profile, key, value)
    profile.updated_by, profile.updated_at = actor, utcnow()
    session.add(profile)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id,
                 entity="customer_profile", entity_id=profile.id, action="change", actor=actor, reason=reason,
                 data={"person_id": person.id, "changes": changed})
    record(session, chassis.outbox, events.profile_changed(profile, changed=list(changed), reason=reason),
           organization_id=site.organization_id)
    return profile


def assign_steward(session: Session, site: Site, *, steward: str, building: Building | None, unit: Unit | None,
                   actor: str) -> StewardAssignment:
    """The steward looks after a building's households, or one unit's."""
    if (building is None) == (unit is None):
        raise Problem(422, "Unprocessable Content", "Give a building or a unit, not both.", field="building_id")
    for place, field in ((building, "building_id"), (unit, "unit_id")):
        if place is not None and place.site_id != site.id:
            raise Problem(422, "Unprocessable Content", "Not at this site.", field=field)
    building_id, unit_id = building and building.id, unit and unit.id
    duplicate = session.scalar(select(StewardAssignment.id).where(
        StewardAssignment.site_id == site.id, StewardAssignment.steward == steward,
        StewardAssignment.building_id.is_not_distinct_from(building_id),
        StewardAssignment.unit_id.is_not_distinct_from(unit_id)))
    if duplicate:
        raise Problem(409, "Conflict", f"{steward} looks after this already.", field="steward")
    assignment = StewardAssignment(organization_id=site.organization_id, site_id=site.id, steward=steward,
                                   building_id=building_id, unit_id=unit_id, assigned_by=actor)
    session.add(assignment)
    session.flush()
    _audit_assignment(session, assignment, "assign", actor, "")
    return assignment


def unassign_steward(session: Session, assignment: StewardAssignment, *, actor: str, reason: str) -> None:
    """The assignment goes; the audit trail keeps what it was."""
    _audit_assignment(session, assignment, "unassign", actor, reason)
    session.delete(assignment)
    session.flush()


def _audit_assignment(session: Session, assignment: StewardAssignment, action: str, actor: str, reason: str) -> None:
    audit.record(session, chassis.audit_log, organization_id=assignment.organization_id, site_id=assignment.site_id,
                 entity="steward_assignment", entity_id=assignment.id, action=action, actor=actor, reason=reason,
                 data={"steward": assignment.steward, "building_id": assignment.building_id,
                       "unit_id": assignment.unit_id})


def households(session: Session, site: Site) -> dict[str, set[str]]:
    """Each steward's households at the site: the occupied units of their buildings and their own units."""
    occupied_by_building: dict[str, set[str]] = defaultdict(set)
    for unit_id, building_id in session.execute(select(Unit.id, Unit.building_id).where(
            Unit.site_id == site.id, Unit.state.in_(HOUSEHOLD_STATES))):
        occupied_by_building[building_id].add(unit_id)
    occupied = set().union(*occupied_by_building.values())
    answer: dict[str, set[str]] = defaultdict(set)
    for steward, building_id, unit_id in session.execute(select(
            StewardAssignment.steward, StewardAssignment.building_id, StewardAssignment.unit_id)
            .where(StewardAssignment.site_id == site.id)):
        answer[steward] |= occupied_by_building[building_id] if building_id else {unit_id} & occupied
    return answer


def households_since(session: Session, site: Site) -> dict[str, date]:
    """When each unit's present household moved in: the latest start of its current owners and tenants.
    Units without occupancies on record have no date, and any acquaintance counts."""
    return dict(session.execute(
        select(Occupancy.unit_id, func.max(Occupancy.start_date))
        .where(Occupancy.site_id == site.id, Occupancy.state == "current", Occupancy.role.in_(HOUSEHOLD_HEADS))
        .group_by(Occupancy.unit_id)).tuples().all())


def record_familiarity(session: Session, site: Site, unit: Unit, *, steward: str, known_on: date, how: str,
                       note: str, actor: str, held_roles: Iterable[str]) -> FamiliarityRecord:
    """The steward knows the unit's household. A steward records their own; a supervisor anyone's."""
    if steward != actor and not set(held_roles) & set(SUPERVISORS):
        raise Problem(403, "Forbidden", "A steward records the households they know themselves.")
    if unit.site_id != site.id:
        raise Problem(422, "Unprocessable Content", "Not at this site.", field="unit_id")
    if unit.id not in households(session, site).get(steward, set()):
        raise Problem(422, "Unprocessable Content", f"Not an occupied unit {steward} looks after.", field="unit_id")
    if known_on > today_at(site):
        raise Problem(422, "Unprocessable Content", "Cannot be in the future.", field="known_on")
    moved_in = households_since(session, site).get(unit.id)
    if moved_in and known_on < moved_in:
        raise Problem(422, "Unprocessable Content", f"Before the present household moved in, on {moved_in}.",
                      field="known_on")
    entry = FamiliarityRecord(organization_id=site.organization_id, site_id=site.id, unit_id=unit.id,
                              steward=steward, known_on=known_on, how=how, note=note, recorded_by=actor)
    session.add(entry)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id,
                 entity="familiarity_record", entity_id=entry.id, action="record", actor=actor,
                 data={"steward": steward, "unit_id": unit.id, "known_on": known_on.isoformat(), "how": how})
    return entry


def familiarity(session: Session, site: Site) -> dict:
    """The familiarity KPI of each steward and of the site: households known over households assigned. A
    household is known to its steward from an acquaintance made since it moved in."""
    target = policy.decimal_value(session, chassis, site.organization_id, site.id, FAMILIARITY_TARGET,
                                  maximum=Decimal(1), places=4)
    since = households_since(session, site)
    known_pairs = {(steward, unit_id) for steward, unit_id, latest in session.execute(
        select(FamiliarityRecord.steward, FamiliarityRecord.unit_id, func.max(FamiliarityRecord.known_on))
        .where(FamiliarityRecord.site_id == site.id).group_by(FamiliarityRecord.steward, FamiliarityRecord.unit_id))
        if unit_id not in since or latest >= since[unit_id]}
    stewards = []
    for steward, units in sorted(households(session, site).items()):
        known = sum((steward, unit_id) in known_pairs for unit_id in units)
        stewards.append({"steward": steward, **_figure(len(units), known, target)})
    site_figure = _figure(sum(s["assigned"] for s in stewards), sum(s["known"] for s in stewards), target)
    return {"site_id": site.id, "target": target, **site_figure, "stewards": stewards}


def _figure(assigned: int, known: int, target: Decimal) -> dict:
    """Rate and target are undefined for someone with no households."""
    if not assigned:
        return {"assigned": 0, "known": known, "rate": None, "meets_target": None}
    rate = (Decimal(known) / Decimal(assigned)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return {"assigned": assigned, "known": known, "rate": rate, "meets_target": known >= target * assigned}
