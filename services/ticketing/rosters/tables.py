"""Duty rosters (TKT-5): who is on duty at a site on a day, in the day or the night shift, and who is away."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class DutyAssignment(Base):
    """One staff member on one shift. The night shift of a day is the night that begins that evening."""

    __tablename__ = "duty_assignments"
    __table_args__ = (UniqueConstraint("site_id", "day", "shift", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    day: Mapped[date] = mapped_column(Date)
    # day or night
    shift: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Absence(Base):
    """A staff member away from a site for a span of time (leave, sickness, training): the SLA escalation
    passes them over while it lasts (TKT-4, 越级上报)."""

    __tablename__ = "staff_absences"
    __table_args__ = (Index("ix_staff_absences_site_ends_at", "site_id", "ends_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(1000))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
