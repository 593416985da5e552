"""Violations (TKT-12): what an occupant did against the rules, its remedy and any penalty decided."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class Violation(Base):
    __tablename__ = "violations"
    __table_args__ = (Index("ix_violations_listed", "organization_id", "observed_at", "id"),
                      # Records past their retention are found by this index.
                      Index("ix_violations_retention", "retain_until"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(36))
    person_id: Mapped[str | None] = mapped_column(String(36))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str] = mapped_column(String(200))
    # What raised it elsewhere, e.g. "decoration:<violation id>"; empty when reported here.
    source_reference: Mapped[str] = mapped_column(String(100), default="")
    # The rung of the remedy ladder reached, and a rectification's deadline.
    remedy: Mapped[str | None] = mapped_column(String(20))
    rectify_by: Mapped[date | None] = mapped_column(Date)
    # A major violation: the loss the site manager assessed.
    assessed_loss: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    penalty: Mapped[str] = mapped_column(String(1000), default="")
    penalty_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    signed_by: Mapped[str | None] = mapped_column(String(200))
    # When the decision took effect: at once for a general one, at the general manager's signature for a major.
    effective_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retain_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
