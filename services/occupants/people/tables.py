"""People (OCC-2): persons and companies known at a site, the units they occupy, companies' personnel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow


class Person(Base):
    """A person or a company. On PostgreSQL the migration adds a GIN index over the name's one- and
    two-character pieces (`person_name_grams`), so a substring search of a Chinese name is index-backed."""

    __tablename__ = "persons"
    __table_args__ = (
        # Search answers in name order, or phone order when searching by phone, a page at a time.
        Index("ix_persons_site_name", "site_id", "full_name", "id"),
        Index("ix_persons_site_phone", "site_id", "phone", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    full_name: Mapped[str] = mapped_column(String(200))
    # E.164, e.g. "+8613800000001".
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    preferred_language: Mapped[str] = mapped_column(String(10))
    preferred_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    birthday: Mapped[date | None] = mapped_column(Date)
    emergency_contact_name: Mapped[str] = mapped_column(String(200), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(String(40), default="")
    emergency_contact_relation: Mapped[str] = mapped_column(String(40), default="")
    # A company's contact person.
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    # Resident ID number (居民身份证号), shown whole only to the roles in rules.ID_NUMBER_ROLES.
    id_number: Mapped[str] = mapped_column(String(18), default="")
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Occupancy(Base):
    """A person's link to a unit in one role, from a start date to an end date (inclusive)."""

    __tablename__ = "occupancies"
    __table_args__ = (Index("ix_occupancies_unit_state", "unit_id", "state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # "current" or "ended" (rules.OCCUPANCY).
    state: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # An owner's share in percent.
    share: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    notice_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    started_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonnelEntry(Base):
    """A line of a company occupant's personnel register (大厦人员情况登记表). A removed entry is kept,
    marked removed, so the register's history stays."""

    __tablename__ = "company_personnel"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    company_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    position: Mapped[str] = mapped_column(String(100), default="")
    id_number: Mapped[str] = mapped_column(String(18), default="")
    pass_needed: Mapped[bool] = mapped_column(default=False)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(200))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
