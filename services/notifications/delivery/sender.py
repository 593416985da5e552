"""The sender: a scheduled job that hands due messages to their channels.

It claims a batch with one UPDATE … RETURNING (SKIP LOCKED on PostgreSQL) that moves the messages'
`next_attempt_at` a lease ahead and commits, so a second worker never takes the same messages; it then
sends outside any transaction and records each outcome in a second one. A sender that dies between the
two leaves its messages to be taken again when the lease runs out: a message is sent once unless the
process dies in that window (the message id travels as `Message-ID` / `reference` to recognise it).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from opentelemetry import trace
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.notifications.delivery import channels as channel_adapters
from services.notifications.delivery import rules
from services.notifications.delivery.rules import Change
from services.notifications.delivery.tables import Message
from services.notifications.models import chassis
from services.notifications.recipients.tables import Site
from shared import policy, tracing
from shared.config import Settings

log = logging.getLogger(__name__)

BATCH = 500
LEASE = timedelta(minutes=2)
SITE_SETTINGS_TTL = timedelta(seconds=5)
IDLE_WAIT_SECONDS = 0.5
RUN_SECONDS = 5


@functools.cache
def _channels(sessions: sessionmaker) -> dict:
    return channel_adapters.configured(Settings(), sessions)


@functools.cache
def _site_settings(sessions: sessionmaker) -> dict:
    """(organization, site) → (read until, quiet hours, time zone, throttle), per database."""
    return {}


def run(sessions: sessionmaker) -> int:
    """The worker's `deliver` job: also waits a little for messages this process queues meanwhile."""
    return deliver_due(sessions, idle_wait=IDLE_WAIT_SECONDS)


def deliver_due(sessions: sessionmaker, channels: dict | None = None, idle_wait: float = 0) -> int:
    """Send every message due now, a batch at a time; answers how many were handed to a channel. With
    `idle_wait`, once nothing is due it waits that long for this process to queue more before answering,
    and answers within a few seconds however busy, so the worker can stop between runs."""
    channels = channels or _channels(sessions)
    handed, until = 0, time.monotonic() + RUN_SECONDS if idle_wait else math.inf
    while time.monotonic() < until:
        now = datetime.now(timezone.utc)
        rules.QUEUED.clear()
        with sessions() as session, session.begin():
            claimed = claim(session, now)
        if not claimed:
            if idle_wait and rules.QUEUED.wait(idle_wait):
                continue
            return handed
        changes = _send(sessions, claimed, channels, now)
        with sessions() as session, session.begin():
            rules.apply(session, changes)
        handed += sum(1 for change in changes if change.action in ("send", "deliver"))
        if len(claimed) < BATCH and not idle_wait:
            return handed
    return handed


def claim(session: Session, now: datetime, limit: int = BATCH) -> list:
    """Lease up to `limit` due messages. The due rows are picked once, in a materialized CTE: as a plain
    `IN (subquery … LIMIT)` PostgreSQL may run the subquery again per row and lease far more than the limit."""
    table = Message.__table__
    due = (select(table.c.id).where(table.c.status == "queued", table.c.next_attempt_at <= now)
           .order_by(table.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
           .cte("due").prefix_with("MATERIALIZED"))
    return session.execute(
        update(table).where(table.c.id.in_(select(due.c.id)), table.c.status == "queued")
        .values(next_attempt_at=now + LEASE).returning(*table.c)).all()


def _send(sessions: sessionmaker, claimed: list, channels: dict, now: datetime) -> list[Change]:
    """Each claimed message's step: held back, failed before sending, or the channel's outcome."""
    with sessions() as session:
        limits = _Limits(session, claimed, now, _site_settings(sessions))
        changes, ready = [], defaultdict(list)
        for message in claimed:
            change = _before_sending(session, message, limits, now)
            if change:
                changes.append(change)
            else:
                ready[message.channel].append(message)
    for channel, messages in ready.items():
        rules.series(rules.CHANNEL_ATTEMPTS, channel).inc(len(messages))
        with tracing.message_span(f"notifications send {channel}", messages[0].trace_headers,
                                  trace.SpanKind.CLIENT, {"messaging.batch.message_count": len(messages)}):
            outcomes = channels[channel].send(messages)
        for message, outcome in zip(messages, outcomes):
            changes.append(_after_sending(sessions, message, outcome))
    return changes


def _before_sending(session: Session, message, limits: _Limits, now: datetime) -> Change | None:
    if message.expires_at and _utc(message.expires_at) <= now:
        return Change(message, "fail", "expired before it could be sent")
    problem = channel_adapters.address_problem(message.channel, message.address)
    if problem:
        return Change(message, "fail", problem)
    quiet_hours, zone, throttle = limits.of(session, message)
    held = rules.held_back(message, quiet_hours=quiet_hours, zone=zone, throttle=throttle,
                           sent_last_hour=limits.sent_last_hour[message.recipient_id], now=now)
    if held:
        until, why = held
        return Change(message, "defer", why, {"next_attempt_at": until})
    if message.channel in ("sms", "email") and message.category not in rules.EXEMPT:
        limits.sent_last_hour[message.recipient_id] += 1
    return None


def _after_sending(sessions: sessionmaker, message, outcome) -> Change:
    now = datetime.now(timezone.utc)
    attempts = message.attempts + 1
    if outcome.result in ("accepted", "delivered"):
        rules.series(rules.DELIVERY_LATENCY, message.channel).observe(
            max(0.0, (now - _utc(message.caused_at)).total_seconds()))
        values = {"attempts": attempts, "sent_at": now, "provider_id": outcome.provider_id, "next_attempt_at": None}
        if outcome.result == "delivered":
            return Change(message, "deliver", "", {**values, "delivered_at": now})
        return Change(message, "send", "", values)
    rules.series(rules.CHANNEL_ERRORS, message.channel).inc()
    if outcome.result == "retry":
        with sessions() as session:
            delays = policy.value(session, chassis, message.organization_id, message.site_id, rules.RETRY_DELAYS)
        if attempts <= len(delays):
            rules.series(rules.RETRIES, message.channel).inc()
            retry_at = now + timedelta(seconds=float(delays[attempts - 1]))
            return Change(message, "retry", outcome.reason, {"attempts": attempts, "next_attempt_at": retry_at})
    return Change(message, "fail", outcome.reason, {"attempts": attempts, "next_attempt_at": None})


class _Limits:
    """Quiet hours, throttle and time zone per site (read at most every SITE_SETTINGS_SECONDS: a busy sender
    does not ask for them on every batch), and the recipients' recent SMS and e-mails, read once per batch."""

    def __init__(self, session: Session, claimed: list, now: datetime, by_site: dict):
        self.now, self.by_site = now, by_site
        recipients = {m.recipient_id for m in claimed if m.channel in ("sms", "email")}
        self.sent_last_hour = defaultdict(int, session.execute(
            select(Message.recipient_id, func.count()).where(
                Message.recipient_id.in_(recipients), Message.sent_at >= now - timedelta(hours=1),
                Message.channel.in_(("sms", "email")), Message.category.not_in(rules.EXEMPT))
            .group_by(Message.recipient_id)).all() if recipients else [])

    def of(self, session: Session, message) -> tuple:
        key = (message.organization_id, message.site_id)
        held = self.by_site.get(key)
        if held is None or held[0] <= self.now:
            zone = session.scalar(select(Site.time_zone).where(Site.site_id == message.site_id)) \
                if message.site_id else None
            held = self.by_site[key] = (
                self.now + SITE_SETTINGS_TTL,
                _setting(session, message, rules.QUIET_HOURS, rules.checked_quiet_hours),
                zone or rules.DEFAULT_ZONE,
                _setting(session, message, rules.THROTTLE_PER_HOUR, int),
            )
        return held[1:]


def _setting(session: Session, message, setting, read):
    """A setting's value at the message's site; an override the sender cannot read counts as the default (and
    is logged), so a mistyped value holds no message back forever."""
    held = policy.value(session, chassis, message.organization_id, message.site_id, setting)
    try:
        return read(held)
    except (TypeError, ValueError):
        log.warning("setting %s holds %r, not a valid value: its default applies", setting.key, held)
        return read(setting.default)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
