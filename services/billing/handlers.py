"""Events billing consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.billing.models import Payer
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("billing")


@handlers.on_batch(PersonRegistered)
def remember_payers(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, Payer.__table__, [{
        "person_id": event.payload.person_id,
        "organization_id": event.organization_id,
        "full_name": event.payload.full_name,
        "kind": event.payload.kind,
        "email": event.payload.email,
        "phone": event.payload.phone,
        "updated_at": now,
    } for event in events], key=("person_id",))
