"""HTTP boundary of owner archives (OCC-7): documents and the information form in, reads under an approved
access request out, voiding on approval, the registration log and the archives due for disposal."""

from __future__ import annotations

from urllib.parse import quote

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, File, Integer, List, Nested, String
from apiflask.schemas import FileSchema
from apiflask.validators import Length, OneOf
from flask import Response, current_app
from marshmallow.validate import Email
from sqlalchemy import select

from shared import roles as r
from services.occupants.archives import rules
from services.occupants.archives.tables import (
    AccessRequest, ArchiveDocument, ArchiveRead, InformationForm, OwnerArchive, VoidRequest,
)
from services.occupants.models import utcnow
from services.occupants.people.tables import Person
from services.occupants.places.api import site_row
from services.occupants.places.tables import Unit
from shared.auth import auth, principal, require_role_at, roles_at
from shared.files import SIGNATURES, FileStore
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import Problem
from shared.web import db_session, get_visible

api = APIBlueprint("archives", __name__, url_prefix="/v1")

_Id = String(required=True, validate=Length(36, 36))
_Reason = String(load_default="", validate=Length(max=1000))


class ArchiveIn(Schema):
    unit_id = _Id
    person_id = _Id


class ArchiveOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    state = String(metadata={"enum": ["current", "set_aside"]})
    classification = String(metadata={"description": "Always `top_secret` (绝密)."})
    set_aside_on = Date(allow_none=True)
    retain_until = Date(allow_none=True, metadata={"description": "Empty: kept permanently."})
    opened_by = String()
    opened_at = DateTime()


class ArchiveQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(("current", "set_aside")))
    unit_id = String(load_default=None, validate=Length(max=36))


class DisposalQuery(PageQuery):
    on = Date(load_default=None, metadata={"description": "Due by this day; default today (UTC)."})


class UploadIn(Schema):
    file = File(required=True, metadata={"description": "PDF or image; FILE_MAX_BYTES and FILE_ALLOWED_TYPES apply."})
    kind = String(required=True, validate=OneOf(rules.DOCUMENT_KINDS))
    title = String(required=True, validate=Length(1, 200))


class DocumentOut(Schema):
    id = String()
    archive_id = String()
    kind = String()
    title = String()
    filename = String()
    content_type = String()
    size_bytes = Integer()
    sha256 = String()
    state = String(metadata={"enum": ["kept", "void"]})
    void_reason = String()
    voided_at = DateTime(allow_none=True)
    uploaded_by = String()
    uploaded_at = DateTime()


class InformationFormData(Schema):
    """The owner information form (业主信息表)."""

    full_name = String(required=True, validate=Length(1, 200))
    phone = String(load_default="", validate=Length(max=40))
    email = String(load_default="", validate=[Length(max=200), Email(error="Not a valid e-mail address.")])
    mailing_address = String(load_default="", validate=Length(max=500))
    employer = String(load_default="", validate=Length(max=200))
    emergency_contact_name = String(load_default="", validate=Length(max=200))
    emergency_contact_phone = String(load_default="", validate=Length(max=40))
    household_members = List(String(validate=Length(1, 200)), load_default=list, validate=Length(max=20))
    vehicle_plates = List(String(validate=Length(1, 20)), load_default=list, validate=Length(max=10))
    notes = String(load_default="", validate=Length(max=2000))


class InformationFormIn(Schema):
    data = Nested(InformationFormData, required=True)
    reason = _Reason


class InformationFormOut(Schema):
    id = String()
    archive_id = String()
    version = Integer()
    data = Nested(InformationFormData)
    reason = String()
    recorded_by = String()
    recorded_at = DateTime()


class AccessRequestIn(Schema):
    mode = String(required=True, validate=OneOf(rules.MODES),
                  metadata={"description": "`copy` covers viewing too."})
    purpose = String(required=True, validate=Length(1, 1000))
    document_ids = List(String(validate=Length(36, 36)), load_default=list, validate=Length(max=100))
    information_form = Boolean(load_default=False, truthy={True}, falsy={False})


class _Decided(Schema):
    id = String()
    state = String()
    requested_by = String()
    requested_at = DateTime()
    decided_by = String(allow_none=True)
    decided_at = DateTime(allow_none=True)
    decision_reason = String()
    allowed = List(String(), metadata={"description": "The steps allowed from `state`."})


class AccessRequestOut(_Decided):
    archive_id = String()
    site_id = String()
    mode = String()
    purpose = String()
    document_ids = List(String())
    information_form = Boolean()
    expires_at = DateTime(allow_none=True)
    live = Boolean(metadata={"description": "Approved and its window still open."})


class AccessStepIn(Schema):
    action = String(required=True, validate=OneOf(rules.ACCESS.actions))
    reason = _Reason


class AccessRequestQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(rules.ACCESS.states))
    archive_id = String(load_default=None, validate=Length(max=36))


class VoidIn(Schema):
    reason = String(required=True, validate=Length(1, 1000))


class VoidOut(_Decided):
    document_id = String()
    site_id = String()
    reason = String()


class VoidStepIn(Schema):
    action = String(required=True, validate=OneOf(rules.VOIDING.actions))
    reason = _Reason


class VoidQuery(PageQuery):
    state = String(load_default=None, validate=OneOf(rules.VOIDING.states))


class ReadOut(Schema):
    id = Integer()
    archive_id = String()
    access_request_id = String()
    reader = String()
    read_at = DateTime()
    what = String(metadata={"enum": list(rules.READS)})
    document_id = String(allow_none=True)
    mode = String()


class ReadQuery(PageQuery):
    archive_id = String(load_default=None, validate=Length(max=36))


class DownloadQuery(Schema):
    mode = String(load_default="view", validate=OneOf(rules.MODES),
                  metadata={"description": "`view` shows the file inline, `copy` hands it over as an attachment."})


def _store() -> FileStore:
    return FileStore.from_settings(current_app.extensions["psp"].settings)


def _referenced(model, row_id: str, what: str, field: str):
    """A record named in the request body: 404 naming the field if the caller cannot see it."""
    try:
        return get_visible(model, row_id, what)
    except Problem:
        raise Problem(404, "Not Found", f"No such {what}.", field=field) from None


def _archive(archive_id: str, *roles: str) -> OwnerArchive:
    archive = get_visible(OwnerArchive, archive_id, "archive")
    require_role_at(archive.site_id, *roles)
    return archive


def _site(site_id: str, *roles: str) -> str:
    site = site_row(site_id)
    require_role_at(site.id, *roles)
    return site.id


def _decided(request, workflow, **fields) -> dict:
    out = {column.key: getattr(request, column.key) for column in request.__table__.columns}
    return {**out, "allowed": workflow.allowed(request.state), **fields}


def _access_out(request: AccessRequest) -> dict:
    return _decided(request, rules.ACCESS, live=rules.is_live(request, utcnow()))


@api.post("/archives")
@api.auth_required(auth)
@idempotent
@api.input(ArchiveIn)
@api.output(ArchiveOut, status_code=201)
def open_archive(json_data):
    unit = _referenced(Unit, json_data["unit_id"], "unit", "unit_id")
    person = _referenced(Person, json_data["person_id"], "person", "person_id")
    require_role_at(unit.site_id, *r.CUSTOMER_SERVICE)
    return rules.open_archive(db_session(), organization_id=unit.organization_id, site_id=unit.site_id,
                              unit_id=unit.id, person_id=person.id, actor=principal().subject)


@api.get("/archives/<archive_id>")
@api.auth_required(auth)
@api.output(ArchiveOut)
def get_archive(archive_id):
    """The archive's record, not its contents: those need an approved access request."""
    return _archive(archive_id, *r.CUSTOMER_SERVICE)


@api.get("/sites/<site_id>/archives")
@api.auth_required(auth)
@api.input(ArchiveQuery, location="query")
@api.output(page_of(ArchiveOut))
def list_archives(site_id, query_data):
    stmt = select(OwnerArchive).where(OwnerArchive.site_id == _site(site_id, *r.CUSTOMER_SERVICE))
    if query_data["state"]:
        stmt = stmt.where(OwnerArchive.state == query_data["state"])
    if query_data["unit_id"]:
        stmt = stmt.where(OwnerArchive.unit_id == query_data["unit_id"])
    return keyset_page(db_session(), stmt, (OwnerArchive.id,), query_data)


@api.get("/sites/<site_id>/archives/due-for-disposal")
@api.auth_required(auth)
@api.input(DisposalQuery, location="query")
@api.output(page_of(ArchiveOut))
def archives_due_for_disposal(site_id, query_data):
    """Former owners' archives whose retention period has run out (OCC-5)."""
    stmt = rules.due_for_disposal(_site(site_id, *r.MANAGERS), query_data["on"] or utcnow().date())
    return keyset_page(db_session(), stmt, (OwnerArchive.id,), query_data)


@api.post("/archives/<archive_id>/documents")
@api.auth_required(auth)
@idempotent
@api.input(UploadIn, location="form_and_files")
@api.output(DocumentOut, status_code=201)
def upload_document(archive_id, form_and_files_data):
    archive = _archive(archive_id, *r.CUSTOMER_SERVICE)
    upload = form_and_files_data["file"]
    filename = upload.filename or "document"
    if len(filename) > 200:
        raise Problem(422, "Unprocessable Content", "The file name is longer than 200 characters.", field="file")
    store = _store()
    content = store.read_upload(upload.stream, upload.mimetype or "", field="file")
    return rules.add_document(db_session(), store, archive, kind=form_and_files_data["kind"],
                              title=form_and_files_data["title"], filename=filename,
                              content_type=upload.mimetype.lower(), content=content, actor=principal().subject)


@api.get("/archives/<archive_id>/documents")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(DocumentOut))
def list_documents(archive_id, query_data):
    """The archive's contents: a read, logged, under the caller's open approval."""
    archive = _archive(archive_id, *r.CUSTOMER_SERVICE)
    rules.read(db_session(), archive, reader=principal().subject, what="contents")
    stmt = select(ArchiveDocument).where(ArchiveDocument.archive_id == archive.id)
    return keyset_page(db_session(), stmt, (ArchiveDocument.id,), query_data)


@api.get("/archive-documents/<document_id>/file")
@api.auth_required(auth)
@api.input(DownloadQuery, location="query")
@api.output(FileSchema, content_type="application/octet-stream", status_code=200,
            description="The file as uploaded, in its own media type.")
@api.doc(responses={200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SIGNATURES}}})
def download_document(document_id, query_data):
    """A file: a read, logged, under the caller's open approval that covers this document (and copying,
    for `mode=copy`)."""
    document = get_visible(ArchiveDocument, document_id, "document")
    archive = _archive(document.archive_id, *r.CUSTOMER_SERVICE)
    mode = query_data["mode"]
    rules.read(db_session(), archive, reader=principal().subject, what="document", mode=mode,
               document_id=document.id)
    disposition = "attachment" if mode == "copy" else "inline"
    return Response(_store().get(document.storage_key), mimetype=document.content_type, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(document.filename, safe='')}",
        "Cache-Control": "no-store",
    })


@api.post("/archives/<archive_id>/information-forms")
@api.auth_required(auth)
@idempotent
@api.input(InformationFormIn)
@api.output(InformationFormOut, status_code=201)
def record_information_form(archive_id, json_data):
    """A new version of the owner information form; the earlier ones stay."""
    archive = _archive(archive_id, *r.CUSTOMER_SERVICE)
    return rules.record_information_form(db_session(), archive, data=json_data["data"], reason=json_data["reason"],
                                         actor=principal().subject)


@api.get("/archives/<archive_id>/information-forms")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(InformationFormOut))
def list_information_forms(archive_id, query_data):
    """Every version, oldest first: a read, logged, under an open approval that covers the form."""
    archive = _archive(archive_id, *r.CUSTOMER_SERVICE)
    rules.read(db_session(), archive, reader=principal().subject, what="information_form")
    stmt = select(InformationForm).where(InformationForm.archive_id == archive.id)
    return keyset_page(db_session(), stmt, (InformationForm.version, InformationForm.id), query_data)


@api.post("/archives/<archive_id>/access-requests")
@api.auth_required(auth)
@idempotent
@api.input(AccessRequestIn)
@api.output(AccessRequestOut, status_code=201)
def request_access(archive_id, json_data):
    """Register who wants to view or copy what, and why; the site manager approves or refuses."""
    archive = _archive(archive_id, *r.CUSTOMER_SERVICE)
    return _access_out(rules.request_access(db_session(), archive, actor=principal().subject, **json_data))


@api.get("/archive-access-requests/<request_id>")
@api.auth_required(auth)
@api.output(AccessRequestOut)
def get_access_request(request_id):
    request = get_visible(AccessRequest, request_id, "access request")
    require_role_at(request.site_id, *r.CUSTOMER_SERVICE)
    return _access_out(request)


@api.get("/sites/<site_id>/archive-access-requests")
@api.auth_required(auth)
@api.input(AccessRequestQuery, location="query")
@api.output(page_of(AccessRequestOut))
def list_access_requests(site_id, query_data):
    stmt = select(AccessRequest).where(AccessRequest.site_id == _site(site_id, *r.CUSTOMER_SERVICE))
    if query_data["state"]:
        stmt = stmt.where(AccessRequest.state == query_data["state"])
    if query_data["archive_id"]:
        stmt = stmt.where(AccessRequest.archive_id == query_data["archive_id"])
    page = keyset_page(db_session(), stmt, (AccessRequest.id,), query_data)
    return {**page, "items": [_access_out(item) for item in page["items"]]}


@api.post("/archive-access-requests/<request_id>/steps")
@api.auth_required(auth)
@api.input(AccessStepIn)
@api.output(AccessRequestOut)
@api.doc(description="```mermaid\n" + rules.ACCESS.mermaid() + "\n```")
def step_access_request(request_id, json_data):
    """Approve (opening the site's `archive.access_hours` for the requester to read in) or refuse: the site manager at
    the archive's site; withdraw: who asked; revoke an approval: the site manager."""
    request = get_visible(AccessRequest, request_id, "access request")
    rules.decide_access(db_session(), request, action=json_data["action"], reason=json_data["reason"],
                        actor=principal().subject, roles=roles_at(request.site_id))
    return _access_out(request)


@api.post("/archive-documents/<document_id>/void-requests")
@api.auth_required(auth)
@idempotent
@api.input(VoidIn)
@api.output(VoidOut, status_code=201)
def request_void(document_id, json_data):
    document = get_visible(ArchiveDocument, document_id, "document")
    require_role_at(document.site_id, *r.CUSTOMER_SERVICE)
    request = rules.request_void(db_session(), document, reason=json_data["reason"], actor=principal().subject)
    return _decided(request, rules.VOIDING)


@api.get("/archive-void-requests/<request_id>")
@api.auth_required(auth)
@api.output(VoidOut)
def get_void_request(request_id):
    request = get_visible(VoidRequest, request_id, "void request")
    require_role_at(request.site_id, *r.CUSTOMER_SERVICE)
    return _decided(request, rules.VOIDING)


@api.get("/sites/<site_id>/archive-void-requests")
@api.auth_required(auth)
@api.input(VoidQuery, location="query")
@api.output(page_of(VoidOut))
def list_void_requests(site_id, query_data):
    stmt = select(VoidRequest).where(VoidRequest.site_id == _site(site_id, *r.CUSTOMER_SERVICE))
    if query_data["state"]:
        stmt = stmt.where(VoidRequest.state == query_data["state"])
    page = keyset_page(db_session(), stmt, (VoidRequest.id,), query_data)
    return {**page, "items": [_decided(item, rules.VOIDING) for item in page["items"]]}


@api.post("/archive-void-requests/<request_id>/steps")
@api.auth_required(auth)
@api.input(VoidStepIn)
@api.output(VoidOut)
@api.doc(description="```mermaid\n" + rules.VOIDING.mermaid() + "\n```")
def step_void_request(request_id, json_data):
    """Approve (the document is marked void; its file is kept) or refuse: the site manager at the archive's
    site; withdraw: who asked."""
    request = get_visible(VoidRequest, request_id, "void request")
    rules.decide_void(db_session(), request, action=json_data["action"], reason=json_data["reason"],
                      actor=principal().subject, roles=roles_at(request.site_id))
    return _decided(request, rules.VOIDING)


@api.get("/sites/<site_id>/archive-reads")
@api.auth_required(auth)
@api.input(ReadQuery, location="query")
@api.output(page_of(ReadOut))
def list_reads(site_id, query_data):
    """The registration log of every read of the site's owner archives, oldest first."""
    stmt = select(ArchiveRead).where(ArchiveRead.site_id == _site(site_id, *r.MANAGERS))
    if query_data["archive_id"]:
        stmt = stmt.where(ArchiveRead.archive_id == query_data["archive_id"])
    return keyset_page(db_session(), stmt, (ArchiveRead.id,), query_data)
