"""Greetings (NTF-7): a welcome when a move-in is accepted (SPEC §7), and birthday greetings from a daily job.

The birthday job may run as often as it likes: the cause of a greeting is (person, year), so each person
is greeted once a year whichever worker runs it and however often.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from psp.occupants.v1.movein_pb2 import MoveInAccepted
from sqlalchemy import extract, select
from sqlalchemy.orm import sessionmaker

from services.notifications.delivery.rules import DEFAULT_ZONE, Cause, enqueue, person_target
from services.notifications.handlers import handlers
from services.notifications.models import Recipient
from services.notifications.recipients import rules as recipients
from services.notifications.recipients.tables import Site, Unit


@handlers.on(MoveInAccepted)
def welcome(session, event):
    move_in = event.payload
    unit = session.get(Unit, move_in.unit_id)
    enqueue(session, Cause.of_event(event), organization_id=event.organization_id, site_id=move_in.site_id,
            category="greetings", template_kind="welcome", data={"unit": unit.number if unit else ""},
            targets=recipients.person(session, event.organization_id, move_in.person_id))


def greet_birthdays(sessions: sessionmaker, now: datetime | None = None) -> int:
    """Greet everyone whose birthday it is today in their site's time zone; answers how many were queued."""
    now = now or datetime.now(timezone.utc)
    queued = 0
    with sessions() as session, session.begin():
        zones = dict(session.execute(select(Site.site_id, Site.time_zone)).all())
        days = {(now.astimezone(ZoneInfo(zone)).month, now.astimezone(ZoneInfo(zone)).day)
                for zone in {*zones.values(), DEFAULT_ZONE}}
        for month, day in days:
            people = session.scalars(select(Recipient).where(
                extract("month", Recipient.birthday) == month, extract("day", Recipient.birthday) == day)).all()
            for person in people:
                local = now.astimezone(ZoneInfo(zones.get(person.site_id) or DEFAULT_ZONE))
                if (local.month, local.day) != (month, day):
                    continue
                queued += len(enqueue(
                    session, Cause.here(f"birthday:{person.person_id}:{local.year}", "birthday"),
                    organization_id=person.organization_id, site_id=person.site_id or None, category="greetings",
                    template_kind="birthday", data={}, targets=[person_target(person)]))
    return queued
