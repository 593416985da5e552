"""The facts the SLA engine keeps from occupants: sites' calendars and the staff directory."""

from __future__ import annotations

from datetime import datetime, timezone

from psp.occupants.v1.places_pb2 import SiteRegistered, SiteUpdated
from psp.occupants.v1.staff_pb2 import StaffMemberChanged
from sqlalchemy import select

from services.ticketing.handlers import handlers
from services.ticketing.sla.tables import SiteCalendarRow, StaffMember
from shared.readmodel import upsert


def _calendar_row(event, now: datetime) -> dict:
    site = event.payload
    return {
        "site_id": site.site_id, "organization_id": event.organization_id, "time_zone": site.time_zone,
        "reception_hours": [[frame.weekday, frame.opens, frame.closes] for frame in site.reception_hours],
        "holiday_overrides": {day.date: day.kind for day in site.holiday_overrides},
        "updated_at": now,
    }


@handlers.on_batch(SiteRegistered)
def remember_new_calendars(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, SiteCalendarRow.__table__, [_calendar_row(event, now) for event in events], key=("site_id",))


@handlers.on_batch(SiteUpdated)
def remember_calendars(session, events):
    """Each event carries the site's whole calendar, so the newest replaces the copy."""
    remember_new_calendars(session, events)


@handlers.on_batch(StaffMemberChanged)
def remember_staff(session, events):
    """Snapshots may arrive out of order (retries): one no newer than the version held changes nothing."""
    newest: dict[str, object] = {}
    for event in events:
        held = newest.get(event.payload.member_id)
        if held is None or event.payload.version > held.payload.version:
            newest[event.payload.member_id] = event
    versions = dict(session.execute(select(StaffMember.member_id, StaffMember.version).where(
        StaffMember.member_id.in_(list(newest)))).all())
    now = datetime.now(timezone.utc)
    upsert(session, StaffMember.__table__, [{
        "member_id": member.member_id, "organization_id": event.organization_id, "user_id": member.user_id,
        "full_name": member.full_name, "active": member.active, "reachable": bool(member.channels),
        "site_roles": {roles.site_id: sorted(roles.roles) for roles in member.site_roles},
        "version": member.version, "updated_at": now,
    } for event in newest.values() if (member := event.payload).version > versions.get(member.member_id, -1)],
        key=("member_id",))
