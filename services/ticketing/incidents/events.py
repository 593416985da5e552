"""The payloads incidents publish; contracts in proto/psp/ticketing/v1/field.proto."""

from __future__ import annotations

from psp.ticketing.v1.field_pb2 import IncidentClosed, IncidentOpened

from services.ticketing.tickets.events import _at


def opened(incident) -> IncidentOpened:
    return IncidentOpened(
        incident_id=incident.id, site_id=incident.site_id, kind=incident.kind, title=incident.title,
        place=incident.place, building_id=incident.building_id or "", opened_by=incident.opened_by,
        opened_at=_at(incident.opened_at))


def closed(incident, ticket_ids: list[str]) -> IncidentClosed:
    return IncidentClosed(
        incident_id=incident.id, site_id=incident.site_id, kind=incident.kind, summary=incident.summary,
        closed_by=incident.closed_by, closed_at=_at(incident.closed_at), ticket_ids=ticket_ids)
