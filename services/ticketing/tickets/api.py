"""HTTP boundary of tickets (TKT-1 … TKT-3): intake, the lifecycle's steps, transfers and hand-overs,
comments and attachments, the lists; and the categories requests are routed by."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from urllib.parse import quote

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, File, Integer, List, Nested, String
from apiflask.schemas import FileSchema
from apiflask.validators import Length, OneOf, Range
from flask import Response, current_app
from marshmallow import pre_dump
from sqlalchemy import select

from services.ticketing.tickets import categories, rules
from services.ticketing.tickets.tables import Category, Ticket, TicketAttachment, TicketComment
from shared.audit import AuditEntryOut
from shared.auth import ALL_SITES, auth, principal, require_role_at, require_roles, roles_at, visible_site
from shared.fields import UtcDateTime
from shared.files import SIGNATURES, FileStore
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import Problem
from shared.roles import ALL, MANAGERS
from shared.web import db_session, get_visible

api = APIBlueprint("tickets", __name__, url_prefix="/v1")

_Id = String(required=True, validate=Length(36, 36))
_MOMENTS = Range(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
_Reason = String(load_default="", validate=Length(max=1000))


def _moment(description: str) -> AwareDateTime:
    return AwareDateTime(load_default=None, allow_none=True, validate=_MOMENTS,
                         metadata={"description": f"{description} ISO 8601 with offset."})


# -- categories --------------------------------------------------------------------------------------------


class CategoryIn(Schema):
    code = String(required=True, validate=Length(1, 60), metadata={"description": "Unique in the organization."})
    name = String(required=True, validate=Length(1, 200))
    parent_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                       metadata={"description": "Empty for a category; its category for a subcategory."})
    department = String(load_default=None, allow_none=True, validate=OneOf(categories.DEPARTMENTS),
                        metadata={"description": "Where its requests go; a subcategory defaults to its category's."})


class CategoryChangeIn(Schema):
    name = String(validate=Length(1, 200))
    department = String(validate=OneOf(categories.DEPARTMENTS))
    active = Boolean(metadata={"description": "An inactive category takes no new requests."})


class CategoryOut(Schema):
    id = String()
    parent_id = String(allow_none=True)
    code = String()
    name = String()
    department = String(metadata={"enum": list(categories.DEPARTMENTS)})
    active = Boolean()
    updated_by = String()
    updated_at = UtcDateTime()


class CategoryQuery(PageQuery):
    parent_id = String(load_default=None, validate=Length(36, 36),
                       metadata={"description": "The subcategories of this category."})
    active = Boolean(load_default=None)


@api.post("/ticket-categories")
@api.auth_required(auth)
@idempotent
@api.input(CategoryIn)
@api.output(CategoryOut, status_code=201)
def create_category(json_data):
    """Managers define the organization's categories (manager roles held at every site)."""
    caller = require_roles(*MANAGERS)
    return categories.create(db_session(), caller.organization_id, actor=caller.subject, **json_data)


@api.get("/ticket-categories")
@api.auth_required(auth)
@api.input(CategoryQuery, location="query")
@api.output(page_of(CategoryOut))
def list_categories(query_data):
    """The organization's categories; an organization starts with the defaults."""
    organization_id = principal().organization_id
    categories.ensure_defaults(db_session(), organization_id)
    stmt = select(Category).where(Category.organization_id == organization_id)
    if query_data["parent_id"]:
        stmt = stmt.where(Category.parent_id == query_data["parent_id"])
    if query_data["active"] is not None:
        stmt = stmt.where(Category.active == query_data["active"])
    return keyset_page(db_session(), stmt, (Category.code, Category.id), query_data)


@api.get("/ticket-categories/<category_id>")
@api.auth_required(auth)
@api.output(CategoryOut)
def get_category(category_id):
    return get_visible(Category, category_id, "category")


@api.patch("/ticket-categories/<category_id>")
@api.auth_required(auth)
@api.input(CategoryChangeIn)
@api.output(CategoryOut)
def change_category(category_id, json_data):
    """Rename, re-route or deactivate; tickets already routed keep their department."""
    caller = require_roles(*MANAGERS)
    category = get_visible(Category, category_id, "category")
    return categories.change(db_session(), category, actor=caller.subject, **json_data)


# -- tickets: input ----------------------------------------------------------------------------------------


class TicketIn(Schema):
    site_id = _Id
    type = String(required=True, validate=OneOf(rules.TYPES))
    channel = String(required=True, validate=OneOf(rules.CHANNELS), metadata={"description": "How it came in (X-5)."})
    subject = String(required=True, validate=Length(1, 200))
    description = String(load_default="", validate=Length(max=4000))
    reporter_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                         metadata={"description": "A person occupants knows (GET /v1/reporters/{id})."})
    contact_name = String(load_default="", validate=Length(max=200))
    contact_phone = String(load_default="", validate=Length(max=40))
    unit_id = String(load_default=None, allow_none=True, validate=Length(36, 36))
    category_id = String(load_default=None, allow_none=True, validate=Length(36, 36),
                         metadata={"description": "Routes it to the category's department."})
    tier = String(load_default=None, allow_none=True, validate=OneOf(rules.TIERS),
                  metadata={"description": "Complaints: 重大 major, 重要 important, 轻微 minor."})
    emergency = Boolean(load_default=False, metadata={"description": "Repairs only."})
    anonymous = Boolean(load_default=False, metadata={
        "description": "Complaints only: the identity is kept but shown to customer service at the site only."})
    location = String(load_default=None, allow_none=True, validate=OneOf(rules.LOCATIONS),
                      metadata={"description": "Repairs (required): in the unit or in a public area."})
    place = String(load_default="", validate=Length(max=200), metadata={"description": "Where exactly."})
    about_department = String(load_default=None, allow_none=True, validate=OneOf(categories.DEPARTMENTS),
                              metadata={"description": "Internal complaints (required): the department."})
    source_reference = String(load_default="", validate=Length(max=100),
                              metadata={"description": "What a rectification or patrol finding comes from."})
    promised_reply_at = _moment("Inquiries (required): the reply time promised, in the future.")
    requested_resolution_at = _moment("The deadline the complainant asked for, if any.")


class TransitionIn(Schema):
    action = String(required=True, validate=OneOf(rules.PLAIN_ACTIONS))
    reason = _Reason
    assignee_id = String(load_default=None, allow_none=True, validate=Length(1, 200),
                         metadata={"description": "dispatch: who does the work."})


class ClassificationIn(Schema):
    category_id = _Id
    type = String(load_default=None, allow_none=True, validate=OneOf(rules.TYPES),
                  metadata={"description": "Default: unchanged."})
    tier = String(load_default=None, allow_none=True, validate=OneOf(rules.TIERS),
                  metadata={"description": "Complaints (required)."})
    reason = _Reason


class ClosureIn(Schema):
    acceptance = String(load_default=None, allow_none=True, validate=OneOf(rules.ACCEPTANCES),
                        metadata={"description": "The occupant's acceptance: signature, or confirmation recorded "
                                                 "on the phone. Without it only an anonymous complaint or "
                                                 "`unreachable` closes, with a reason."})
    acceptance_reference = String(load_default="", validate=Length(max=200),
                                  metadata={"description": "The signed sheet's or the recording's reference."})
    rating = Integer(load_default=None, allow_none=True, validate=Range(1, 5),
                     metadata={"description": "Satisfaction, 1 (very unsatisfied) … 5 (very satisfied)."})
    unreachable = Boolean(load_default=False, metadata={"description": "The occupant could not be reached."})
    reason = _Reason


class TransferIn(Schema):
    department = String(required=True, validate=OneOf(categories.DEPARTMENTS))
    reason = _Reason


class HandOverIn(Schema):
    owner_id = String(required=True, validate=Length(1, 200), metadata={"description": "The new owner's user id."})
    reason = String(load_default="", validate=Length(max=1000), metadata={"description": "Required."})


class CommentIn(Schema):
    body = String(required=True, validate=Length(1, 4000))
    visibility = String(load_default="internal", validate=OneOf(rules.VISIBILITIES))


class AttachmentIn(Schema):
    file = File(required=True, metadata={"description": "PDF or image; FILE_MAX_BYTES and FILE_ALLOWED_TYPES apply."})


class TicketQuery(PageQuery):
    site_id = String(load_default=None, validate=Length(36, 36))
    state = String(load_default=None, validate=OneOf(rules.TICKET.states))
    type = String(load_default=None, validate=OneOf(rules.TYPES))
    owner_id = String(load_default=None, validate=Length(1, 200))
    department = String(load_default=None, validate=OneOf(categories.DEPARTMENTS))
    number = String(load_default=None, validate=Length(1, 40))


class CommentQuery(PageQuery):
    visibility = String(load_default=None, validate=OneOf(rules.VISIBILITIES))


# -- tickets: output ---------------------------------------------------------------------------------------


class TicketSummaryOut(Schema):
    id = String()
    site_id = String()
    number = String(metadata={"description": "The register entry's and the handling notice's number."})
    type = String(metadata={"enum": list(rules.TYPES)})
    tier = String(allow_none=True)
    emergency = Boolean()
    state = String(metadata={"enum": rules.TICKET.states})
    channel = String()
    category_id = String(allow_none=True)
    department = String()
    owner_id = String(metadata={"description": "The first receiver, who owns the customer contact (首问责任人)."})
    assignee_id = String(allow_none=True)
    anonymous = Boolean()
    reporter_id = String(allow_none=True, metadata={"description": "Null for an anonymous complaint unless the "
                                                                   "caller is in customer service at the site."})
    contact_name = String(allow_none=True)
    contact_phone = String(allow_none=True)
    unit_id = String(allow_none=True)
    location = String(allow_none=True)
    place = String()
    about_department = String(allow_none=True)
    source_reference = String()
    subject = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    promised_reply_at = UtcDateTime(allow_none=True)
    requested_resolution_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)

    @pre_dump
    def _shown(self, ticket, **kwargs):
        """An anonymous complainant's identity is shown to customer service at the ticket's site only."""
        shown = {column.key: getattr(ticket, column.key) for column in Ticket.__table__.columns}
        if not rules.shows_identity(ticket, roles_at(ticket.site_id)):
            shown.update(reporter_id=None, contact_name=None, contact_phone=None)
        return SimpleNamespace(**shown, **self._more(ticket))

    def _more(self, ticket) -> dict:
        return {}


class TicketOut(TicketSummaryOut):
    description = String()
    acceptance = String()
    acceptance_reference = String()
    rating = Integer(allow_none=True)
    close_reason = String()
    allowed_actions = List(String(), metadata={"description": "The steps the ticket's state allows."})
    history = List(Nested(AuditEntryOut), metadata={"description": "The audit trail, oldest first."})

    def _more(self, ticket) -> dict:
        return {"allowed_actions": rules.TICKET.allowed(ticket.state), "history": rules.history(db_session(), ticket)}


class CommentOut(Schema):
    id = String()
    ticket_id = String()
    visibility = String()
    body = String()
    author = String()
    created_at = UtcDateTime()


class AttachmentOut(Schema):
    id = String()
    ticket_id = String()
    filename = String()
    content_type = String()
    size_bytes = Integer()
    sha256 = String()
    uploaded_by = String()
    uploaded_at = UtcDateTime()


# -- tickets: views ----------------------------------------------------------------------------------------


def _ticket(ticket_id: str) -> Ticket:
    return get_visible(Ticket, ticket_id, "ticket")


def _store() -> FileStore:
    return FileStore.from_settings(current_app.extensions["psp"].settings)


@api.post("/tickets")
@api.auth_required(auth)
@idempotent
@api.input(TicketIn)
@api.output(TicketOut, status_code=201)
def register(json_data):
    """Intake: whoever registers it owns the customer contact until closure. Customer service registers it;
    other staff record it for customer service (state `received`)."""
    caller = principal()
    site_id = visible_site(json_data.pop("site_id"))
    roles = require_role_at(site_id, *ALL)
    return rules.register(db_session(), organization_id=caller.organization_id, site_id=site_id,
                          actor=caller.subject, roles=roles, **json_data)


@api.get("/tickets")
@api.auth_required(auth)
@api.input(TicketQuery, location="query")
@api.output(page_of(TicketSummaryOut))
def list_tickets(query_data):
    """The tickets at the sites the caller sees, oldest first."""
    caller = principal()
    stmt = select(Ticket).where(Ticket.organization_id == caller.organization_id)
    if query_data["site_id"]:
        stmt = stmt.where(Ticket.site_id == visible_site(query_data["site_id"]))
    elif ALL_SITES not in caller.sites:
        stmt = stmt.where(Ticket.site_id.in_(caller.sites | set(caller.site_roles)))
    for name in ("state", "type", "owner_id", "department", "number"):
        if query_data[name]:
            stmt = stmt.where(getattr(Ticket, name) == query_data[name])
    return keyset_page(db_session(), stmt, (Ticket.created_at, Ticket.id), query_data)


@api.get("/tickets/<ticket_id>")
@api.auth_required(auth)
@api.output(TicketOut)
def get_ticket(ticket_id):
    return _ticket(ticket_id)


@api.post("/tickets/<ticket_id>/transitions")
@api.auth_required(auth)
@api.input(TransitionIn)
@api.output(TicketOut)
@api.doc(description="```mermaid\n" + rules.TICKET.mermaid() + "\n```")
def transition(ticket_id, json_data):
    """A lifecycle step; one the state does not allow answers 409 naming the allowed ones."""
    return _step(ticket_id, rules.take, json_data)


@api.post("/tickets/<ticket_id>/classification")
@api.auth_required(auth)
@api.input(ClassificationIn)
@api.output(TicketOut)
def classify(ticket_id, json_data):
    """Classify a registered ticket, or re-classify an open one (its deadlines follow)."""
    return _step(ticket_id, rules.classify, json_data)


@api.post("/tickets/<ticket_id>/closure")
@api.auth_required(auth)
@api.input(ClosureIn)
@api.output(TicketOut)
def close(ticket_id, json_data):
    return _step(ticket_id, rules.close, json_data)


@api.post("/tickets/<ticket_id>/transfer")
@api.auth_required(auth)
@api.input(TransferIn)
@api.output(TicketOut)
def transfer(ticket_id, json_data):
    """Another department becomes responsible; the owner stays."""
    return _step(ticket_id, rules.transfer, json_data)


@api.post("/tickets/<ticket_id>/owner")
@api.auth_required(auth)
@api.input(HandOverIn)
@api.output(TicketOut)
def hand_over(ticket_id, json_data):
    """The customer contact handed over explicitly, with a reason."""
    return _step(ticket_id, rules.hand_over, json_data)


def _step(ticket_id: str, take, fields: dict) -> Ticket:
    """The caller must hold a staff role at the ticket's site; the rules decide which."""
    ticket = _ticket(ticket_id)
    roles = require_role_at(ticket.site_id, *ALL)
    take(db_session(), ticket, actor=principal().subject, roles=roles, **fields)
    return ticket


@api.post("/tickets/<ticket_id>/comments")
@api.auth_required(auth)
@idempotent
@api.input(CommentIn)
@api.output(CommentOut, status_code=201)
def add_comment(ticket_id, json_data):
    ticket = _ticket(ticket_id)
    require_role_at(ticket.site_id, *ALL)
    return rules.comment(db_session(), ticket, actor=principal().subject, **json_data)


@api.get("/tickets/<ticket_id>/comments")
@api.auth_required(auth)
@api.input(CommentQuery, location="query")
@api.output(page_of(CommentOut))
def list_comments(ticket_id, query_data):
    stmt = select(TicketComment).where(TicketComment.ticket_id == _ticket(ticket_id).id)
    if query_data["visibility"]:
        stmt = stmt.where(TicketComment.visibility == query_data["visibility"])
    return keyset_page(db_session(), stmt, (TicketComment.created_at, TicketComment.id), query_data)


@api.post("/tickets/<ticket_id>/attachments")
@api.auth_required(auth)
@idempotent
@api.input(AttachmentIn, location="form_and_files")
@api.output(AttachmentOut, status_code=201)
def add_attachment(ticket_id, form_and_files_data):
    """A photo or document (TKT-8: photos at intake), kept in the file store."""
    ticket = _ticket(ticket_id)
    require_role_at(ticket.site_id, *ALL)
    upload = form_and_files_data["file"]
    filename = upload.filename or "attachment"
    if len(filename) > 200:
        raise Problem(422, "Unprocessable Content", "The file name is longer than 200 characters.", field="file")
    store = _store()
    content = store.read_upload(upload.stream, upload.mimetype or "", field="file")
    return rules.attach(db_session(), store, ticket, actor=principal().subject, filename=filename,
                        content_type=upload.mimetype.lower(), content=content)


@api.get("/tickets/<ticket_id>/attachments")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(AttachmentOut))
def list_attachments(ticket_id, query_data):
    stmt = select(TicketAttachment).where(TicketAttachment.ticket_id == _ticket(ticket_id).id)
    return keyset_page(db_session(), stmt, (TicketAttachment.uploaded_at, TicketAttachment.id), query_data)


@api.get("/ticket-attachments/<attachment_id>/file")
@api.auth_required(auth)
@api.output(FileSchema, content_type="application/octet-stream", status_code=200,
            description="The file as uploaded, in its own media type.")
@api.doc(responses={200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SIGNATURES}}})
def download_attachment(attachment_id):
    attachment = get_visible(TicketAttachment, attachment_id, "attachment")
    _ticket(attachment.ticket_id)
    return Response(_store().get(attachment.storage_key), mimetype=attachment.content_type, headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.filename, safe='')}",
        "Cache-Control": "no-store",
    })
