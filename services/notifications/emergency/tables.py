"""One row per level of an incident's emergency chain alerted: acknowledged, or escalated when its time ran out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.models import Base


class EmergencyAlert(Base):
    __tablename__ = "emergency_alerts"
    __table_args__ = (UniqueConstraint("incident_id", "level"),
                      Index("ix_emergency_alerts_due", "state", "escalate_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    incident_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(500))
    place: Mapped[str] = mapped_column(String(500))
    level: Mapped[int] = mapped_column(Integer)
    # alerted → acknowledged, or alerted → escalated (the next level was alerted).
    state: Mapped[str] = mapped_column(String(20))
    escalate_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
