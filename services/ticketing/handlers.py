"""Events ticketing consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.ticketing.models import Reporter
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("ticketing")


@handlers.on(PersonRegistered)
def remember_reporter(session, event):
    person = event.payload
    upsert(session, Reporter.__table__, {
        "person_id": person.person_id,
        "organization_id": event.organization_id,
        "full_name": person.full_name,
        "phone": person.phone,
        "site_id": person.site_id,
        "updated_at": datetime.now(timezone.utc),
    }, key=("person_id",))
