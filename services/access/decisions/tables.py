"""Every decision the API took, allow or deny, with its reason: the record a security review starts from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    # Empty when the door is not one of the organization's.
    site_id: Mapped[str] = mapped_column(String(36))
    door_id: Mapped[str] = mapped_column(String(36))
    # As read: a scanned QR token whole (one that verified is kept as its token id).
    credential: Mapped[str] = mapped_column(String(400))
    credential_kind: Mapped[str] = mapped_column(String(10))
    pass_id: Mapped[str | None] = mapped_column(String(36), index=True)
    outcome: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(30))
    # The machine (or person) that asked.
    asked_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Index("ix_decisions_site_decided_at", Decision.site_id, Decision.decided_at)
