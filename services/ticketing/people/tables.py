"""Read models of occupants' people and places: who may report a request, and the units it may be about
(TKT-1, TKT-2). Fed by occupants' events only (SPEC §7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base


class Reporter(Base):
    """A person or company occupants knows, so intake can show who is calling."""

    __tablename__ = "reporters"

    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Unit(Base):
    """A unit occupants registered, with its building and site: a ticket about a unit names one of these."""

    __tablename__ = "units"

    unit_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    building_id: Mapped[str] = mapped_column(String(36))
    floor: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
