"""Events notifications consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.notifications.models import Recipient
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("notifications")


@handlers.on(PersonRegistered)
def remember_recipient(session, event):
    """Keep how to reach the person; the channels stay in the person's order of preference."""
    person = event.payload
    upsert(session, Recipient.__table__, {
        "person_id": person.person_id,
        "organization_id": event.organization_id,
        "full_name": person.full_name,
        "phone": person.phone,
        "email": person.email,
        "language": person.preferred_language or "zh-CN",
        "channels": list(person.preferred_channels),
        "updated_at": datetime.now(timezone.utc),
    }, key=("person_id",))
