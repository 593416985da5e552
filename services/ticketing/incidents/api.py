"""HTTP boundary of incidents (TKT-11): one emergency or outage, the tickets it caused, its closing."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import List, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from services.ticketing.incidents import rules
from services.ticketing.incidents.tables import Incident
from services.ticketing.patrols.api import at_visible_sites
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import ALL, CUSTOMER_SERVICE
from shared.web import db_session, get_visible

api = APIBlueprint("incidents", __name__, url_prefix="/v1")


class IncidentIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    kind = String(required=True, validate=OneOf(rules.KINDS), metadata={
        "description": "电梯困人 lift_entrapment, 停电 power_failure, 燃气泄漏 gas_leak, 水浸 flooding, 火警 fire, "
                       "盗窃 theft, 意外 accident: each starts the emergency notification chain."})
    title = String(required=True, validate=Length(1, 200))
    place = String(load_default="", validate=Length(max=200))
    building_id = String(load_default=None, allow_none=True, validate=Length(36, 36))
    description = String(load_default="", validate=Length(max=4000))


class LinkIn(Schema):
    ticket_id = String(required=True, validate=Length(36, 36), metadata={"description": "A ticket at the site."})


class CloseIn(Schema):
    summary = String(required=True, validate=Length(1, 4000), metadata={"description": "What happened, what was done."})


class IncidentQuery(PageQuery):
    site_id = String(load_default=None, validate=Length(36, 36))
    state = String(load_default=None, validate=OneOf(rules.INCIDENT.states))
    kind = String(load_default=None, validate=OneOf(rules.KINDS))


class IncidentOut(Schema):
    id = String()
    site_id = String()
    kind = String(metadata={"enum": list(rules.KINDS)})
    state = String(metadata={"enum": rules.INCIDENT.states})
    title = String()
    place = String()
    building_id = String(allow_none=True)
    description = String()
    opened_by = String()
    opened_at = UtcDateTime()
    summary = String()
    closed_by = String(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    ticket_ids = List(String(), metadata={"description": "The tickets it caused, in the order linked."})
    allowed_actions = List(String())


def _shown(incident: Incident) -> dict:
    shown = {column.key: getattr(incident, column.key) for column in Incident.__table__.columns}
    return {**shown, "ticket_ids": rules.ticket_ids(db_session(), incident),
            "allowed_actions": rules.INCIDENT.allowed(incident.state)}


def _incident(incident_id: str) -> Incident:
    return get_visible(Incident, incident_id, "incident")


@api.post("/incidents")
@api.auth_required(auth)
@idempotent
@api.input(IncidentIn)
@api.output(IncidentOut, status_code=201)
def open_incident(json_data):
    """Whoever at the site discovers an emergency opens it; notifications starts the emergency chain."""
    caller = principal()
    site_id = visible_site(json_data.pop("site_id"))
    require_role_at(site_id, *ALL)
    return _shown(rules.open_incident(db_session(), organization_id=caller.organization_id, site_id=site_id,
                                      actor=caller.subject, **json_data))


@api.get("/incidents")
@api.auth_required(auth)
@api.input(IncidentQuery, location="query")
@api.output(page_of(IncidentOut))
def list_incidents(query_data):
    stmt = at_visible_sites(select(Incident), Incident, query_data["site_id"])
    for name in ("state", "kind"):
        if query_data[name]:
            stmt = stmt.where(getattr(Incident, name) == query_data[name])
    page = keyset_page(db_session(), stmt, (Incident.opened_at, Incident.id), query_data)
    return {**page, "items": [_shown(incident) for incident in page["items"]]}


@api.get("/incidents/<incident_id>")
@api.auth_required(auth)
@api.output(IncidentOut)
def get_incident(incident_id):
    return _shown(_incident(incident_id))


@api.post("/incidents/<incident_id>/tickets")
@api.auth_required(auth)
@api.input(LinkIn)
@api.output(IncidentOut)
def link_ticket(incident_id, json_data):
    """A call the incident caused (one more occupant stuck without power) joins it."""
    incident = _incident(incident_id)
    require_role_at(incident.site_id, *CUSTOMER_SERVICE)
    rules.link(db_session(), incident, json_data["ticket_id"], actor=principal().subject)
    return _shown(incident)


@api.post("/incidents/<incident_id>/close")
@api.auth_required(auth)
@api.input(CloseIn)
@api.output(IncidentOut)
@api.doc(description="```mermaid\n" + rules.INCIDENT.mermaid() + "\n```")
def close_incident(incident_id, json_data):
    incident = _incident(incident_id)
    rules.close(db_session(), incident, actor=principal().subject, roles=require_role_at(incident.site_id, *ALL),
                summary=json_data["summary"])
    return _shown(incident)
