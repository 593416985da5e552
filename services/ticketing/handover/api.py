"""HTTP boundary of shift handovers (TKT-6)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, List, Nested, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from services.ticketing.handover import rules
from services.ticketing.handover.tables import Handover
from services.ticketing.rosters.api import DAYS
from services.ticketing.rosters.rules import SHIFTS
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import CUSTOMER_SERVICE
from shared.web import db_session, get_visible

api = APIBlueprint("handover", __name__, url_prefix="/v1")


class HandoverIn(Schema):
    day = Date(required=True, validate=DAYS)
    shift = String(required=True, validate=OneOf(SHIFTS), metadata={"description": "The outgoing shift."})
    notes = String(load_default="", validate=Length(max=4000), metadata={"description": "What else is handed over."})


class ItemOut(Schema):
    ticket_id = String()
    number = String()
    type = String()
    tier = String(allow_none=True)
    emergency = Boolean()
    state = String(metadata={"description": "The ticket's state when the handover was written."})
    subject = String()


class HandoverOut(Schema):
    id = String()
    site_id = String()
    day = Date()
    shift = String(metadata={"enum": list(SHIFTS)})
    state = String(metadata={"enum": rules.HANDOVER.states})
    notes = String()
    items = List(Nested(ItemOut), metadata={"description": "The site's open repairs, complaints and major matters."})
    written_by = String()
    written_at = UtcDateTime()
    acknowledged_by = String(allow_none=True)
    acknowledged_at = UtcDateTime(allow_none=True)


class HandoverQuery(PageQuery):
    day = Date(load_default=None, validate=DAYS)
    state = String(load_default=None, validate=OneOf(rules.HANDOVER.states))


@api.post("/sites/<site_id>/handovers")
@api.auth_required(auth)
@idempotent
@api.input(HandoverIn)
@api.output(HandoverOut, status_code=201)
def write(site_id, json_data):
    """The outgoing shift writes its handover; the site's open items are listed from the tickets."""
    site_id = visible_site(site_id)
    require_role_at(site_id, *CUSTOMER_SERVICE)
    caller = principal()
    return rules.write(db_session(), organization_id=caller.organization_id, site_id=site_id,
                       actor=caller.subject, **json_data)


@api.get("/sites/<site_id>/handovers")
@api.auth_required(auth)
@api.input(HandoverQuery, location="query")
@api.output(page_of(HandoverOut))
def list_handovers(site_id, query_data):
    site_id = visible_site(site_id)
    stmt = select(Handover).where(Handover.organization_id == principal().organization_id,
                                  Handover.site_id == site_id)
    for name in ("day", "state"):
        if query_data[name] is not None:
            stmt = stmt.where(getattr(Handover, name) == query_data[name])
    return keyset_page(db_session(), stmt, (Handover.day, Handover.shift, Handover.id), query_data)


@api.get("/handovers/<handover_id>")
@api.auth_required(auth)
@api.output(HandoverOut)
def get_handover(handover_id):
    return get_visible(Handover, handover_id, "handover")


@api.post("/handovers/<handover_id>/acknowledgement")
@api.auth_required(auth)
@api.output(HandoverOut)
@api.doc(description="The incoming shift acknowledges what it takes over: another person than the writer, once.\n\n"
                     "```mermaid\n" + rules.HANDOVER.mermaid() + "\n```")
def acknowledge(handover_id):
    record = get_visible(Handover, handover_id, "handover")
    roles = require_role_at(record.site_id, *CUSTOMER_SERVICE)
    rules.acknowledge(db_session(), record, actor=principal().subject, roles=roles)
    return record
