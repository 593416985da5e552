"""After-hours registrations, goods-lift bookings, temporary power and hot-work permits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, new_id, utcnow

KINDS = ("after_hours", "goods_lift", "temporary_power", "hot_work")


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[str] = mapped_column(String(36))
    building_id: Mapped[str] = mapped_column(String(36))
    # The company or person who asks (and pays, for after-hours air conditioning).
    person_id: Mapped[str] = mapped_column(String(36))
    applicant_name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    air_conditioning: Mapped[bool] = mapped_column(Boolean, default=False)
    # The goods lift (a door) a goods-lift booking reserves.
    door_id: Mapped[str | None] = mapped_column(String(36), index=True)
    works_description: Mapped[str] = mapped_column(String(2000), default="")
    # Hot work and temporary power: the fire watch, extinguishers, the electrician's licence …
    safety_measures: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20))
    # The pass that lets the applicant's people through for the booking's window, if one was asked for.
    pass_id: Mapped[str | None] = mapped_column(String(36))
    applied_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
