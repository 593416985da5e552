"""Move-in (OCC-3): the move-in and what its steps record, concentrated move-in batches, spot checks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import text

from services.occupants.models import Base, new_id, utcnow


class MoveInBatch(Base):
    """A concentrated move-in (集中入伙): a new site's first weeks, handled by a move-in team in time slots."""

    __tablename__ = "move_in_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MoveInSlot(Base):
    """An appointment slot of a batch; `booked` counts the move-ins that took a place in it."""

    __tablename__ = "move_in_slots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("move_in_batches.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class MoveIn(Base):
    """One move-in (入住 / 入伙), from the appointment to the archive, and what its steps found."""

    __tablename__ = "move_ins"
    # One move-in under way per unit, even when two bookings race past the check in `rules.book`.
    __table_args__ = (Index("ix_move_ins_unit_under_way", "unit_id", unique=True,
                            postgresql_where=text("state NOT IN ('accepted', 'archived', 'cancelled')"),
                            sqlite_where=text("state NOT IN ('accepted', 'archived', 'cancelled')")),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    # The incoming occupant (a company for an organization's move-in), who pays the fees.
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    # owner in person, agent (受托人) or organization (单位)
    applicant_type: Mapped[str] = mapped_column(String(20))
    # owner (purchase contract) or tenant (lease)
    occupancy_role: Mapped[str] = mapped_column(String(20))
    agent_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(40), index=True)
    appointment_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("move_in_batches.id"), index=True)
    slot_id: Mapped[str | None] = mapped_column(ForeignKey("move_in_slots.id"))
    agreements: Mapped[list[str]] = mapped_column(JSON, default=list)
    handbooks: Mapped[list[str]] = mapped_column(JSON, default=list)
    fees_request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Opening meter readings, taken at the joint inspection; gas only where the unit has it.
    water_reading: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    electricity_reading: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    gas_reading: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    readings_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 1 at the joint inspection, one more at each re-inspection.
    inspection_round: Mapped[int] = mapped_column(Integer, default=0)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MoveInDocument(Base):
    """A document shown at the counter (ID, move-in notice, contract, letter of authority …); a correction is
    a new row."""

    __tablename__ = "move_in_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    move_in_id: Mapped[str] = mapped_column(ForeignKey("move_ins.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Its number or a note identifying the copy filed, e.g. the contract number.
    reference: Mapped[str] = mapped_column(String(200), default="")
    notarised: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MoveInDefect(Base):
    """A defect found at an inspection round (房屋质量验收登记表), sent to ticketing for rectification."""

    __tablename__ = "move_in_defects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    move_in_id: Mapped[str] = mapped_column(ForeignKey("move_ins.id"), index=True)
    inspection_round: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MoveInRecord(Base):
    """One of the six records a move-in keeps (业主登记表, 验房签收记录, 入伙资料签收记录, 领取钥匙签收记录,
    委托代办服务记录, 入伙收费记录), written by the step that produces it."""

    __tablename__ = "move_in_records"
    __table_args__ = (UniqueConstraint("move_in_id", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    move_in_id: Mapped[str] = mapped_column(ForeignKey("move_ins.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MoveInSpotCheck(Base):
    """A manager's spot check of one move-in's records in a month. The id is derived from (site, month,
    ordinal), so a schedule computed twice (a restart, a second worker) inserts each check once."""

    __tablename__ = "move_in_spot_checks"
    __table_args__ = (Index("ix_move_in_spot_checks_site_month", "site_id", "month"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    # YYYY-MM in the site's time zone.
    month: Mapped[str] = mapped_column(String(7))
    ordinal: Mapped[int] = mapped_column(Integer)
    move_in_id: Mapped[str] = mapped_column(ForeignKey("move_ins.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str] = mapped_column(String(200), default="")
    conforming: Mapped[bool | None] = mapped_column(Boolean)
    findings: Mapped[str] = mapped_column(Text, default="")
