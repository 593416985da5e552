"""Deposit refunds (BIL-7): a decoration deposit after the completion inspection, a property deposit at
move-out; each with its deductions and reasons, and an approval before any money goes back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, Money, new_id


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # What asked for it, once: "decoration:<request id>" from occupants, "desk:<id>" from the API.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    # The deposit refunded: decoration_deposit or property_deposit.
    item: Mapped[str] = mapped_column(String(60))
    # The deposit paid and not refunded yet when asked, the deductions kept back with their reasons
    # ([{"amount": "200.00", "reason": "…"}]), and what goes back: held − deductions.
    held: Mapped[Decimal] = mapped_column(Money)
    deductions: Mapped[list] = mapped_column(JSON)
    amount: Mapped[Decimal] = mapped_column(Money)
    # requested, approved, rejected or paid.
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    # The money paid back: a payment of the negative amount, with its receipt number.
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
