"""Bill runs (BIL-2): a site's charges for one period, made in batches of units and resumable."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, Money, new_id


class BillRun(Base):
    """One run over a site's units. `cursor` is the last unit billed: a run taken over after a crash goes on
    from there, and what it bills twice is skipped by the charges' unique keys anyway."""

    __tablename__ = "bill_runs"
    __table_args__ = (Index("ix_bill_runs_pending", "state", "lease_until"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    # The month billed, "2027-01"; items of longer cycles are billed in their cycle's first month.
    period: Mapped[str] = mapped_column(String(7))
    # queued, running or done.
    state: Mapped[str] = mapped_column(String(10))
    units_total: Mapped[int] = mapped_column(Integer, default=0)
    units_done: Mapped[int] = mapped_column(Integer, default=0)
    charges_new: Mapped[int] = mapped_column(Integer, default=0)
    amount_new: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    bills_issued: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[str] = mapped_column(String(36), default="")
    # The worker holding the run and until when; another takes it over once the lease has run out.
    lease_holder: Mapped[str] = mapped_column(String(36), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
