"""Rules for people (OCC-2). Plain functions over a session; no Flask."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from services.occupants.models import chassis
from services.occupants.people import events
from services.occupants.people.tables import Person
from services.occupants.places.tables import Site
from shared import bulk
from shared.bus.outbox import record_many
from shared.problems import Problem

PERSON_KINDS = ("individual", "company")
LANGUAGES = ("zh-CN", "en")
CHANNELS = ("sms", "email", "app")


def register_person(session: Session, site: Site, *, registered_by: str, kind: str, full_name: str,
                    phone: str = "", email: str = "", preferred_language: str = "zh-CN",
                    preferred_channels: list[str] | None = None) -> Person:
    """Record the person and, in the same transaction, the `person.registered.v1` event."""
    [row] = _register(session, site, [{
        "kind": kind, "full_name": full_name, "phone": phone, "email": email,
        "preferred_language": preferred_language, "preferred_channels": list(preferred_channels or ["sms"]),
    }], registered_by)
    return Person(**row)


def register_people(session: Session, site: Site, people: Sequence[dict], *, registered_by: str) -> list[str]:
    """Register many people at once (each given as `register_person`'s fields), as an import of a site's
    occupants does; returns their ids. The people and their events go in as one statement each."""
    defaults = {"phone": "", "email": "", "preferred_language": "zh-CN", "preferred_channels": ["sms"]}
    return [row["id"] for row in _register(session, site, [{**defaults, **fields} for fields in people], registered_by)]


def _register(session: Session, site: Site, people: list[dict], registered_by: str) -> list[dict]:
    now = datetime.now(timezone.utc)
    rows = [{"id": str(uuid.uuid4()), "organization_id": site.organization_id, "site_id": site.id, **fields,
             "registered_by": registered_by, "registered_at": now} for fields in people]
    for row in rows:
        if not (row["phone"] or row["email"]):
            raise Problem(422, "Unprocessable Content", "Give a phone number or an e-mail address.", field="phone")
    bulk.insert(session, Person.__table__, rows)
    record_many(session, chassis.outbox, [events.person_registered(row) for row in rows],
                organization_id=site.organization_id)
    return rows
