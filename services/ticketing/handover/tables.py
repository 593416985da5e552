"""Shift handover records (TKT-6, 交接班)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class Handover(Base):
    """What the outgoing shift hands over in writing: its notes and the site's open items as they stood
    when it was written (a snapshot, so the record says what was handed over even after the tickets move
    on); the incoming shift acknowledges it."""

    __tablename__ = "shift_handovers"
    __table_args__ = (UniqueConstraint("site_id", "day", "shift"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    day: Mapped[date] = mapped_column(Date)
    # The outgoing shift: day or night.
    shift: Mapped[str] = mapped_column(String(10))
    # written, acknowledged
    state: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    # [{"ticket_id", "number", "type", "tier", "emergency", "state", "subject"}, …]
    items: Mapped[list] = mapped_column(JSON)
    written_by: Mapped[str] = mapped_column(String(200))
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
