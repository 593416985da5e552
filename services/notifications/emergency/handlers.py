"""An opened incident starts its emergency chain and, for the seven kinds, the broadcast to its building."""

from psp.ticketing.v1.field_pb2 import IncidentOpened

from services.notifications.delivery.rules import Cause
from services.notifications.emergency import rules
from services.notifications.handlers import handlers


@handlers.on(IncidentOpened)
def start_emergency_chain(session, event):
    incident = event.payload
    rules.open_chain(session, Cause.of_event(event), organization_id=event.organization_id,
                     site_id=incident.site_id, incident_id=incident.incident_id, kind=incident.kind,
                     title=incident.title, place=incident.place, building_id=incident.building_id)
