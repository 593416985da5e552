"""Vacant units in custody (OCC-6): custody agreements, the meter readings taken during custody and the
heavy-rain warnings that call for patrols."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow

# Meter readings keep two decimal places (X-6: exact decimals).
Reading = Numeric(12, 2)


class CustodyAgreement(Base):
    __tablename__ = "custody_agreements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    keys_held: Mapped[int]
    water_start: Mapped[Decimal] = mapped_column(Reading)
    electricity_start: Mapped[Decimal] = mapped_column(Reading)
    # The share of the management fee charged meanwhile, as it stood when custody started.
    fee_rate: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    # Set by the first reading over the meter's limit: the alert goes out once per agreement and meter.
    water_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    electricity_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_on: Mapped[date | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# At most one live agreement per unit, whatever races the checks in the rules lose.
_live = CustodyAgreement.__table__.c.state == "active"
Index("uq_custody_agreements_live_unit", CustodyAgreement.__table__.c.unit_id, unique=True,
      postgresql_where=_live, sqlite_where=_live)


class CustodyReading(Base):
    __tablename__ = "custody_readings"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("custody_agreements.id"))
    # 1, 2, 3 … per agreement in the order taken: the list's order and the "previous reading".
    number: Mapped[int]
    meter: Mapped[str] = mapped_column(String(20))
    reading: Mapped[Decimal] = mapped_column(Reading)
    # Use since the agreement's start reading of this meter.
    used: Mapped[Decimal] = mapped_column(Reading)
    read_by: Mapped[str] = mapped_column(String(200))
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HeavyRainWarning(Base):
    __tablename__ = "heavy_rain_warnings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    expected_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expected_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    announced_by: Mapped[str] = mapped_column(String(200))
    announced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
