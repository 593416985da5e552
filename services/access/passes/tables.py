"""Passes: who (a person, or a named visitor or worker), with which credential, when, through which doors,
how many times; and what issued them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, new_id, utcnow

# proto/psp/access/v1/passes.proto names these.
KINDS = ("resident", "staff", "visitor", "contractor", "vehicle", "after_hours", "goods_lift", "temporary")
CREDENTIAL_KINDS = ("card", "qr", "face", "pin", "plate")
REVOCATION_REASONS = ("revoked_by_staff", "moved_out", "permit_ended", "lost", "expired")
LIVE = "active"


class Pass(Base):
    __tablename__ = "passes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # Empty for a visitor or worker occupants does not know.
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[str | None] = mapped_column(String(36))
    credential: Mapped[str] = mapped_column(String(200))
    credential_kind: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Scope: doors named one by one and zones (every door in them, now or later).
    door_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    zone_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # 0: unlimited.
    max_uses: Mapped[int] = mapped_column(Integer, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str | None] = mapped_column(String(20))
    # What the pass was issued for: "staff", "move_in", "decoration", "visit", "booking" and its id there.
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Who registered it: a host (a person) or the front desk (a staff member).
    issued_by: Mapped[str] = mapped_column(String(200))
    host_person_id: Mapped[str | None] = mapped_column(String(36))
    # When in its window it opens, in the site's time (a contractor's: the permit's working days and hours,
    # plus approved overtime); empty: at any time. See services.access.passes.schedule.
    schedule: Mapped[dict | None] = mapped_column(JSON)
    # The organization's change number of its last change (services.access.changes).
    version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HeldPass(Base):
    """A pass an event asked for while its site had no doors: issued when the site's first door is registered,
    dropped when its reason ends first (the permit completed, the person moved out, the window closed)."""

    __tablename__ = "held_passes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(36))
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(36), index=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    schedule: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(400), default="")
    # awaiting_doors → issued (pass_id set) or dropped.
    state: Mapped[str] = mapped_column(String(20))
    pass_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# A credential opens for one live pass at a time, however many requests race to issue it.
_live = Pass.__table__.c.state == LIVE
Index("uq_passes_live_credential", Pass.__table__.c.organization_id, Pass.__table__.c.credential_kind,
      Pass.__table__.c.credential, unique=True, postgresql_where=_live, sqlite_where=_live)
Index("ix_passes_organization_version", Pass.__table__.c.organization_id, Pass.__table__.c.version)
