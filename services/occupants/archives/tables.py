"""Owner archives (OCC-7): one per unit and owner, its documents, the owner information form's versions, the
access and void requests that unlock them, and the registration log of every read."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow


class OwnerArchive(Base):
    __tablename__ = "owner_archives"
    __table_args__ = (
        UniqueConstraint("unit_id", "person_id"),
        Index("ix_owner_archives_site_state", "site_id", "state", "retain_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    # "current" (the unit's owner: kept permanently) or "set_aside" (a former owner's, kept until retain_until).
    state: Mapped[str] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(20))
    set_aside_on: Mapped[date | None] = mapped_column(Date)
    retain_until: Mapped[date | None] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ArchiveDocument(Base):
    __tablename__ = "archive_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    archive_id: Mapped[str] = mapped_column(ForeignKey("owner_archives.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    # "kept" or "void"; a voided document's file stays in the store.
    state: Mapped[str] = mapped_column(String(20))
    void_reason: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InformationForm(Base):
    """One version of the owner information form (业主信息表); an update adds a version."""

    __tablename__ = "owner_information_forms"
    __table_args__ = (UniqueConstraint("archive_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    archive_id: Mapped[str] = mapped_column(ForeignKey("owner_archives.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessRequest(Base):
    """A request to view or copy an archive (查阅/复印): the registration entry of who, when, why and what."""

    __tablename__ = "archive_access_requests"
    __table_args__ = (Index("ix_archive_access_requests_site_state", "site_id", "state", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    archive_id: Mapped[str] = mapped_column(ForeignKey("owner_archives.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    # "view" or "copy"; a copy approval covers viewing too.
    mode: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(1000))
    document_ids: Mapped[list[str]] = mapped_column(JSON)
    information_form: Mapped[bool]
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VoidRequest(Base):
    __tablename__ = "archive_void_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("archive_documents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(1000))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class ArchiveRead(Base):
    """The registration log: every read of an archive, under which approval."""

    __tablename__ = "archive_reads"
    __table_args__ = (Index("ix_archive_reads_site_id", "site_id", "id"),)

    # A sequence, so the log pages in the order it was written.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    archive_id: Mapped[str] = mapped_column(ForeignKey("owner_archives.id"), index=True)
    access_request_id: Mapped[str] = mapped_column(ForeignKey("archive_access_requests.id"), index=True)
    reader: Mapped[str] = mapped_column(String(200))
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    what: Mapped[str] = mapped_column(String(30))
    document_id: Mapped[str | None] = mapped_column(ForeignKey("archive_documents.id"))
    mode: Mapped[str] = mapped_column(String(10))
