"""The key register and the handovers at move-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, new_id, utcnow


class Key(Base):
    """One key (or a set of identical copies) of a unit or a common room."""

    __tablename__ = "keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    # A unit's key, or a common room's (then `room` names it).
    unit_id: Mapped[str | None] = mapped_column(String(36), index=True)
    room: Mapped[str] = mapped_column(String(200), default="")
    # The tag on the key ring, e.g. "A-1201-1".
    tag: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    copies: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(20))
    # Who holds it now, when not the office.
    holder_person_id: Mapped[str | None] = mapped_column(String(36))
    holder_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KeyHandover(Base):
    """The keys handed to a new occupant at move-in, waiting for (then bearing) the occupant's signature."""

    __tablename__ = "key_handovers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str] = mapped_column(String(36))
    person_id: Mapped[str] = mapped_column(String(36))
    # One handover per accepted move-in, however often the event arrives.
    move_in_id: Mapped[str] = mapped_column(String(36), unique=True)
    # [{"kind": "entrance", "count": 2}, …] as occupants' move-in lists them.
    keys: Mapped[list[dict]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20))
    signed_by: Mapped[str] = mapped_column(String(200), default="")
    # The signed receipt's reference (a scan, a form number).
    signature_reference: Mapped[str] = mapped_column(String(200), default="")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
