"""Rules for owner archives (OCC-7) and their side of ownership transfer (OCC-5). Plain functions over a
session; no Flask.

An owner archive is top secret (绝密): reading it (its list of contents, a file, the information form) needs an
access request the site manager approved (查阅/复印须报管理处经理批准) and that registration entry (登记手续) of
who, when, why and what; every read is logged against it. Voiding a document (剔除作废) needs approval too.
A current owner's archive is kept permanently; a former owner's is kept apart for a retention period after
the transfer (另置保管, 3 years by default), then may be disposed of.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import roles as r
from services.occupants.archives import events
from services.occupants.archives.tables import (
    AccessRequest, ArchiveDocument, ArchiveRead, InformationForm, OwnerArchive, VoidRequest,
)
from services.occupants.models import chassis, new_id, utcnow
from shared import audit, policy
from shared.bus.outbox import record as publish
from shared.files import FileStore
from shared.problems import Problem
from shared.workflow import Step, Workflow

DOCUMENT_KINDS = ("id_copy", "agreement", "information_form_scan", "inspection", "decoration",
                  "authority_letter", "other")
TOP_SECRET = "top_secret"
MODES = ("view", "copy")
READS = ("contents", "document", "information_form")
# 管理处经理 approves; the general manager may wherever they hold that role.
APPROVERS = (r.SITE_MANAGER, r.GENERAL_MANAGER)

ACCESS = Workflow("archive access request", "requested", [
    Step("requested", "approve", "approved", roles=APPROVERS),
    Step("requested", "refuse", "refused", roles=APPROVERS),
    Step("requested", "withdraw", "withdrawn", roles=r.CUSTOMER_SERVICE),
    Step("approved", "revoke", "revoked", roles=APPROVERS),
], final=("refused", "withdrawn", "revoked"))

ACCESS_HOURS = policy.define(
    "archive.access_hours", 24, "Hours a site manager's approval to view or copy an owner archive stays open.")
RETENTION_YEARS = policy.define(
    "archive.former_owner_retention_years", 3,
    "Years a former owner's archive is kept apart after an ownership transfer before it may be disposed of.")

VOIDING = Workflow("document void request", "requested", [
    Step("requested", "approve", "approved", roles=APPROVERS),
    Step("requested", "refuse", "refused", roles=APPROVERS),
    Step("requested", "withdraw", "withdrawn", roles=r.CUSTOMER_SERVICE),
], final=("approved", "refused", "withdrawn"))


def _audit(session: Session, row, entity: str, action: str, actor: str, *, from_state: str | None = None,
           to_state: str | None = None, reason: str = "", data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, row, entity=entity, action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)


def _archive_of(session: Session, organization_id: str, unit_id: str, person_id: str) -> OwnerArchive | None:
    return session.scalar(select(OwnerArchive).where(
        OwnerArchive.organization_id == organization_id, OwnerArchive.unit_id == unit_id,
        OwnerArchive.person_id == person_id))


def open_archive(session: Session, *, organization_id: str, site_id: str, unit_id: str, person_id: str,
                 actor: str) -> OwnerArchive:
    """The owner archive of this unit and owner (a new owner gets one, OCC-5); 409 if it exists."""
    if _archive_of(session, organization_id, unit_id, person_id):
        raise Problem(409, "Conflict", "This owner has an archive for this unit already.", field="person_id")
    return _new_archive(session, organization_id, site_id, unit_id, person_id, actor)


def ensure_owner_archive(session: Session, *, organization_id: str, site_id: str, unit_id: str, person_id: str,
                         actor: str) -> OwnerArchive:
    """The current archive of the unit's owner, for a new owner (OCC-5) or at move-in: opened if there is none;
    an owner who buys the unit back gets their set-aside archive back, kept permanently again."""
    archive = _archive_of(session, organization_id, unit_id, person_id)
    if archive is None:
        return _new_archive(session, organization_id, site_id, unit_id, person_id, actor)
    session.refresh(archive, with_for_update=True)
    if archive.state == "set_aside":
        archive.state, archive.set_aside_on, archive.retain_until = "current", None, None
        session.flush()
        _audit(session, archive, "owner_archive", "reopen", actor, from_state="set_aside", to_state="current",
               reason="owner again")
    return archive


def _new_archive(session: Session, organization_id: str, site_id: str, unit_id: str, person_id: str,
                 actor: str) -> OwnerArchive:
    archive = OwnerArchive(id=new_id(), organization_id=organization_id, site_id=site_id, unit_id=unit_id,
                           person_id=person_id, state="current", classification=TOP_SECRET, opened_by=actor,
                           opened_at=utcnow())
    session.add(archive)
    session.flush()
    _audit(session, archive, "owner_archive", "open", actor, to_state="current")
    return archive


def retention_date(transferred_on: date, years: int) -> date:
    """`years` after the transfer; a transfer on 29 February is kept until 28 February."""
    try:
        return transferred_on.replace(year=transferred_on.year + years)
    except ValueError:
        return transferred_on.replace(year=transferred_on.year + years, day=28)


def _policy(session: Session, organization_id: str, site_id: str, setting: policy.Setting, lowest: int,
            highest: int) -> int:
    """The number in force at the site, kept within bounds a date or time can hold."""
    return min(max(int(policy.value(session, chassis, organization_id, site_id, setting)), lowest), highest)


def keep_former_owner_archive(session: Session, *, organization_id: str, site_id: str, unit_id: str,
                              person_id: str, transferred_on: date, actor: str) -> None:
    """On an ownership transfer, keep the former owner's archive apart until its retention date (the site's
    `archive.former_owner_retention_years` after the transfer) and publish `archive.set_aside.v1`. An owner
    with no archive yet gets one, so the papers kept on paper have a record to go with. Calling it again
    changes nothing."""
    archive = _archive_of(session, organization_id, unit_id, person_id)
    if archive is None:
        archive = _new_archive(session, organization_id, site_id, unit_id, person_id, actor)
    else:
        session.refresh(archive, with_for_update=True)
    if archive.state == "set_aside":
        return
    archive.state = "set_aside"
    archive.set_aside_on = transferred_on
    archive.retain_until = retention_date(
        transferred_on, _policy(session, organization_id, site_id, RETENTION_YEARS, 0, 100))
    session.flush()
    _audit(session, archive, "owner_archive", "set_aside", actor, from_state="current", to_state="set_aside",
           reason="ownership transferred", data={"transferred_on": transferred_on.isoformat(),
                                                "retain_until": archive.retain_until.isoformat()})
    publish(session, chassis.outbox, events.set_aside(archive, transferred_on, actor),
            organization_id=organization_id)


def due_for_disposal(site_id: str, on: date):
    """Former owners' archives whose retention has run out by `on` (a SELECT to page)."""
    return select(OwnerArchive).where(OwnerArchive.site_id == site_id, OwnerArchive.state == "set_aside",
                                      OwnerArchive.retain_until <= on)


def add_document(session: Session, store: FileStore, archive: OwnerArchive, *, kind: str, title: str,
                 filename: str, content_type: str, content: bytes, actor: str) -> ArchiveDocument:
    """Store the file (deleted again should the transaction roll back) and record its size and SHA-256."""
    document_id = new_id()
    stored = store.put_with(session, f"archives/{archive.organization_id}/{archive.id}/{document_id}", content)
    document = ArchiveDocument(
        id=document_id, organization_id=archive.organization_id, site_id=archive.site_id, archive_id=archive.id,
        kind=kind, title=title, filename=filename, content_type=content_type, size_bytes=stored.size,
        sha256=stored.sha256, storage_key=stored.key, state="kept", void_reason="", uploaded_by=actor,
        uploaded_at=utcnow())
    session.add(document)
    session.flush()
    _audit(session, document, "archive_document", "add", actor, to_state="kept",
           data={"archive_id": archive.id, "kind": kind, "sha256": stored.sha256, "size_bytes": stored.size})
    return document


def record_information_form(session: Session, archive: OwnerArchive, *, data: dict, reason: str,
                            actor: str) -> InformationForm:
    """A new version of the owner information form; earlier versions stay as they were."""
    latest = session.scalar(select(InformationForm.version).where(InformationForm.archive_id == archive.id)
                            .order_by(InformationForm.version.desc()).limit(1)) or 0
    form = InformationForm(id=new_id(), organization_id=archive.organization_id, site_id=archive.site_id,
                           archive_id=archive.id, version=latest + 1, data=data, reason=reason, recorded_by=actor,
                           recorded_at=utcnow())
    session.add(form)
    session.flush()
    _audit(session, form, "owner_information_form", "record", actor, to_state=f"v{form.version}", reason=reason,
           data={"archive_id": archive.id})
    return form


def request_access(session: Session, archive: OwnerArchive, *, mode: str, purpose: str,
                   document_ids: Sequence[str], information_form: bool, actor: str) -> AccessRequest:
    """The registration entry (who, when, why, what); it opens nothing until a manager approves it."""
    known = set(session.scalars(select(ArchiveDocument.id).where(ArchiveDocument.archive_id == archive.id,
                                                                 ArchiveDocument.id.in_(document_ids))))
    unknown = [d for d in document_ids if d not in known]
    if unknown:
        raise Problem(422, "Unprocessable Content", f"Not documents of this archive: {', '.join(unknown)}.",
                      field="document_ids")
    request = AccessRequest(
        id=new_id(), organization_id=archive.organization_id, site_id=archive.site_id, archive_id=archive.id,
        state=ACCESS.initial, mode=mode, purpose=purpose, document_ids=list(dict.fromkeys(document_ids)),
        information_form=information_form, requested_by=actor, requested_at=utcnow(), decision_reason="")
    session.add(request)
    session.flush()
    _audit(session, request, "archive_access_request", "request", actor, to_state=request.state, reason=purpose,
           data={"archive_id": archive.id, "mode": mode, "document_ids": request.document_ids,
                 "information_form": information_form})
    return request


def _decide(session: Session, workflow: Workflow, request, entity: str, *, action: str, reason: str, actor: str,
            roles: Iterable[str]) -> str:
    """Take a workflow step on a request: who asked may withdraw, someone else decides. Answers the old state.
    The row is locked first, so of two managers deciding at once the second sees the first's decision."""
    session.refresh(request, with_for_update=True)
    step = workflow.step(request.state, action, roles)
    if action == "withdraw" and actor != request.requested_by:
        raise Problem(403, "Forbidden", "Only who made the request may withdraw it.")
    if action != "withdraw" and actor == request.requested_by:
        raise Problem(403, "Forbidden", "A request is decided by someone other than who made it.")
    previous = request.state
    request.state = step.target
    request.decided_by = actor
    request.decided_at = utcnow()
    request.decision_reason = reason
    _audit(session, request, entity, action, actor, from_state=previous, to_state=step.target, reason=reason)
    return previous


def decide_access(session: Session, request: AccessRequest, *, action: str, reason: str, actor: str,
                  roles: Iterable[str]) -> AccessRequest:
    """Approve (opening the site's `archive.access_hours` for the requester to read in), refuse, withdraw or
    revoke."""
    _decide(session, ACCESS, request, "archive_access_request", action=action, reason=reason, actor=actor,
            roles=roles)
    if action == "approve":
        hours = _policy(session, request.organization_id, request.site_id, ACCESS_HOURS, 1, 24 * 366)
        request.expires_at = request.decided_at + timedelta(hours=hours)
    elif action == "revoke":
        request.expires_at = request.decided_at
    session.flush()
    return request


def is_live(request: AccessRequest, now: datetime) -> bool:
    expires_at = request.expires_at
    if expires_at is not None and expires_at.tzinfo is None:  # SQLite hands back naive UTC
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return request.state == "approved" and expires_at is not None and expires_at > now


def read(session: Session, archive: OwnerArchive, *, reader: str, what: str, mode: str = "view",
         document_id: str | None = None) -> ArchiveRead:
    """Log a read under the reader's live approval covering it, and publish `archive.accessed.v1`; 403
    naming what is missing when there is none."""
    now = utcnow()
    mine = [a for a in session.scalars(select(AccessRequest).where(
        AccessRequest.archive_id == archive.id, AccessRequest.requested_by == reader,
        AccessRequest.state == "approved").order_by(AccessRequest.expires_at.desc())) if is_live(a, now)]
    if not mine:
        raise _locked("an approved access request of yours to this archive that is still open", "approval")
    if what == "document":
        mine = [a for a in mine if document_id in a.document_ids]
        if not mine:
            raise _locked("an open approval that covers this document", "document")
    elif what == "information_form":
        mine = [a for a in mine if a.information_form]
        if not mine:
            raise _locked("an open approval that covers the owner information form", "information_form")
    if mode == "copy":
        mine = [a for a in mine if a.mode == "copy"]
        if not mine:
            raise _locked("an open approval to copy, not only to view", "copy")
    entry = ArchiveRead(organization_id=archive.organization_id, site_id=archive.site_id, archive_id=archive.id,
                        access_request_id=mine[0].id, reader=reader, read_at=now, what=what,
                        document_id=document_id, mode=mode)
    session.add(entry)
    session.flush()
    publish(session, chassis.outbox, events.accessed(archive, entry), organization_id=archive.organization_id)
    return entry


def _locked(needed: str, missing: str) -> Problem:
    return Problem(403, "Forbidden", f"Owner archives are top secret: reading this needs {needed}.",
                   field="access_request", extra={"missing": missing})


def request_void(session: Session, document: ArchiveDocument, *, reason: str, actor: str) -> VoidRequest:
    """One pending request per document: the document row is locked while it is checked."""
    session.refresh(document, with_for_update=True)
    if document.state == "void":
        raise Problem(409, "Conflict", "The document is void already.", field="document_id")
    pending = session.scalar(select(VoidRequest.id).where(VoidRequest.document_id == document.id,
                                                          VoidRequest.state == VOIDING.initial))
    if pending:
        raise Problem(409, "Conflict", f"Void request {pending} awaits a decision.", field="document_id")
    request = VoidRequest(id=new_id(), organization_id=document.organization_id, site_id=document.site_id,
                          document_id=document.id, state=VOIDING.initial, reason=reason, requested_by=actor,
                          requested_at=utcnow(), decision_reason="")
    session.add(request)
    session.flush()
    _audit(session, request, "archive_void_request", "request", actor, to_state=request.state, reason=reason,
           data={"document_id": document.id})
    return request


def decide_void(session: Session, request: VoidRequest, *, action: str, reason: str, actor: str,
                roles: Iterable[str]) -> VoidRequest:
    """Approving voids the document (its file is kept) and publishes `archive.document_voided.v1`."""
    _decide(session, VOIDING, request, "archive_void_request", action=action, reason=reason, actor=actor,
            roles=roles)
    if action == "approve":
        document = session.get(ArchiveDocument, request.document_id)
        document.state = "void"
        document.void_reason = request.reason
        document.voided_at = request.decided_at
        _audit(session, document, "archive_document", "void", actor, from_state="kept", to_state="void",
               reason=request.reason, data={"void_request_id": request.id})
        archive = session.get(OwnerArchive, document.archive_id)
        publish(session, chassis.outbox, events.document_voided(archive, document, request),
                organization_id=request.organization_id)
    session.flush()
    return request
