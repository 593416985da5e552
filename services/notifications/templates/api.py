"""HTTP boundary of templates (NTF-2): every version of an organization's templates, new versions checked
against the kind's sample data, and a preview of any text with sample data before it is saved."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, String
from apiflask.validators import Length, OneOf

from services.notifications.listing import visible
from services.notifications.templates import rules
from services.notifications.templates.catalogue import KINDS, LANGUAGES, sample
from services.notifications.templates.tables import Template
from shared import roles
from shared.auth import auth, principal, require_roles
from shared.fields import UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session

api = APIBlueprint("templates", __name__, url_prefix="/v1")

EDITORS = (roles.GENERAL_MANAGER, roles.PROPERTY_MANAGER, roles.SITE_MANAGER, roles.CS_SUPERVISOR)
_Kind = String(required=True, validate=OneOf(KINDS))
_Language = String(required=True, validate=OneOf(LANGUAGES))
_JINJA = "Jinja2, rendered in a sandbox; a name the data lacks is an error, not an empty string."


class TemplateIn(Schema):
    kind = _Kind
    language = _Language
    subject = String(required=True, validate=Length(1, 2000), metadata={"description": _JINJA})
    body = String(required=True, validate=Length(1, 20000), metadata={"description": _JINJA})


class TemplateOut(Schema):
    id = String()
    kind = String()
    language = String()
    version = Integer()
    subject = String()
    body = String()
    created_by = String()
    created_at = UtcDateTime()


class TemplateQuery(PageQuery):
    kind = String(load_default=None, validate=OneOf(KINDS))
    language = String(load_default=None, validate=OneOf(LANGUAGES))


class PreviewIn(Schema):
    kind = _Kind
    language = _Language
    subject = String(load_default=None, validate=Length(1, 2000),
                     metadata={"description": "Text to try; absent: the version in force."})
    body = String(load_default=None, validate=Length(1, 20000))
    data = Dict(load_default=dict, metadata={"description": "Values laid over the kind's sample data."})


class PreviewOut(Schema):
    kind = String()
    language = String()
    version = Integer(allow_none=True, metadata={"description": "The version previewed; null for text given."})
    subject = String()
    body = String()
    data = Dict()


@api.get("/templates")
@api.auth_required(auth)
@api.input(TemplateQuery, location="query")
@api.output(page_of(TemplateOut))
def list_templates(query_data):
    stmt = visible(Template, query_data, ("kind", "language"))
    return keyset_page(db_session(), stmt, (Template.kind, Template.language, Template.version), query_data)


@api.post("/templates")
@api.auth_required(auth)
@idempotent
@api.input(TemplateIn)
@api.output(TemplateOut, status_code=201)
def add_template_version(json_data):
    """A new version of the kind's template in the language; it is used from now on."""
    caller = require_roles(*EDITORS)
    return rules.add_version(db_session(), caller.organization_id, actor=caller.subject, **json_data)


@api.post("/templates/preview")
@api.auth_required(auth)
@api.input(PreviewIn)
@api.output(PreviewOut)
def preview_template(json_data):
    kind, language = json_data["kind"], json_data["language"]
    data = {**sample(kind), **json_data["data"]}
    version = None
    if json_data["subject"] is None or json_data["body"] is None:
        current = rules.current(db_session(), principal().organization_id, kind, language)
        version = current.version
        json_data["subject"] = json_data["subject"] or current.subject
        json_data["body"] = json_data["body"] or current.body
    rendered = rules.check(json_data["subject"], json_data["body"], data)
    return {"kind": kind, "language": language, "version": version, "subject": rendered.subject,
            "body": rendered.body, "data": data}
