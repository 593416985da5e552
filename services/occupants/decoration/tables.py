"""Decoration / renovation (OCC-8): one row per application, its overtime applications and violations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow

# The decoration workflow's final states: a unit is free for another decoration once its last one is here.
FINISHED = ("archived", "rejected")


class Decoration(Base):
    """The application, and what each step adds to it: the permit, the fees, the inspection, the refund."""

    __tablename__ = "decorations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    state: Mapped[str] = mapped_column(String(40))
    # Application (装修申请)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id"))
    applicant_kind: Mapped[str] = mapped_column(String(20))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_phone: Mapped[str] = mapped_column(String(40))
    contractor_name: Mapped[str] = mapped_column(String(200))
    works_description: Mapped[str] = mapped_column(String(2000))
    # 拆改主体结构 / 明显加大荷载: either one makes the government approval a required step.
    structural_change: Mapped[bool] = mapped_column(Boolean)
    load_increase: Mapped[bool] = mapped_column(Boolean)
    letter_of_authority_reference: Mapped[str] = mapped_column(String(200), default="")
    government_approval_reference: Mapped[str] = mapped_column(String(200), default="")
    agreement_reference: Mapped[str] = mapped_column(String(200), default="")
    # Fees and deposit (BIL-1), priced from the unit's area when the agreement is signed.
    charges_request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    waste_removal_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    deposit: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    receipt_numbers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Permit (装修施工许可证)
    permit_id: Mapped[str | None] = mapped_column(String(36))
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    working_days: Mapped[list[str]] = mapped_column(JSON, default=list)
    working_hours: Mapped[list[dict]] = mapped_column(JSON, default=list)
    prohibited_works: Mapped[list[str]] = mapped_column(JSON, default=list)
    workers: Mapped[list[dict]] = mapped_column(JSON, default=list)
    # The unit's state before the works, restored at completion.
    unit_state_before: Mapped[str | None] = mapped_column(String(20))
    # Open items of the last failed completion inspection (装修验收).
    rectification_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Deposit refund (BIL-7)
    refund_request_id: Mapped[str | None] = mapped_column(String(36))
    deductions: Mapped[list[dict]] = mapped_column(JSON, default=list)
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# One decoration in progress per unit, however many requests race to apply.
_in_progress = Decoration.__table__.c.state.not_in(FINISHED)
Index("uq_decorations_unit_in_progress", Decoration.__table__.c.unit_id, unique=True,
      postgresql_where=_in_progress, sqlite_where=_in_progress)


class DecorationOvertime(Base):
    """An application to work outside the permit's hours (装修加班申请)."""

    __tablename__ = "decoration_overtime"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    decoration_id: Mapped[str] = mapped_column(ForeignKey("decorations.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    works: Mapped[str] = mapped_column(String(500))
    applied_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DecorationViolation(Base):
    """A violation seen on a decoration site, sent to ticketing (TKT-12)."""

    __tablename__ = "decoration_violations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    decoration_id: Mapped[str] = mapped_column(ForeignKey("decorations.id"), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(2000))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str] = mapped_column(String(200))
