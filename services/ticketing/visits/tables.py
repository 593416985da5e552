"""Return visits and surveys (TKT-9): the visits due after resolved tickets, the manager's monthly
sampling of them, and the quarterly evaluation and annual opinion surveys with their responses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.ticketing.models import Base, new_id, utcnow


class ReturnVisit(Base):
    """A return visit (回访) a resolved ticket is due, by policy: by phone or on site, with the occupant's
    rating and signature. Its deadline is the ticket's return_visit clock."""

    __tablename__ = "return_visits"
    __table_args__ = (Index("ix_return_visits_listed", "organization_id", "due_at", "id"),
                      Index("ix_return_visits_site_visited", "site_id", "visited_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    ticket_number: Mapped[str] = mapped_column(String(40))
    # Why the ticket gets one: its type or category always does, or it was sampled.
    reason: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str | None] = mapped_column(String(10))
    # 1 (very unsatisfied) … 5 (very satisfied).
    rating: Mapped[int | None] = mapped_column(Integer)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    signature_reference: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    visited_by: Mapped[str | None] = mapped_column(String(200))
    visited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The manager's monthly check of the visit's quality (经理每月随机抽查).
    sampling_id: Mapped[str | None] = mapped_column(ForeignKey("return_visit_samplings.id"), index=True)
    check_result: Mapped[str | None] = mapped_column(String(20))
    check_note: Mapped[str] = mapped_column(Text, default="")
    checked_by: Mapped[str | None] = mapped_column(String(200))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReturnVisitSampling(Base):
    """A manager's random draw of a month's return visits at a site, to check them: one per site and month."""

    __tablename__ = "return_visit_samplings"
    __table_args__ = (UniqueConstraint("site_id", "month"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    # "2026-11"
    month: Mapped[str] = mapped_column(String(7))
    drawn: Mapped[int] = mapped_column(Integer)
    drawn_by: Mapped[str] = mapped_column(String(200))
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Survey(Base):
    """An owner survey at a site: the quarterly evaluation form (业主评议表) or the annual opinion survey
    (业主意见征询表), with its questions."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("site_id", "kind", "period"),
                      Index("ix_surveys_listed", "organization_id", "created_at", "id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(30))
    # "2026-Q4" for a quarterly evaluation, "2026" for an annual survey.
    period: Mapped[str] = mapped_column(String(7))
    title: Mapped[str] = mapped_column(String(200))
    # [{"code": "cleaning", "text": "…", "kind": "rating" | "text"}, …]
    questions: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyResponse(Base):
    """One household's answers, as collected on paper, at a visit or in the app: one per unit and survey."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("survey_id", "unit_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id"), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(36))
    person_id: Mapped[str | None] = mapped_column(String(36))
    # {question code: 1…5 for a rating, text for a text question}
    answers: Mapped[dict] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
