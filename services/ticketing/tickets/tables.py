"""Tickets (TKT-1 … TKT-3): categories with their routing, the per-site number counters, tickets, their
comments and attachments. The SLA engine reads `tickets` too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class Category(Base):
    """A category (parent empty) or subcategory of requests, routed to a responsible department. Kept per
    organization; a category in use is deactivated, never deleted."""

    __tablename__ = "ticket_categories"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("ticket_categories.id"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TicketCounter(Base):
    """The last number given out at a site in a year; each ticket takes the next under the row's lock. The
    prefix in force when the year's register opened numbers the whole year: one register, one numbering."""

    __tablename__ = "ticket_counters"

    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    prefix: Mapped[str] = mapped_column(String(10))
    last: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    """One request, from intake to closure, with its one number, its owner and its responsible department."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("site_id", "number"),
                      Index("ix_tickets_site_state", "site_id", "state"),
                      # The lists page in this order.
                      Index("ix_tickets_listed", "organization_id", "created_at", "id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    # The register entry's and the handling notice's number, e.g. HG-2026-000123.
    number: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(30))
    # Complaints only: major, important or minor.
    tier: Mapped[str | None] = mapped_column(String(20))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    category_id: Mapped[str | None] = mapped_column(ForeignKey("ticket_categories.id"))
    department: Mapped[str] = mapped_column(String(20))
    # The first receiver, who owns the customer contact until closure (首问责任人).
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    assignee_id: Mapped[str | None] = mapped_column(String(200))
    reporter_id: Mapped[str | None] = mapped_column(String(36))
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # The complainant's identity is kept but shown only to customer service at the site.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    unit_id: Mapped[str | None] = mapped_column(String(36))
    # Repairs: in_unit or public_area.
    location: Mapped[str | None] = mapped_column(String(20))
    place: Mapped[str] = mapped_column(String(200), default="")
    # Internal complaints: the department complained about.
    about_department: Mapped[str | None] = mapped_column(String(20))
    # What a rectification or patrol finding comes from, e.g. a move-in defect's id.
    source_reference: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    promised_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_resolution_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # signature or confirmation; empty when closed with a reason.
    acceptance: Mapped[str] = mapped_column(String(20), default="")
    acceptance_reference: Mapped[str] = mapped_column(String(200), default="")
    rating: Mapped[int | None] = mapped_column(Integer)
    close_reason: Mapped[str] = mapped_column(String(1000), default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketComment(Base):
    """A note on a ticket: internal, or visible to the occupant (shown in the app, read out at the visit)."""

    __tablename__ = "ticket_comments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TicketAttachment(Base):
    """A photo or document of a ticket; the bytes are in the file store under `storage_key`."""

    __tablename__ = "ticket_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
