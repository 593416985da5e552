"""Events billing consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.billing.models import Payer
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("billing")


@handlers.on(PersonRegistered)
def remember_payer(session, event):
    person = event.payload
    upsert(session, Payer.__table__, {
        "person_id": person.person_id,
        "organization_id": event.organization_id,
        "full_name": person.full_name,
        "kind": person.kind,
        "email": person.email,
        "phone": person.phone,
        "updated_at": datetime.now(timezone.utc),
    }, key=("person_id",))
