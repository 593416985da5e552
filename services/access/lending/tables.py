"""Loans of items and common keys, and items kept in storage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, new_id, utcnow


class Loan(Base):
    """An item (a trolley, an umbrella …) or a common key lent, with its return deadline."""

    __tablename__ = "loans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    # A key of the register, or an item named by `item`.
    key_id: Mapped[str | None] = mapped_column(String(36), index=True)
    item: Mapped[str] = mapped_column(String(200))
    borrower_name: Mapped[str] = mapped_column(String(200))
    borrower_person_id: Mapped[str | None] = mapped_column(String(36))
    borrower_phone: Mapped[str] = mapped_column(String(40), default="")
    deposit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    lent_by: Mapped[str] = mapped_column(String(200))
    lent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set once, by the job that raises the overdue alert.
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20))


_out = Loan.__table__.c.state == "out"
Index("ix_loans_out_due_at", Loan.__table__.c.due_at, postgresql_where=_out, sqlite_where=_out)


class StoredItem(Base):
    """An item kept for someone (寄存), with a deposit, until it is picked up with its pickup code."""

    __tablename__ = "stored_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    description: Mapped[str] = mapped_column(String(500))
    depositor_name: Mapped[str] = mapped_column(String(200))
    depositor_person_id: Mapped[str | None] = mapped_column(String(36))
    # Who may pick it up, if not the depositor.
    pickup_name: Mapped[str] = mapped_column(String(200), default="")
    pickup_code: Mapped[str] = mapped_column(String(12))
    deposit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    state: Mapped[str] = mapped_column(String(20))
    stored_by: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    picked_up_by: Mapped[str] = mapped_column(String(200), default="")
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
