"""Who is reached: occupants by where they live (NTF-3), staff by their role at a site (NTF-4, NTF-5)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notifications.delivery.rules import Target, in_transaction, person_target, staff_target
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
    found = session.get(Recipient, person_id)
    return [person_target(found)] if found is not None and found.organization_id == organization_id else []


def staff_by_ids(session: Session, organization_id: str, member_ids: Iterable[str] = (),
                 user_ids: Iterable[str] = ()) -> list[Target]:
    """Active members named by member id or by the `sub` of their tokens."""
    directory = _directory(session, organization_id)
    members = {directory.by_member.get(member_id) for member_id in member_ids}
    members |= {directory.by_user.get(user_id) for user_id in user_ids}
    return [staff_target(member) for member in sorted(members - {None}, key=lambda m: m.member_id)]


class _Directory:
    def __init__(self, members: list[StaffMember]):
        self.members = members
        self.by_member = {member.member_id: member for member in members}
        self.by_user = {member.user_id: member for member in members}


def _directory(session: Session, organization_id: str) -> _Directory:
    """The organization's active staff, read once per transaction: a batch of alerts shares it."""
    return in_transaction(session, ("staff", organization_id), lambda: _Directory(session.scalars(
        select(StaffMember).where(StaffMember.organization_id == organization_id, StaffMember.active.is_(True))
        .order_by(StaffMember.member_id)).all()))


def staff_with_roles(session: Session, organization_id: str, site_id: str, roles: Iterable[str]) -> list[Target]:
    """Active members holding one of the roles at the site (or at every site)."""
    roles = set(roles)
    return [staff_target(member) for member in _directory(session, organization_id).members
            if roles & (set(member.site_roles.get(site_id, ())) | set(member.site_roles.get(EVERY_SITE, ())))]
