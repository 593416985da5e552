"""Events access consumes."""

from datetime import datetime, timezone

from psp.occupants.v1.events_pb2 import PersonRegistered

from services.access.models import PassHolder
from shared.bus.consumer import Handlers
from shared.readmodel import upsert

handlers = Handlers("access")


@handlers.on(PersonRegistered)
def remember_pass_holder(session, event):
    person = event.payload
    upsert(session, PassHolder.__table__, {
        "person_id": person.person_id,
        "organization_id": event.organization_id,
        "full_name": person.full_name,
        "kind": person.kind,
        "site_id": person.site_id,
        "updated_at": datetime.now(timezone.utc),
    }, key=("person_id",))
