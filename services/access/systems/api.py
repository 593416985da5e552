"""HTTP boundary of the registered access-control systems (ACC-5): registration and door mapping, the sync
state of every credential on every system, the resync command, and what the systems report back."""

from __future__ import annotations

from zoneinfo import available_timezones

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Regexp, URL
from flask import request
from marshmallow import ValidationError, validates_schema
from sqlalchemy import select

from services.access.doors.tables import Door
from services.access.models import chassis
from services.access.systems import entries, rules, sync, webhook
from services.access.systems.tables import AccessSystem, DoorEvent, SyncState
from shared import audit
from shared.audit import AuditEntryOut
from shared.auth import ALL_SITES, auth, in_organization, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import PROBLEM_JSON, Problem, unprocessable
from shared.roles import CUSTOMER_SERVICE, MANAGERS, SECURITY_GUARD
from shared.web import db_session, get_referenced, get_visible

api = APIBlueprint("access_systems", __name__, url_prefix="/v1")

READERS = (*CUSTOMER_SERVICE, SECURITY_GUARD)
_Id = String(required=True, validate=Length(36, 36))
ZONES = frozenset(available_timezones())
SIGNED = ("Signed the Standard Webhooks way with the system's secret (webhook-id, webhook-timestamp, "
          "webhook-signature); no bearer token.")


class DoorMapIn(Schema):
    door_id = String(required=True, validate=Length(36, 36), metadata={"description": "The platform's door id."})
    system_door_id = String(required=True, validate=[Length(1, 64), Regexp(r"^[A-Za-z0-9_.:-]+$")],
                            metadata={"description": "The system's own id of the door (Hikvision: the door number)."})


class DoorMapOut(Schema):
    door_id = String()
    system_door_id = String()


class AccessSystemIn(Schema):
    site_id = _Id
    name = String(required=True, validate=Length(1, 120))
    adapter = String(required=True, validate=OneOf(rules.ADAPTERS))
    base_url = String(required=True, validate=[Length(max=500), URL(schemes={"http", "https"}, require_tld=False)],
                      metadata={"description": "webhook: the URL changes are POSTed to; hikvision: the device's "
                                               "address, e.g. http://10.0.0.8"})
    username = String(load_default="", validate=Length(max=100), metadata={"description": "hikvision only."})
    password = String(load_default="", validate=Length(max=200), load_only=True,
                      metadata={"description": "hikvision only: the device account's password; never shown again."})
    time_zone = String(load_default="Asia/Shanghai", validate=Length(max=64),
                       metadata={"description": "The device clock's zone (IANA name)."})
    doors = List(Nested(DoorMapIn), load_default=list, validate=Length(max=500))

    @validates_schema
    def _check(self, data, **_):
        if data["time_zone"] not in ZONES:
            raise ValidationError("Not a known time zone.", "time_zone")


class AccessSystemOut(Schema):
    id = String()
    site_id = String()
    name = String()
    adapter = String()
    base_url = String()
    username = String()
    time_zone = String()
    state = String()
    disabled_reason = String()
    created_by = String()
    created_at = UtcDateTime()
    doors = List(Nested(DoorMapOut))


class RegisteredSystemOut(AccessSystemOut):
    secret = String(attribute="shown_secret", metadata={"description": "webhook only: the Standard Webhooks secret the system verifies "
                                             "and signs with. Shown this once."})


class AccessSystemQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))


class DoorsIn(Schema):
    doors = List(Nested(DoorMapIn), required=True, validate=Length(max=500))


class ReasonIn(Schema):
    reason = String(load_default="", validate=Length(max=300))


class StateIn(ReasonIn):
    state = String(required=True, validate=OneOf(rules.STATES))


class ResyncOut(Schema):
    queued = Integer(metadata={"description": "Changes queued again for the system."})


class SyncStateOut(Schema):
    id = String()
    credential = String()
    pass_id = String()
    action = String()
    state = String()
    reason = String()
    attempts = Integer()
    changed_at = UtcDateTime()
    next_attempt_at = UtcDateTime(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)
    acknowledged_at = UtcDateTime(allow_none=True)


class SyncStateQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(rules.SYNC_STATES))


class DoorEventOut(Schema):
    id = String()
    system_id = String()
    serial_no = String()
    pass_id = String()
    credential = String()
    door_id = String()
    direction = String()
    outcome = String()
    occurred_at = UtcDateTime()
    received_at = UtcDateTime()


class DoorEventQuery(PageQuery):
    pass_id = String(required=True, validate=Length(36, 36))


class ReportedOut(Schema):
    result = String(metadata={"description": "kept, duplicate or acknowledged."})
    acknowledged = Integer()


class CloudEventIn(Schema):
    """A structured CloudEvent (application/cloudevents+json)."""

    specversion = String(required=True, validate=OneOf(("1.0",)))
    id = String(required=True, validate=Length(1, 200))
    source = String(required=True, validate=Length(1, 500))
    type = String(required=True, validate=OneOf((webhook.PASSED_TYPE, webhook.ACKNOWLEDGED_TYPE)))
    time = String(load_default=None, validate=Length(max=40))
    datacontenttype = String(load_default=None, validate=Length(max=100))
    data = Dict(required=True)


class PassedData(Schema):
    """The data of a `psp.access.door_passed.v1` event a system sends."""

    serial_no = String(required=True, validate=Length(1, 64))
    credential = String(load_default="", validate=Length(max=200))
    door = String(required=True, validate=Length(1, 64))
    direction = String(load_default="unknown", validate=OneOf(entries.DIRECTIONS))
    outcome = String(load_default="granted", validate=OneOf(entries.OUTCOMES))
    occurred_at = AwareDateTime(required=True)


class AcknowledgedData(Schema):
    """The data of a `psp.access.acknowledged.v1` event: the webhook ids of changes the system now holds."""

    change_ids = List(String(validate=Length(1, 36)), required=True, validate=Length(1, 1000))


def _with_doors(systems: list[AccessSystem]) -> list[AccessSystem]:
    """The systems, each with its door mapping to show (read in one query)."""
    mapping = rules.doors_by_system(db_session(), [system.id for system in systems])
    for system in systems:
        system.doors = [{"door_id": door, "system_door_id": number}
                        for door, number in sorted(mapping[system.id].items())]
    return systems


def _shown(system: AccessSystem) -> AccessSystem:
    return _with_doors([system])[0]


def _check_doors(site_id: str, adapter: str, doors: list[dict]) -> None:
    """Each mapped door is one of the site's; a Hikvision door is known by its number."""
    for index, door in enumerate(doors):
        found = get_referenced(Door, door["door_id"], f"doors.{index}.door_id", "door")
        if found.site_id != site_id:
            raise unprocessable(f"doors.{index}.door_id", "The door is at another site than the system.")
        if adapter == "hikvision" and not (door["system_door_id"].isdigit() and len(door["system_door_id"]) <= 4):
            raise unprocessable(f"doors.{index}.system_door_id", "A Hikvision door number (1 to 9999).")


def _managed(system_id: str) -> AccessSystem:
    system = get_visible(AccessSystem, system_id, "access system")
    require_role_at(system.site_id, *MANAGERS)
    return system


def _read(system_id: str) -> AccessSystem:
    system = get_visible(AccessSystem, system_id, "access system")
    require_role_at(system.site_id, *READERS)
    return system


@api.post("/access-systems")
@api.auth_required(auth)
@idempotent
@api.input(AccessSystemIn)
@api.output(RegisteredSystemOut, status_code=201)
def register_system(json_data):
    site_id = visible_site(json_data["site_id"])
    require_role_at(site_id, *MANAGERS)
    _check_doors(site_id, json_data["adapter"], json_data["doors"])
    system, secret = rules.register(db_session(), organization_id=principal().organization_id,
                                    actor=principal().subject, **json_data)
    _shown(system).shown_secret = secret
    return system


@api.get("/access-systems")
@api.auth_required(auth)
@api.input(AccessSystemQuery, location="query")
@api.output(page_of(AccessSystemOut))
def list_systems(query_data):
    require_role_at(visible_site(query_data["site_id"]), *READERS)
    stmt = in_organization(select(AccessSystem), AccessSystem).where(AccessSystem.site_id == query_data["site_id"])
    page = keyset_page(db_session(), stmt, (AccessSystem.id,), query_data)
    page["items"] = _with_doors(page["items"])
    return page


@api.get("/access-systems/<system_id>")
@api.auth_required(auth)
@api.output(AccessSystemOut)
def get_system(system_id):
    return _shown(_read(system_id))


@api.put("/access-systems/<system_id>/doors")
@api.auth_required(auth)
@api.input(DoorsIn)
@api.output(AccessSystemOut)
def map_doors(system_id, json_data):
    """Replace the door mapping; every change is pushed to the system again."""
    system = _managed(system_id)
    _check_doors(system.site_id, system.adapter, json_data["doors"])
    rules.map_doors(db_session(), system, json_data["doors"], actor=principal().subject)
    return _shown(system)


@api.post("/access-systems/<system_id>/resync")
@api.auth_required(auth)
@api.input(ReasonIn)
@api.output(ResyncOut)
def resync_system(system_id, json_data):
    """Push every credential's latest change to the system again (a controller that lost its memory)."""
    system = _managed(system_id)
    return {"queued": rules.resync(db_session(), system, actor=principal().subject, reason=json_data["reason"])}


@api.put("/access-systems/<system_id>/state")
@api.auth_required(auth)
@api.input(StateIn)
@api.output(AccessSystemOut)
def set_system_state(system_id, json_data):
    """Disable a system (nothing is pushed to it), or enable it again (after a 410, once its endpoint is back):
    everything is then pushed to it again."""
    system = _managed(system_id)
    rules.set_state(db_session(), system, json_data["state"], actor=principal().subject, reason=json_data["reason"])
    return _shown(system)


@api.get("/access-systems/<system_id>/sync-states")
@api.auth_required(auth)
@api.input(SyncStateQuery, location="query")
@api.output(page_of(SyncStateOut))
def list_sync_states(system_id, query_data):
    system = _read(system_id)
    stmt = select(SyncState).where(SyncState.system_id == system.id)
    if query_data["state"]:
        stmt = stmt.where(SyncState.state == query_data["state"])
    return keyset_page(db_session(), stmt, (SyncState.id,), query_data)


@api.get("/access-systems/<system_id>/audit")
@api.auth_required(auth)
@api.output(AuditEntryOut(many=True))
def system_audit(system_id):
    system = _read(system_id)
    return audit.trail(db_session(), chassis.audit_log, organization_id=system.organization_id,
                       entity=rules.ENTITY, entity_id=system.id)


@api.get("/door-events")
@api.auth_required(auth)
@api.input(DoorEventQuery, location="query")
@api.output(page_of(DoorEventOut))
def list_door_events(query_data):
    """A pass's entries and exits, as the systems at the sites the caller sees reported them."""
    caller = principal()
    stmt = in_organization(select(DoorEvent), DoorEvent).where(DoorEvent.pass_id == query_data["pass_id"])
    if ALL_SITES not in caller.sites:
        stmt = stmt.where(DoorEvent.site_id.in_(caller.sites | set(caller.site_roles)))
    return keyset_page(db_session(), stmt, (DoorEvent.occurred_at, DoorEvent.id), query_data)


@api.post("/access-systems/<system_id>/events")
@api.doc(security=[], description=SIGNED, responses={
    status: {"description": description,
             "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, description in (
        (400, "The body is not valid JSON."),
        (401, "The webhook-id, webhook-timestamp and webhook-signature headers are missing, the signature does "
              "not verify, or the timestamp is outside the tolerance (`reason`)."),
        (404, "No such system."),
        (413, "The body is larger than allowed."),
        (422, "Not a structured CloudEvent, bad data, or a door not mapped to the system (`reason`)."),
        (503, "The database cannot be reached; retry after `Retry-After` seconds."))})
@api.input(CloudEventIn)
@api.output(ReportedOut)
def report_event(system_id, json_data):
    """What a system reports: an entry or exit (`psp.access.door_passed.v1`), or its acknowledgement of
    changes it accepted for later (`psp.access.acknowledged.v1`). A structured CloudEvent, signed."""
    system = db_session().get(AccessSystem, system_id)
    if system is None or system.adapter != "webhook":
        raise Problem(404, "Not Found", "No such access system.")
    webhook.verify(system, request.get_data(), request.headers)
    if json_data["type"] == webhook.ACKNOWLEDGED_TYPE:
        data = _data(AcknowledgedData, json_data["data"])
        return {"result": "acknowledged", "acknowledged": sync.acknowledge(db_session(), system, data["change_ids"])}
    data = _data(PassedData, json_data["data"])
    reported = {**data, "system_door_id": data.pop("door")}
    try:
        kept = entries.record(db_session(), system, reported)
    except entries.DoorNotMapped:
        # The refusal is kept although the answer is an error, which would roll the request's work back.
        entries.refuse(db_session(), system, reported)
        db_session().commit()
        raise unprocessable("data.door", "This door is not mapped to the system.",
                            extra={"reason": "door_not_mapped"}) from None
    return {"result": "kept" if kept else "duplicate", "acknowledged": 0}


def _data(schema: type[Schema], data: dict) -> dict:
    try:
        return schema().load(data)
    except ValidationError as exc:
        field = next(iter(exc.normalized_messages()), "")
        raise unprocessable(f"data.{field}", str(exc.normalized_messages()[field])) from exc
