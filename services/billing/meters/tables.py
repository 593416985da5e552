"""Meters and their readings (BIL-3): a unit's own meters and a site's shared ones (公摊)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, Money, new_id


class Meter(Base):
    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    # "" for a shared meter (common areas), whose consumption is apportioned over units by area.
    unit_id: Mapped[str] = mapped_column(String(36), index=True)
    # water, electricity or gas.
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(60))
    # A prepaid meter holds money the occupant loaded; the daily check warns when it runs low.
    prepaid: Mapped[bool] = mapped_column(Boolean, default=False)
    prepaid_balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Reading(Base):
    """A reading and the consumption since the one before. An implausible one is kept, flagged with why."""

    __tablename__ = "readings"
    __table_args__ = (UniqueConstraint("meter_id", "number"), Index("ix_readings_meter_day", "meter_id", "read_on"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    meter_id: Mapped[str] = mapped_column(ForeignKey("meters.id"))
    # 1, 2, 3 … per meter; the unique pair makes two readings at once clash instead of both counting.
    number: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    consumption: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    read_on: Mapped[date] = mapped_column(Date)
    # opening (from move-in), regular.
    kind: Mapped[str] = mapped_column(String(10))
    flag: Mapped[str] = mapped_column(Text, default="")
    read_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PrepaidCheck(Base):
    """The daily low-balance check of one prepaid meter, once per day."""

    __tablename__ = "prepaid_checks"

    # "<meter id>:<day>": the key that makes the day's check fire once.
    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    meter_id: Mapped[str] = mapped_column(ForeignKey("meters.id"))
    checked_on: Mapped[date] = mapped_column(Date)
