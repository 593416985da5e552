"""Events notifications consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.notifications.models import Recipient
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("notifications")


@handlers.on_batch(PersonRegistered)
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
        "updated_at": now,
    } for event in events], key=("person_id",))
