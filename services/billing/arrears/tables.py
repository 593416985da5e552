"""Steps of the arrears ladder taken on accounts (BIL-5)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, Money


class ArrearsStep(Base):
    """One step taken once per (account, step, overdue_since): its id is derived from those three."""

    __tablename__ = "arrears_steps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    overdue_since: Mapped[date] = mapped_column(Date)
    amount_overdue: Mapped[Decimal] = mapped_column(Money)
    late_fee: Mapped[Decimal] = mapped_column(Money)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
