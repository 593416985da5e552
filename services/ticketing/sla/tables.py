"""The SLA engine's tables: its read models of sites' calendars and of the staff directory, and the deadlines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base

# The key of site_roles for roles held at every site.
EVERY_SITE = "*"


class SiteCalendarRow(Base):
    """Read model fed by occupants' site events: the site's time zone, reception frames and holiday
    overrides, which every reception-hours clock at the site runs on (X-4)."""

    __tablename__ = "sla_site_calendars"

    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # [[weekday, "HH:MM", "HH:MM"], …]
    reception_hours: Mapped[list] = mapped_column(JSON)
    # {"YYYY-MM-DD": "holiday" | "workday"}
    holiday_overrides: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StaffMember(Base):
    """Read model fed by occupants' staff directory: who holds which roles at which site, for the
    escalation chain (TKT-4). Only the snapshot with the highest version is kept."""

    __tablename__ = "sla_staff"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    # Has a channel staff alerts reach them on (SMS, e-mail, app): a member without one is skipped.
    reachable: Mapped[bool] = mapped_column(Boolean)
    # {site_id or "*": [role, …]}
    site_roles: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def roles_at(self, site_id: str) -> set[str]:
        return set(self.site_roles.get(site_id, ())) | set(self.site_roles.get(EVERY_SITE, ()))


class Deadline(Base):
    """One clock of one ticket: the stage's target, its warning point and where it stands. `next_fire_at` is
    the warning or the due instant still to fire (NULL once nothing will), so the firing job reads the index,
    never the tickets."""

    __tablename__ = "sla_deadlines"
    __table_args__ = (UniqueConstraint("ticket_id", "stage"),
                      Index("ix_sla_deadlines_next_fire_at", "next_fire_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    ticket_id: Mapped[str] = mapped_column(String(36))
    ticket_number: Mapped[str] = mapped_column(String(40))
    # The ticket's customer-facing owner: the escalation starts from the level above theirs.
    owner_id: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(30))
    clock: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # running, paused, warned, breached, met, cancelled
    state: Mapped[str] = mapped_column(String(12))
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Working time (in the clock's own time) the ticket spent paused; the due instant was pushed by as much.
    paused_seconds: Mapped[float] = mapped_column(Float)
    pauses: Mapped[int] = mapped_column(Integer)
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyChangeSeen(Base):
    """The last change of each SLA target policy (organization-wide: site_id "") whose tickets were
    recomputed, so a worker recomputes each change once."""

    __tablename__ = "sla_policy_changes_seen"

    organization_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
