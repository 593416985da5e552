"""Places (OCC-1): sites, buildings and units, and the jobs that import a site's register. Every row belongs to
one organization (X-1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, String, \
    UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.occupants.models import Base, new_id, utcnow


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # IANA name; reception hours and SLA clocks are read in it.
    time_zone: Mapped[str] = mapped_column(String(64))
    # [{"weekday": 1..7, "opens": "HH:MM", "closes": "HH:MM"}], ordered; kept whole because it is read and
    # published whole.
    reception_hours: Mapped[list[dict]] = mapped_column(JSON)
    # [{"date": "YYYY-MM-DD", "kind": "holiday" | "workday", "name": …}], ordered by date.
    holiday_overrides: Mapped[list[dict]] = mapped_column(JSON)


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    # None when the register does not say; then a unit's floor is not checked against them.
    floors_above_ground: Mapped[int | None] = mapped_column(Integer)
    floors_below_ground: Mapped[int | None] = mapped_column(Integer)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "number"), Index("ix_units_site_state", "site_id", "state"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    floor: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    floor_area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))


class ImportJob(Base):
    """An uploaded register of a site's buildings and units, waiting for or going through the worker.

    The file waits in `content`, in the job's own row: it is committed with the job or not at all, and every
    worker reads it whatever host it runs on (the API's disk is not the worker's in a deployment). It is
    emptied once the job is finished, so a row keeps only the outcome.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_state", "state", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(String(20))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    buildings_created: Mapped[int] = mapped_column(Integer, default=0)
    units_created: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The holding worker's token: its writes are conditional on it, so a worker that lost the job writes nothing.
    claim: Mapped[str | None] = mapped_column(String(36))
    # Refreshed while a worker holds the job; a claim older than the lease is taken over (the worker died).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportProblem(Base):
    """One thing wrong in one row of a rejected import: row 1 is the header, data starts at row 2."""

    __tablename__ = "import_problems"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(300))
