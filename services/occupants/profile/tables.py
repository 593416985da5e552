"""Customer profiles (OCC-9): how the service centre treats each person at a site, which stewards look after
which buildings and units, and the households each steward has come to know (客户熟悉度)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow


class CustomerProfile(Base):
    __tablename__ = "customer_profiles"
    __table_args__ = (UniqueConstraint("site_id", "person_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    # 重点客户, e.g. a frequent complainant, and why.
    key_customer: Mapped[bool] = mapped_column(default=False)
    key_customer_reason: Mapped[str] = mapped_column(String(500), default="")
    # 沉默客户: rarely heard from.
    silent_customer: Mapped[bool] = mapped_column(default=False)
    # One of the site's grades (policy profile.grades); None until graded.
    grade: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StewardAssignment(Base):
    """A steward (the staff member's user id, the token's `sub`) looks after a building or a single unit."""

    __tablename__ = "steward_assignments"
    __table_args__ = (Index("ix_steward_assignments_site_steward", "site_id", "steward"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    steward: Mapped[str] = mapped_column(String(200))
    # Exactly one of the two.
    building_id: Mapped[str | None] = mapped_column(ForeignKey("buildings.id"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FamiliarityRecord(Base):
    """A steward knows the household of a unit: since when and how they met it. Later records add to it."""

    __tablename__ = "familiarity_records"
    __table_args__ = (Index("ix_familiarity_records_site_steward", "site_id", "steward", "unit_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    steward: Mapped[str] = mapped_column(String(200))
    known_on: Mapped[date]
    # visit, phone, …: rules.CONTACT_WAYS.
    how: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
