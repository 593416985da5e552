"""Events ticketing consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.ticketing.models import Reporter
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("ticketing")


@handlers.on_batch(PersonRegistered)
def remember_reporters(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Reporter.__table__, [{
        "person_id": event.payload.person_id,
        "organization_id": event.organization_id,
        "full_name": event.payload.full_name,
        "phone": event.payload.phone,
        "site_id": event.payload.site_id,
        "updated_at": now,
    } for event in events], key=("person_id",))
