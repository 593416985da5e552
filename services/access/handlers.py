"""Events access consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.access.models import PassHolder
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("access")


@handlers.on_batch(PersonRegistered)
def remember_pass_holders(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, PassHolder.__table__, [{
        "person_id": event.payload.person_id,
        "organization_id": event.organization_id,
        "full_name": event.payload.full_name,
        "kind": event.payload.kind,
        "site_id": event.payload.site_id,
        "updated_at": now,
    } for event in events], key=("person_id",))
