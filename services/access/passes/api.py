"""HTTP boundary of passes: issue, look up, change, revoke; visitor passes registered by the host or the
front desk."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, Method, String
from apiflask.validators import Length, OneOf, Range

from services.access.inputs import a_moment, an_id, ids, listed_at_site, site_named
from services.access.models import chassis
from services.access.passes import held, rules
from services.access.passes.tables import CREDENTIAL_KINDS, KINDS, HeldPass, Pass
from services.access.places.tables import PassHolder
from shared.audit import AuditEntryOut, trail
from shared.auth import auth, principal, require_role_at, roles_at
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("passes", __name__, url_prefix="/v1")

# Kinds issued through POST /v1/passes; the others come from their own records (visits, decoration permits,
# bookings) so that they end with them.
STAFF_ISSUED = ("resident", "staff", "vehicle")


class PassIn(Schema):
    site_id = an_id()
    kind = String(required=True, validate=OneOf(STAFF_ISSUED))
    holder_name = String(required=True, validate=Length(1, 200))
    person_id = an_id(required=False, description="The holder, if occupants knows them.")
    unit_id = an_id(required=False)
    credential = String(load_default=None, validate=Length(1, 200),
                        metadata={"description": "Card number, plate, face id …; omitted for a QR pass: generated."})
    credential_kind = String(required=True, validate=OneOf(CREDENTIAL_KINDS))
    valid_from = a_moment()
    valid_until = a_moment()
    door_ids = ids("Doors of the site the pass opens.")
    zone_ids = ids("Zones of the site whose doors the pass opens.")
    max_uses = Integer(load_default=0, validate=Range(0, 100000), metadata={"description": "0: unlimited."})
    reason = String(load_default="", validate=Length(max=500))


class VisitIn(Schema):
    site_id = an_id()
    host_person_id = an_id(description="The occupant the visitor comes to.")
    holder_name = String(required=True, validate=Length(1, 200), metadata={"description": "The visitor."})
    credential = String(load_default=None, validate=Length(1, 200))
    credential_kind = String(load_default="qr", validate=OneOf(CREDENTIAL_KINDS))
    valid_from = a_moment()
    valid_until = a_moment()
    door_ids = ids()
    zone_ids = ids()
    max_uses = Integer(load_default=1, validate=Range(0, 1000), metadata={"description": "1: single use; 0: unlimited."})


class PassChangeIn(Schema):
    valid_from = a_moment(required=False)
    valid_until = a_moment(required=False)
    door_ids = List(String(validate=Length(36, 36)), load_default=None, validate=Length(max=200))
    zone_ids = List(String(validate=Length(36, 36)), load_default=None, validate=Length(max=200))
    max_uses = Integer(load_default=None, validate=Range(0, 100000))
    reason = String(load_default="", validate=Length(max=500))


class PassRevokeIn(Schema):
    reason_code = String(load_default="revoked_by_staff", validate=OneOf(("revoked_by_staff", "lost")))
    reason = String(load_default="", validate=Length(max=500))


class PassQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.PASS.states))
    kind = String(load_default=None, validate=OneOf(KINDS))
    person_id = String(load_default=None, validate=Length(36, 36))


class PassOut(Schema):
    id = String()
    site_id = String()
    kind = String()
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})
    person_id = String(allow_none=True)
    holder_name = String()
    unit_id = String(allow_none=True)
    credential = String()
    credential_kind = String()
    valid_from = UtcDateTime()
    valid_until = UtcDateTime()
    door_ids = List(String())
    zone_ids = List(String())
    max_uses = Integer()
    uses = Integer()
    revoked_at = UtcDateTime(allow_none=True)
    revocation_reason = String(allow_none=True)
    source = String()
    source_id = String(allow_none=True)
    issued_by = String()
    host_person_id = String(allow_none=True)
    schedule = Dict(allow_none=True, metadata={
        "description": "When in its window the pass opens, in the site's time: {time_zone, days, hours, "
                       "overtime}; null: at any time."})
    version = Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _allowed(self, pass_) -> list[str]:
        return rules.PASS.allowed(pass_.state)


def _holder(person_id: str | None, site_id: str, field: str) -> PassHolder | None:
    if person_id is None:
        return None
    holder = get_referenced(PassHolder, person_id, field, "person")
    if holder.site_id != site_id:
        raise unprocessable(field, "The person is not at this site.")
    return holder


@api.post("/passes")
@api.auth_required(auth)
@idempotent
@api.input(PassIn)
@api.output(PassOut, status_code=201)
def issue_pass(json_data):
    site = site_named(json_data.pop("site_id"))
    require_role_at(site.site_id, *rules.ISSUERS)
    _holder(json_data["person_id"], site.site_id, "person_id")
    return rules.issue(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                       source="staff", actor=principal().subject, **json_data)


@api.post("/visits")
@api.auth_required(auth)
@idempotent
@api.input(VisitIn)
@api.output(PassOut, status_code=201)
def register_visit(json_data):
    """A visitor pass, registered by the front desk or by the host (a token whose subject is the host)."""
    site = site_named(json_data.pop("site_id"))
    host = _holder(json_data["host_person_id"], site.site_id, "host_person_id")
    if principal().subject != host.person_id:
        require_role_at(site.site_id, *rules.ISSUERS)
    return rules.issue(db_session(), organization_id=site.organization_id, site_id=site.site_id, kind="visitor",
                       source="visit", actor=principal().subject, **json_data)


@api.get("/passes")
@api.auth_required(auth)
@api.input(PassQuery, location="query")
@api.output(page_of(PassOut))
def list_passes(query_data):
    """The site's passes, credentials included: for the staff who issue them."""
    return listed_at_site(Pass, query_data, "state", "kind", "person_id", roles=rules.ISSUERS)


class HeldPassQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf((held.AWAITING, held.ISSUED, held.DROPPED)))


class HeldPassOut(Schema):
    id = String()
    site_id = String()
    unit_id = String(allow_none=True)
    person_id = String(allow_none=True)
    holder_name = String()
    kind = String()
    source = String()
    source_id = String()
    valid_from = UtcDateTime()
    valid_until = UtcDateTime()
    reason = String()
    state = String(metadata={"description": "awaiting_doors, issued (pass_id) or dropped"})
    pass_id = String(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


@api.get("/held-passes")
@api.auth_required(auth)
@api.input(HeldPassQuery, location="query")
@api.output(page_of(HeldPassOut))
def list_held_passes(query_data):
    """Passes occupants' events asked for while the site had no doors: issued when its first door is
    registered."""
    return listed_at_site(HeldPass, query_data, "state", roles=rules.ISSUERS)


def readable_pass(pass_id: str) -> Pass:
    """A pass its holder, its host or the site's staff who issue passes may see."""
    pass_ = get_visible(Pass, pass_id, "pass")
    if principal().subject not in (pass_.person_id, pass_.host_person_id):
        require_role_at(pass_.site_id, *rules.ISSUERS)
    return pass_


@api.get("/passes/<pass_id>")
@api.auth_required(auth)
@api.output(PassOut)
def get_pass(pass_id):
    return readable_pass(pass_id)


@api.post("/passes/<pass_id>/change")
@api.auth_required(auth)
@api.input(PassChangeIn)
@api.output(PassOut)
def change_pass(pass_id, json_data):
    return take_step(Pass, pass_id, "pass", rules.change, json_data)


@api.post("/passes/<pass_id>/revoke")
@api.auth_required(auth)
@api.input(PassRevokeIn)
@api.output(PassOut)
def revoke_pass(pass_id, json_data):
    pass_ = get_visible(Pass, pass_id, "pass")
    rules.revoke(db_session(), pass_, actor=principal().subject, roles=roles_at(pass_.site_id), **json_data)
    return pass_


@api.get("/passes/<pass_id>/audit")
@api.auth_required(auth)
@api.output(AuditEntryOut(many=True))
def pass_audit(pass_id):
    pass_ = get_visible(Pass, pass_id, "pass")
    return trail(db_session(), chassis.audit_log, organization_id=pass_.organization_id, entity="pass",
                 entity_id=pass_.id)
