"""Rules for incidents (TKT-11). Plain functions over a session; no Flask.

The seeds' emergency procedures (应急预案) for a lift entrapment (电梯困人), a power failure, a gas leak,
flooding (水浸), fire, theft and an accident all start the same way: whoever discovers it reports at once and
the emergency chain is called. So opening an incident publishes incident.opened.v1, on which notifications
starts that chain (NTF-5); the many calls one outage causes are linked to it instead of being handled apart.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.ticketing.incidents import events
from services.ticketing.incidents.tables import Incident, IncidentTicket
from services.ticketing.models import chassis, utcnow
from services.ticketing.tickets.tables import Ticket
from shared import audit
from shared.bus.outbox import record
from shared.problems import Problem
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.workflow import Step, Workflow

KINDS = ("lift_entrapment", "power_failure", "gas_leak", "flooding", "fire", "theft", "accident")

# Anyone at the site opens one and links the calls; those who lead the response declare it over.
INCIDENT = Workflow("incident", "open", [
    Step("open", "close", "closed", roles=(GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR)),
], final=("closed",))


def open_incident(session: Session, *, organization_id: str, site_id: str, actor: str, kind: str, title: str,
                  place: str = "", building_id: str | None = None, description: str = "") -> Incident:
    incident = Incident(organization_id=organization_id, site_id=site_id, kind=kind, state=INCIDENT.initial,
                        title=title, place=place, building_id=building_id, description=description, opened_by=actor,
                        opened_at=utcnow())
    session.add(incident)
    session.flush()
    _audit(session, incident, "open", actor, to_state=incident.state, data={"kind": kind})
    record(session, chassis.outbox, events.opened(incident), organization_id=organization_id)
    return incident


def link(session: Session, incident: Incident, ticket_id: str, *, actor: str) -> IncidentTicket:
    """A ticket the incident caused; a ticket of another site or organization is not one of them."""
    if incident.state in INCIDENT.final:
        raise Problem(409, "Conflict", "The incident is closed; a new call about it is a new incident.",
                      field="action", extra={"state": incident.state, "allowed": []})
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.organization_id != incident.organization_id or ticket.site_id != incident.site_id:
        raise Problem(422, "Unprocessable Content", "No such ticket at the incident's site.", field="ticket_id")
    if session.get(IncidentTicket, (incident.id, ticket_id)) is not None:
        raise Problem(409, "Conflict", "The ticket is linked already.", field="ticket_id")
    linked = IncidentTicket(incident_id=incident.id, ticket_id=ticket_id, organization_id=incident.organization_id,
                            linked_by=actor, linked_at=utcnow())
    session.add(linked)
    session.flush()
    _audit(session, incident, "link", actor, data={"ticket_id": ticket_id})
    return linked


def close(session: Session, incident: Incident, *, actor: str, roles, summary: str) -> None:
    """Over: what happened and what was done. The linked tickets follow their own lifecycle."""
    step = INCIDENT.step(incident.state, "close", roles)
    now = utcnow()
    moved = session.execute(update(Incident).where(Incident.id == incident.id, Incident.state == incident.state)
                            .values(state=step.target, summary=summary, closed_by=actor, closed_at=now)
                            .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The incident changed meanwhile; read it again.", field="action")
    session.refresh(incident)
    _audit(session, incident, "close", actor, summary, step.source, step.target)
    record(session, chassis.outbox, events.closed(incident, ticket_ids(session, incident)),
           organization_id=incident.organization_id)


def ticket_ids(session: Session, incident: Incident) -> list[str]:
    return list(session.scalars(select(IncidentTicket.ticket_id).where(IncidentTicket.incident_id == incident.id)
                                .order_by(IncidentTicket.linked_at, IncidentTicket.ticket_id)))


def _audit(session: Session, incident: Incident, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, incident, entity="incident", action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)
