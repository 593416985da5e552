"""Goods release applications and their release slips (放行条)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, new_id, utcnow


class GoodsRelease(Base):
    __tablename__ = "goods_releases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str] = mapped_column(String(36))
    # The occupant the goods belong to: a large item leaves only with their confirmation.
    person_id: Mapped[str] = mapped_column(String(36))
    carrier_name: Mapped[str] = mapped_column(String(200))
    # [{"description": "双人床", "quantity": 1}, …]
    items: Mapped[list[dict]] = mapped_column(JSON, default=list)
    large_items: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20))
    applied_by: Mapped[str] = mapped_column(String(200))
    confirmed_by: Mapped[str] = mapped_column(String(200), default="")
    # The slip the gate guard checks: unique per site, printed on the 放行条.
    slip_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    released_by: Mapped[str] = mapped_column(String(200), default="")
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gate: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
