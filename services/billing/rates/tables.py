"""Fee items and their rates per site (BIL-1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, new_id


class FeeItem(Base):
    """What is charged at a site and how it is measured: the site's rate card is its items and their rates."""

    __tablename__ = "fee_items"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    # Stable code, e.g. "management_fee"; charges name it.
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    # per_area, per_meter_unit, fixed, per_use or formula.
    basis: Mapped[str] = mapped_column(String(20))
    # monthly, quarterly, half_yearly, yearly or one_off.
    cycle: Mapped[str] = mapped_column(String(20))
    # The meter a per_meter_unit item reads: water, electricity or gas; "" otherwise.
    meter_kind: Mapped[str] = mapped_column(String(20), default="")
    # The operator's own formula over area, consumption, uses, months and price; "" unless basis is formula.
    formula: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rate(Base):
    """The item's price from one day to another (物价局 standards change over time); rates of one item never
    overlap, so a day has at most one price."""

    __tablename__ = "rates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    item_id: Mapped[str] = mapped_column(ForeignKey("fee_items.id"), index=True)
    # Per m² per month, per meter unit, per use, or the fixed amount per month of the cycle.
    price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[date] = mapped_column(Date)
    # The last day it applies; none: until further notice.
    effective_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
