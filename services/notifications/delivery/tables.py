"""Messages (one per cause, recipient and channel), opt-outs, and the outgoing box of the embedded default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.models import Base


class Message(Base):
    """One message to one recipient on one channel, caused by one event (or notice, or escalation).

    `dedupe_key` is `cause|recipient|channel` and unique: however often the cause is redelivered or
    handled again, it makes this message once. Fallback to the next channel is a new message with the
    same cause and recipient on another channel.
    """

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cause_id: Mapped[str] = mapped_column(String(120), index=True)
    cause_type: Mapped[str] = mapped_column(String(120))
    caused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    correlation_id: Mapped[str] = mapped_column(String(200))
    trace_headers: Mapped[dict] = mapped_column(JSON)
    # notices, billing, greetings, staff, emergency, legal: what an opt-out names.
    category: Mapped[str] = mapped_column(String(20))
    # "person" (an occupant) or "staff" (a member of the staff directory).
    recipient_kind: Mapped[str] = mapped_column(String(10))
    recipient_id: Mapped[str] = mapped_column(String(36), index=True)
    # Who reads it in the in-app inbox: the `sub` of the recipient's tokens.
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    # The channels still to try, in order, if this one fails.
    fallback: Mapped[list[str]] = mapped_column(JSON)
    address: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(10))
    template_kind: Mapped[str] = mapped_column(String(60))
    template_version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    # When the sender may take it: a retry's backoff, the end of quiet hours, a scheduled time, or a claim's
    # lease (a sender that dies holding it leaves the message due again after the lease).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    provider_id: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OptOut(Base):
    """A person does not want messages of a category (never possible for legal notices or emergencies)."""

    __tablename__ = "opt_outs"

    organization_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Outgoing(Base):
    """E-mail and SMS the embedded default keeps instead of sending them: no mail server or gateway needed."""

    __tablename__ = "outgoing"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    kept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
