"""Occupants' people, places, occupancies and staff, and ticketing's roster, kept as local read models.
Upserts: a redelivered or replayed event writes the same row again."""

from __future__ import annotations

from datetime import date, datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import OccupancyEnded, OccupancyStarted, PersonUpdated
from psp.occupants.v1.places_pb2 import SiteRegistered, SiteUpdated, UnitChanged, UnitRegistered
from psp.occupants.v1.staff_pb2 import StaffMemberChanged
from psp.ticketing.v1.shifts_pb2 import DutyAssigned, DutyWithdrawn
from sqlalchemy import update

from services.notifications.handlers import handlers
from services.notifications.models import Recipient
from services.notifications.recipients.tables import Duty, Occupancy, Site, StaffMember, Unit
from shared.readmodel import upsert


def _birthday(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@handlers.on_batch(PersonRegistered)
@handlers.on_batch(PersonUpdated)
def remember_recipients(session, events):
    """Keep how to reach each person; the channels stay in the person's order of preference."""
    now = datetime.now(timezone.utc)
    upsert(session, Recipient.__table__, [{
        "person_id": event.payload.person_id,
        "organization_id": event.organization_id,
        "full_name": event.payload.full_name,
        "phone": event.payload.phone,
        "email": event.payload.email,
        "language": event.payload.preferred_language or "zh-CN",
        "channels": list(event.payload.preferred_channels),
        "site_id": event.payload.site_id,
        "birthday": _birthday(event.payload.birthday),
        "updated_at": now,
    } for event in events], key=("person_id",))


@handlers.on_batch(SiteRegistered)
@handlers.on_batch(SiteUpdated)
def remember_sites(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Site.__table__, [{
        "site_id": event.payload.site_id, "organization_id": event.organization_id, "name": event.payload.name,
        "time_zone": event.payload.time_zone or "Asia/Shanghai", "updated_at": now,
    } for event in events], key=("site_id",))


@handlers.on_batch(UnitRegistered)
@handlers.on_batch(UnitChanged)
def remember_units(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Unit.__table__, [{
        "unit_id": event.payload.unit_id, "organization_id": event.organization_id,
        "site_id": event.payload.site_id, "building_id": event.payload.building_id, "floor": event.payload.floor,
        "number": event.payload.number, "kind": event.payload.kind, "updated_at": now,
    } for event in events], key=("unit_id",))


@handlers.on_batch(OccupancyStarted)
def remember_occupancies(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Occupancy.__table__, [{
        "occupancy_id": event.payload.occupancy_id, "organization_id": event.organization_id,
        "site_id": event.payload.site_id, "unit_id": event.payload.unit_id, "person_id": event.payload.person_id,
        "role": event.payload.role, "notice_channels": list(event.payload.notice_channels), "active": True,
        "updated_at": now,
    } for event in events], key=("occupancy_id",))


@handlers.on_batch(OccupancyEnded)
def forget_occupancies(session, events):
    session.execute(update(Occupancy).where(
        Occupancy.occupancy_id.in_([event.payload.occupancy_id for event in events]))
        .values(active=False, updated_at=datetime.now(timezone.utc)))


@handlers.on(StaffMemberChanged)
def remember_staff_member(session, event):
    """The snapshot of the highest version wins; an older one arriving late changes nothing."""
    member = event.payload
    held = session.get(StaffMember, member.member_id)
    if held is not None and held.version >= member.version:
        return
    upsert(session, StaffMember.__table__, [{
        "member_id": member.member_id, "organization_id": event.organization_id, "user_id": member.user_id,
        "full_name": member.full_name, "phone": member.phone, "email": member.email,
        "channels": list(member.channels), "active": member.active,
        "site_roles": {held.site_id: list(held.roles) for held in member.site_roles},
        "version": member.version, "updated_at": datetime.now(timezone.utc),
    }], key=("member_id",))


@handlers.on_batch(DutyAssigned)
def remember_duties(session, events):
    upsert(session, Duty.__table__, [{
        "duty_id": event.payload.duty_id, "organization_id": event.organization_id, "site_id": event.payload.site_id,
        "day": event.payload.day, "shift": event.payload.shift, "user_id": event.payload.user_id, "active": True,
    } for event in events], key=("duty_id",))


@handlers.on_batch(DutyWithdrawn)
def forget_duties(session, events):
    session.execute(update(Duty).where(Duty.duty_id.in_([event.payload.duty_id for event in events]))
                    .values(active=False))
