"""Who is reached: occupants by where they live (NTF-3), staff by their role at a site (NTF-4, NTF-5)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notifications.delivery.rules import Target, person_target, staff_target, unknown_target
from services.notifications.models import Recipient
from services.notifications.recipients.tables import Occupancy, StaffMember, Unit

EVERY_SITE = "*"


def occupants(session: Session, organization_id: str, *, site_id: str | None = None, building_id: str | None = None,
              floor: int | None = None, unit_kind: str | None = None,
              person_ids: Iterable[str] | None = None) -> list[Target]:
    """Everyone occupying a unit that matches (or the people listed), each once, on the channels they chose
    for that unit's notices or else their own."""
    if person_ids is not None:
        people = session.scalars(select(Recipient).where(
            Recipient.organization_id == organization_id, Recipient.person_id.in_(list(person_ids)))).all()
        return [person_target(person) for person in people]
    stmt = (select(Recipient, Occupancy.notice_channels)
            .join(Occupancy, Occupancy.person_id == Recipient.person_id)
            .join(Unit, Unit.unit_id == Occupancy.unit_id)
            .where(Occupancy.organization_id == organization_id, Occupancy.active.is_(True))
            .order_by(Recipient.person_id))
    for column, wanted in ((Unit.site_id, site_id), (Unit.building_id, building_id), (Unit.floor, floor),
                           (Unit.kind, unit_kind)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    targets = {}
    for person, channels in session.execute(stmt):
        targets.setdefault(person.person_id, person_target(person, channels or ()))
    return list(targets.values())


def count_occupants(session: Session, organization_id: str, **target) -> int:
    return len(occupants(session, organization_id, **target))


def person(session: Session, organization_id: str, person_id: str) -> list[Target]:
    """The person, or a target marked unknown (kept as a failed message) when occupants never told of them."""
    found = session.get(Recipient, person_id)
    if found is None or found.organization_id != organization_id:
        return [unknown_target("person", person_id)]
    return [person_target(found)]


def staff_named(session: Session, organization_id: str, named: Iterable[tuple[str, str]]) -> list[Target]:
    """The active members named as (member id, user id) pairs, either part possibly empty; one not known (or
    not active) is a target marked unknown, so its message is kept as failed rather than dropped."""
    named, table = list(named), StaffMember.__table__
    # Plain rows, not ORM objects: an alert is on the hot path of every SLA breach.
    members = session.execute(select(table).where(
        table.c.organization_id == organization_id, table.c.active.is_(True),
        table.c.member_id.in_({m for m, _ in named if m}) | table.c.user_id.in_({u for _, u in named if u})))
    by_member, by_user = {}, {}
    for member in members:
        by_member[member.member_id], by_user[member.user_id] = member, member
    targets: dict[str, Target] = {}
    for member_id, user_id in named:
        member = by_member.get(member_id) or by_user.get(user_id)
        target = staff_target(member) if member else unknown_target("staff", member_id or user_id)
        targets.setdefault(target.id, target)
    return list(targets.values())


def staff_with_roles(session: Session, organization_id: str, site_id: str, roles: Iterable[str]) -> list[Target]:
    """Active members holding one of the roles at the site (or at every site)."""
    roles = set(roles)
    members = session.scalars(select(StaffMember).where(
        StaffMember.organization_id == organization_id, StaffMember.active.is_(True)).order_by(StaffMember.member_id))
    return [staff_target(member) for member in members
            if roles & (set(member.site_roles.get(site_id, ())) | set(member.site_roles.get(EVERY_SITE, ())))]
