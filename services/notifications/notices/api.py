"""HTTP boundary of occupant notices (NTF-3): drafted with the audience counted, scheduled or sent now,
withdrawn before sending, read receipts counted, and a printable page for the notice board (宣传栏)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, render_template_string
from marshmallow import ValidationError, validates_schema
from sqlalchemy import select

from services.notifications.listing import visible
from services.notifications.models import chassis
from services.notifications.notices import rules
from services.notifications.notices.tables import Notice
from services.notifications.recipients import rules as recipients
from services.notifications.recipients.tables import Site, Unit
from shared import audit, roles
from shared.audit import AuditEntryOut
from shared.auth import ALL_SITES, auth, principal, require_role_at, sees_site
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_visible

api = APIBlueprint("notices", __name__, url_prefix="/v1")

ORGANIZATION_WIDE = (roles.GENERAL_MANAGER, roles.PROPERTY_MANAGER)
UNIT_KINDS = ("residence", "office", "shop", "parking", "storage")


class TargetIn(Schema):
    scope = String(required=True, validate=OneOf(rules.SCOPES))
    site_id = String(load_default=None, validate=Length(1, 36), metadata={"description": "Every scope but "
                                                                                          "organization and list."})
    building_id = String(load_default=None, validate=Length(1, 36))
    floor = Integer(load_default=None, validate=Range(-20, 300))
    unit_kind = String(load_default=None, validate=OneOf(UNIT_KINDS))
    person_ids = List(String(validate=Length(1, 36)), load_default=None, validate=Length(1, 5000))

    @validates_schema
    def _complete(self, data, **_):
        needs = {"site": ["site_id"], "building": ["site_id", "building_id"],
                 "floor": ["site_id", "building_id", "floor"], "unit_kind": ["site_id", "unit_kind"],
                 "list": ["person_ids"]}.get(data["scope"], [])
        for name in needs:
            if data.get(name) is None:
                raise ValidationError(f"Needed for the scope {data['scope']}.", field_name=name)


class TextIn(Schema):
    title = String(required=True, validate=Length(1, 200))
    body = String(required=True, validate=Length(1, 10000))


class TextsIn(Schema):
    zh_cn = Nested(TextIn, required=True, data_key="zh-CN")
    en = Nested(TextIn, load_default=None)


class NoticeIn(Schema):
    target = Nested(TargetIn, required=True)
    texts = Nested(TextsIn, required=True, metadata={"description": "zh-CN always; en for occupants reading English."})
    category = String(load_default="notices", validate=OneOf(["notices", "legal"]),
                      metadata={"description": "legal: cannot be opted out of, not held by quiet hours."})
    expires_at = UtcDateTime(load_default=None)


class AudienceIn(Schema):
    target = Nested(TargetIn, required=True)


class AudienceOut(Schema):
    count = Integer(metadata={"description": "Occupants the notice reaches if sent now."})


class ScheduleIn(Schema):
    send_at = UtcDateTime(load_default=None, metadata={"description": "Absent: now."})


class NoticeOut(Schema):
    id = String()
    site_id = String(allow_none=True)
    target = Dict()
    texts = Dict()
    category = String()
    state = String(validate=OneOf(rules.NOTICE.states))
    send_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    audience = Integer(metadata={"description": "Occupants reached: counted now before sending, as sent after."})
    created_by = String()
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)


class ReceiptsOut(Schema):
    queued = Integer()
    sent = Integer()
    delivered = Integer()
    read = Integer()
    failed = Integer()


class NoticeDetailOut(NoticeOut):
    receipts = Nested(ReceiptsOut)
    trail = List(Nested(AuditEntryOut))


class NoticeQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(rules.NOTICE.states))
    site_id = String(load_default=None, validate=Length(1, 36))


def _checked_target(target: dict) -> str | None:
    """The site the target lies in, after checking it is the caller's and the caller may notify it: a site,
    building or person of another organization is refused as unknown."""
    session, caller = db_session(), principal()
    if target["scope"] == "organization":
        require_role_at(ALL_SITES, *ORGANIZATION_WIDE)
        return None
    if target["scope"] == "list":
        require_role_at(ALL_SITES, *roles.CUSTOMER_SERVICE)
        if recipients.count_occupants(session, caller.organization_id,
                                            person_ids=target["person_ids"]) != len(set(target["person_ids"])):
            raise unprocessable("target.person_ids", "Not every person is known in this organization.")
        return None
    site = session.get(Site, target["site_id"])
    if site is None or site.organization_id != caller.organization_id or not sees_site(site.site_id):
        raise unprocessable("target.site_id", "No such site.")
    require_role_at(site.site_id, *roles.CUSTOMER_SERVICE)
    if target["building_id"] is not None and not session.scalar(select(Unit.unit_id).where(
            Unit.organization_id == caller.organization_id, Unit.site_id == site.site_id,
            Unit.building_id == target["building_id"]).limit(1)):
        raise unprocessable("target.building_id", "No units known in such a building at the site.")
    return site.site_id


def _texts(texts: dict) -> dict:
    return {"zh-CN": texts["zh_cn"], **({"en": texts["en"]} if texts.get("en") else {})}


def _visible(notice_id: str) -> Notice:
    notice = get_visible(Notice, notice_id, "notice")
    notice.receipts = rules.receipts(db_session(), notice.id)
    notice.trail = audit.trail(db_session(), chassis.audit_log, organization_id=notice.organization_id,
                               entity="notice", entity_id=notice.id)
    return notice


@api.post("/notices/audience")
@api.auth_required(auth)
@api.input(AudienceIn)
@api.output(AudienceOut)
def count_audience(json_data):
    """How many occupants a target reaches, before writing the notice."""
    site_id = _checked_target(json_data["target"])
    return {"count": len(rules.audience(db_session(), principal().organization_id, site_id, json_data["target"]))}


@api.post("/notices")
@api.auth_required(auth)
@idempotent
@api.input(NoticeIn)
@api.output(NoticeDetailOut, status_code=201)
def create_notice(json_data):
    caller = principal()
    site_id = _checked_target(json_data["target"])
    notice = rules.create(db_session(), caller.organization_id, site_id=site_id, target=json_data["target"],
                          texts=_texts(json_data["texts"]), category=json_data["category"],
                          expires_at=json_data["expires_at"], actor=caller.subject)
    db_session().flush()
    return _visible(notice.id)


@api.get("/notices")
@api.auth_required(auth)
@api.input(NoticeQuery, location="query")
@api.output(page_of(NoticeOut))
def list_notices(query_data):
    stmt = visible(Notice, query_data, ("state", "site_id"))
    return keyset_page(db_session(), stmt, (Notice.created_at, Notice.id), query_data)


@api.get("/notices/<notice_id>")
@api.auth_required(auth)
@api.output(NoticeDetailOut)
def get_notice(notice_id):
    return _visible(notice_id)


def _step(notice_id: str, action: str, **fields) -> Notice:
    notice = get_visible(Notice, notice_id, "notice")
    _checked_target(notice.target)
    rules.take(db_session(), notice, action, actor=principal().subject, **fields)
    db_session().flush()
    return _visible(notice_id)


@api.post("/notices/<notice_id>/send")
@api.auth_required(auth)
@api.input(ScheduleIn)
@api.output(NoticeDetailOut)
def send_notice(notice_id, json_data):
    """Schedule the notice (now, when `send_at` is absent): it goes out within a second of its time."""
    return _step(notice_id, "schedule", send_at=json_data["send_at"])


@api.post("/notices/<notice_id>/withdraw")
@api.auth_required(auth)
@api.output(NoticeDetailOut)
def withdraw_notice(notice_id):
    return _step(notice_id, "withdraw")


PRINTABLE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ texts['zh-CN'].title }}</title>
<style>body{font-family:serif;max-width:40em;margin:3em auto}h1{text-align:center}
.en{margin-top:3em;border-top:1px solid #999}p{white-space:pre-wrap}</style></head><body>
{% for language, text in texts.items() %}
<section class="{{ 'en' if language == 'en' else 'zh' }}" lang="{{ language }}">
<h1>{{ text.title }}</h1><p>{{ text.body }}</p></section>{% endfor %}
<footer><p>{{ issued }}{% if expires %} — {{ expires }}{% endif %}</p></footer></body></html>"""


@api.get("/notices/<notice_id>/printable")
@api.auth_required(auth)
@api.doc(responses={200: {"description": "The notice as an HTML page to print for the notice board.",
                          "content": {"text/html": {"schema": {"type": "string"}}}}})
def printable_notice(notice_id):
    notice = get_visible(Notice, notice_id, "notice")
    issued = (notice.sent_at or notice.created_at).date().isoformat()
    expires = notice.expires_at.date().isoformat() if notice.expires_at else ""
    page = render_template_string(PRINTABLE, texts=notice.texts, issued=issued, expires=expires)
    return Response(page, content_type="text/html; charset=utf-8")
