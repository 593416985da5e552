"""What the daily review published: each site's day once, each long job's progress notice once a day. The
primary keys are the claims: a second worker, or a second run of the day, finds the row there and skips."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base


class CompiledReview(Base):
    """A site's day whose review went to its supervisors (review.daily_compiled.v1)."""

    __tablename__ = "review_compiled"

    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    overdue: Mapped[int] = mapped_column(Integer)
    forgotten: Mapped[int] = mapped_column(Integer)
    compiled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProgressNotice(Base):
    """A day's progress notice of a long engineering job to its occupants (ticket.progress_noticed.v1)."""

    __tablename__ = "review_progress_notices"

    ticket_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
