"""Notifications' tables: the declarative base, the chassis tables, and the people read model."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.tables import add_chassis_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


chassis = add_chassis_tables(Base.metadata)


class Recipient(Base):
    """Read model fed by occupants' person events. Where and in which language each person is reached (NTF-1, X-7)."""

    __tablename__ = "recipients"

    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10))
    channels: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    site_id: Mapped[str] = mapped_column(String(36), default="", server_default="")
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
