"""Patrols (TKT-10): plans with their schedule, the tasks generated from them, and the findings recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class PatrolPlan(Base):
    """A route of checkpoints patrolled on a schedule, set up at the site or published by occupants (a
    decoration's daily patrol, a custody unit's weekly one, the rounds around heavy rain)."""

    __tablename__ = "patrol_plans"
    __table_args__ = (Index("ix_patrol_plans_listed", "organization_id", "created_at", "id"),
                      # The generator finds the plans due for more tasks by this index, never by scanning all.
                      Index("ix_patrol_plans_generation", "next_generation_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    # "site" for a plan made here; occupants' "decoration", "custody" or "heavy_rain".
    purpose: Mapped[str] = mapped_column(String(20))
    reference_id: Mapped[str] = mapped_column(String(36), default="")
    unit_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    checkpoints: Mapped[list] = mapped_column(JSON)
    patrol_role: Mapped[str] = mapped_column(String(30))
    # A named patroller; empty: whoever holds the role at the site.
    assignee_id: Mapped[str | None] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(200), default="")
    # A supervisor's rounds come at random times: each round falls this many minutes after its rule's moment
    # at most, drawn when the round is generated, so nobody can tell the time in advance.
    random_minutes: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    withdrawn_reason: Mapped[str] = mapped_column(String(1000), default="")
    # Tasks exist for every occurrence up to here.
    generated_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the generator next extends them; empty once the plan is withdrawn or has run out.
    next_generation_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PatrolTask(Base):
    """One patrol due at one moment; recorded once by the patroller, with what was found."""

    __tablename__ = "patrol_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "due_at"),
                      Index("ix_patrol_tasks_listed", "organization_id", "due_at", "id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("patrol_plans.id"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # due, done or cancelled (the plan was withdrawn first).
    state: Mapped[str] = mapped_column(String(20), default="due")
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PatrolFinding(Base):
    """Something wrong at a checkpoint; each is a patrol_finding ticket."""

    __tablename__ = "patrol_findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(ForeignKey("patrol_tasks.id"), index=True)
    checkpoint: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
