"""Access' tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.tables import add_chassis_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


chassis = add_chassis_tables(Base.metadata)


class PassHolder(Base):
    """Read model fed by occupants' person events. People who may hold keys and passes, with the site they belong to (ACC-1, ACC-2)."""

    __tablename__ = "pass_holders"

    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
