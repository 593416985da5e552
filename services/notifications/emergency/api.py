"""HTTP boundary of the emergency chain (NTF-5): the levels alerted for an incident, and their acknowledgement."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf

from services.notifications.emergency import rules
from services.notifications.emergency.tables import EmergencyAlert
from services.notifications.listing import visible
from shared.auth import auth, principal, roles_at
from shared.fields import UtcDateTime
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("emergency", __name__, url_prefix="/v1")


class AlertOut(Schema):
    id = String()
    site_id = String()
    incident_id = String()
    kind = String()
    title = String()
    place = String()
    level = Integer()
    state = String(validate=OneOf(rules.ALERT.states))
    escalate_at = UtcDateTime(allow_none=True, metadata={"description": "When the next level is alerted unless "
                                                                        "this one acknowledges."})
    acknowledged_by = String()
    acknowledged_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class AlertQuery(PageQuery):
    incident_id = String(load_default=None, validate=Length(1, 36))
    state = String(load_default=None, validate=OneOf(rules.ALERT.states))


@api.get("/emergency-alerts")
@api.auth_required(auth)
@api.input(AlertQuery, location="query")
@api.output(page_of(AlertOut))
def list_alerts(query_data):
    stmt = visible(EmergencyAlert, query_data, ("incident_id", "state"))
    return keyset_page(db_session(), stmt, (EmergencyAlert.created_at, EmergencyAlert.id), query_data)


@api.post("/emergency-alerts/<alert_id>/acknowledge")
@api.auth_required(auth)
@api.output(AlertOut)
def acknowledge_alert(alert_id):
    """Someone holding one of the level's roles at the site has the incident in hand: the chain stops climbing."""
    alert = get_visible(EmergencyAlert, alert_id, "emergency alert")
    return rules.acknowledge(db_session(), alert, actor=principal().subject, held_roles=roles_at(alert.site_id))
