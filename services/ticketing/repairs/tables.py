"""Repairs (TKT-8): work orders, the paid-service catalogue copied from billing, and when each unit was
handed over (its warranty runs from then)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class CatalogueEntry(Base):
    """Read model of billing's paid services (BIL-6) at a site, fed by paid_service.priced.v1 and
    paid_service.withdrawn.v1: a paid repair is quoted from here without calling billing."""

    __tablename__ = "repair_catalogue"

    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # What one priced quantity is: job, hour, metre, piece.
    unit: Mapped[str] = mapped_column(String(20))
    offered: Mapped[bool] = mapped_column(Boolean)
    # When billing made the change this row holds (the price's effective_from, the withdrawal's instant): an
    # older change delivered late is ignored.
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UnitHandover(Base):
    """Read model fed by occupants' move_in.accepted.v1: the day a unit's first owner took the keys, from
    which its warranty periods run."""

    __tablename__ = "repair_unit_handovers"

    unit_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    handed_over_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkOrder(Base):
    """The repair work order (维修派工单) of a ticket: who does it, whether it is free under warranty or a
    paid service quoted from the catalogue, the technician's visits and the occupant's acceptance."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_listed", "organization_id", "created_at", "id"),
                      Index("ix_work_orders_site_state", "site_id", "state"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    ticket_number: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[str | None] = mapped_column(String(36))
    summary: Mapped[str] = mapped_column(String(200))
    emergency: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20))
    # The `sub` of the technician's tokens; empty while the order waits in the pool.
    technician_id: Mapped[str | None] = mapped_column(String(200))
    dispatched_by: Mapped[str | None] = mapped_column(String(200))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the occupant would like the technician to come.
    preferred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An emergency repair starts first; its paperwork (item, price) is back-filled.
    paperwork_pending: Mapped[bool] = mapped_column(Boolean)
    # The warranty item (policy repairs.warranty_months) and whether the work falls within it.
    item: Mapped[str | None] = mapped_column(String(40))
    under_warranty: Mapped[bool | None] = mapped_column(Boolean)
    warranty_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Paid work: the catalogue's service, quoted when the order was priced; charged only on acceptance.
    service_code: Mapped[str | None] = mapped_column(String(60))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unfinished_reason: Mapped[str] = mapped_column(Text, default="")
    # Who pays for paid work, the acceptance on record (signature or confirmation) and its reference.
    payer_id: Mapped[str | None] = mapped_column(String(36))
    acceptance: Mapped[str] = mapped_column(String(20), default="")
    acceptance_reference: Mapped[str] = mapped_column(String(200), default="")
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
