"""Registered access-control systems (ACC-5): the systems, their door mapping, what each must hold, and the
entries and exits they report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base
from services.access.systems.sealed import SealedString


class AccessSystem(Base):
    """A door system installed at a site (controllers, turnstiles, gates, kiosks) that the platform keeps
    told of every grant and revocation, through its adapter."""

    __tablename__ = "access_systems"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(120))
    # "webhook" (Standard Webhooks + CloudEvents) or "hikvision" (ISAPI).
    adapter: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(500))
    # webhook: the signing secret ("whsec_…"), which also verifies what the system sends; hikvision: the
    # device account's password for digest auth. Never shown after registration; stored encrypted.
    secret: Mapped[str] = mapped_column(SealedString(500))
    username: Mapped[str] = mapped_column(String(100))
    # The device's clock zone: Hikvision validity windows and event times are local times.
    time_zone: Mapped[str] = mapped_column(String(64))
    # active, disabled (an endpoint that answered 410, or an operator's decision)
    state: Mapped[str] = mapped_column(String(10))
    disabled_reason: Mapped[str] = mapped_column(String(300))
    # Hikvision: the serial number of the last access event read back, so the next poll starts after it.
    last_event_serial: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SystemDoor(Base):
    """A platform door and the system's own number for it; a door not mapped is one the system knows nothing of."""

    __tablename__ = "access_system_doors"
    __table_args__ = (UniqueConstraint("system_id", "system_door_id"),)

    system_id: Mapped[str] = mapped_column(ForeignKey("access_systems.id", ondelete="CASCADE"), primary_key=True)
    door_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    system_door_id: Mapped[str] = mapped_column(String(64))


class SyncState(Base):
    """What one system must hold for one credential, and how far the change has got: pending, sent (awaiting
    the system's acknowledgement), acknowledged, failed (with the reason; retried at `next_attempt_at` unless
    that is empty). A newer change replaces an older one not yet pushed: only the latest state matters to a
    door. The push job reads due rows through the index on `next_attempt_at`."""

    __tablename__ = "access_sync_states"
    __table_args__ = (UniqueConstraint("system_id", "credential"),
                      Index("ix_access_sync_states_next_attempt_at", "next_attempt_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    system_id: Mapped[str] = mapped_column(ForeignKey("access_systems.id", ondelete="CASCADE"))
    credential: Mapped[str] = mapped_column(String(200))
    pass_id: Mapped[str] = mapped_column(String(36), index=True)
    # grant or revoke
    action: Mapped[str] = mapped_column(String(10))
    # The grant as the system sees it: holder, credential kind, window, the system's own door ids.
    grant: Mapped[dict] = mapped_column(JSON)
    # Sent as the webhook's id: a system that got it before knows the change.
    change_id: Mapped[str] = mapped_column(String(36))
    # When the pass was issued or revoked: the start of the propagation time.
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DoorEvent(Base):
    """An entry or exit a system reported, once per (system, serial number), kept with the pass it used."""

    __tablename__ = "access_door_events"
    __table_args__ = (UniqueConstraint("system_id", "serial_no"),
                      Index("ix_access_door_events_pass", "pass_id", "occurred_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    system_id: Mapped[str] = mapped_column(ForeignKey("access_systems.id", ondelete="CASCADE"))
    serial_no: Mapped[str] = mapped_column(String(64))
    # Empty when the credential is not one the platform pushed to this system.
    pass_id: Mapped[str] = mapped_column(String(36))
    credential: Mapped[str] = mapped_column(String(200))
    door_id: Mapped[str] = mapped_column(String(36))
    system_door_id: Mapped[str] = mapped_column(String(64))
    # entry, exit or unknown
    direction: Mapped[str] = mapped_column(String(8))
    # granted or denied, as the system decided
    outcome: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
