"""Occupant notices (NTF-3): what is said, to whom, when, until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.models import Base


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "state", "send_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    # The site targeted, or None for the whole organization.
    site_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # {"scope": organization|site|building|floor|unit_kind|list, "building_id", "floor", "unit_kind", "person_ids"}
    target: Mapped[dict] = mapped_column(JSON)
    # {"zh-CN": {"title", "body"}, "en": {...}}: zh-CN always, en when given (else occupants reading English
    # get the Chinese text).
    texts: Mapped[dict] = mapped_column(JSON)
    # notices, or legal (cannot be opted out of, not held by quiet hours).
    category: Mapped[str] = mapped_column(String(20))
    # draft → scheduled → sent; draft or scheduled → withdrawn.
    state: Mapped[str] = mapped_column(String(20))
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Recipients when sent (before: the count the API shows from the read model).
    audience: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
