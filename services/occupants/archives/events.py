"""Events archives publish; contracts in proto/psp/occupants/v1/archives.proto."""

from __future__ import annotations

from datetime import date

from psp.occupants.v1.archives_pb2 import ArchiveAccessed, ArchiveDocumentVoided, ArchiveSetAside

from services.occupants.archives.tables import ArchiveDocument, ArchiveRead, OwnerArchive, VoidRequest


def set_aside(archive: OwnerArchive, transferred_on: date, actor: str) -> ArchiveSetAside:
    return ArchiveSetAside(
        archive_id=archive.id, site_id=archive.site_id, unit_id=archive.unit_id, person_id=archive.person_id,
        transferred_on=transferred_on.isoformat(), retain_until=archive.retain_until.isoformat(), actor=actor,
    )


def document_voided(archive: OwnerArchive, document: ArchiveDocument, request: VoidRequest) -> ArchiveDocumentVoided:
    return ArchiveDocumentVoided(
        archive_id=archive.id, document_id=document.id, site_id=archive.site_id, unit_id=archive.unit_id,
        person_id=archive.person_id, kind=document.kind, reason=request.reason, requested_by=request.requested_by,
        approved_by=request.decided_by, void_request_id=request.id,
    )


def accessed(archive: OwnerArchive, read: ArchiveRead) -> ArchiveAccessed:
    return ArchiveAccessed(
        archive_id=archive.id, site_id=archive.site_id, unit_id=archive.unit_id, person_id=archive.person_id,
        reader=read.reader, access_request_id=read.access_request_id, what=read.what,
        document_id=read.document_id or "", mode=read.mode, read_id=read.id,
    )
