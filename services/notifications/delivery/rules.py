"""The message model's rules (NTF-1): who gets what on which channel, the statuses and their audit, quiet
hours, throttling and opt-outs. Delivery itself is in delivery.sender; the channels in delivery.channels."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Histogram
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.notifications.delivery.tables import Message, OptOut
from services.notifications.models import chassis
from services.notifications.templates import rules as templates
from shared import bulk, metrics, policy, tracing
from shared.workflow import Step, Workflow

SERVICE = "notifications"
SYSTEM = "notifications"
CHANNELS = ("sms", "email", "app", "webhook")
CATEGORIES = ("notices", "billing", "greetings", "staff", "emergency", "legal")
# Never opted out of, never held back by quiet hours or throttling (NTF-1).
EXEMPT = frozenset({"emergency", "legal"})
DEFAULT_ZONE = "Asia/Shanghai"

MESSAGE = Workflow("message", "queued", [
    Step("queued", "send", "sent"),
    Step("queued", "deliver", "delivered"),
    Step("queued", "retry", "queued"),
    Step("queued", "defer", "queued"),
    Step("queued", "fail", "failed"),
    Step("sent", "deliver", "delivered"),
    Step("sent", "fail", "failed"),
    Step("delivered", "read", "read"),
], final=("failed", "read"))

QUIET_HOURS = policy.define(
    "notifications.quiet_hours", ["22:00", "07:00"],
    "Local hours [from, to] in which no SMS or e-mail is sent except emergencies and legal notices; "
    "what falls due then waits for the end. [] turns quiet hours off.")
THROTTLE_PER_HOUR = policy.define(
    "notifications.throttle_per_hour", 10,
    "Most SMS and e-mails one recipient receives in an hour (emergencies and legal notices not counted "
    "nor held); more wait for the next hour.")
RETRY_DELAYS = policy.define(
    "notifications.retry_delays_seconds", [30, 120, 600],
    "Seconds before each retry of a message whose channel failed for a while (a gateway's 5xx, a timeout); "
    "after the last the next channel of the recipient is tried.")
WEBHOOK_URL = policy.define(
    "notifications.webhook_url", "",
    "The organization's endpoint for the webhook channel (signed as Standard Webhooks); empty: no webhook.")

MESSAGES = Counter("notifications_messages_total", "Message status changes, by channel and the status reached.",
                   ["service", "channel", "status"])
RETRIES = Counter("notifications_retries_total", "Attempts that failed for a while and will be retried.",
                  ["service", "channel"])
FALLBACKS = Counter("notifications_fallbacks_total", "Messages that failed on a channel and went on to the next.",
                    ["service", "channel"])
CHANNEL_ERRORS = Counter("notifications_channel_errors_total",
                         "Attempts a channel did not take (refused, timed out, 5xx), by channel.",
                         ["service", "channel"])
CHANNEL_ATTEMPTS = Counter("notifications_channel_attempts_total", "Attempts to hand a message to a channel.",
                           ["service", "channel"])
DELIVERY_LATENCY = Histogram("notifications_delivery_latency_seconds",
                             "Seconds from the cause (the event, the notice sent) to the channel taking the message.",
                             ["service", "channel"], buckets=metrics.LATENCY_BUCKETS)


@functools.cache
def series(metric, *labels: str):
    """A metric's child for these labels, looked up once: `labels()` takes a lock and hashes on every call."""
    return metric.labels(SERVICE, *labels)


for _channel in CHANNELS:
    for _status in MESSAGE.states:
        series(MESSAGES, _channel, _status)
    for _metric in (RETRIES, FALLBACKS, CHANNEL_ERRORS, CHANNEL_ATTEMPTS, DELIVERY_LATENCY):
        series(_metric, _channel)


@dataclass(frozen=True)
class Cause:
    """What made the messages: its id keys them (one message per cause, recipient and channel), and its
    trace and correlation id go on with them."""

    id: str
    type: str
    at: datetime
    correlation_id: str = ""
    trace_headers: dict = field(default_factory=dict)

    @classmethod
    def of_event(cls, event, suffix: str = "") -> Cause:
        """The event being handled, inside its span: the messages continue its trace."""
        envelope = event.envelope
        return cls(id=envelope.id + suffix, type=envelope.type, at=envelope.occurred_at.ToDatetime(timezone.utc),
                   correlation_id=envelope.correlation_id, trace_headers=tracing.current_trace_headers())

    @classmethod
    def here(cls, cause_id: str, cause_type: str) -> Cause:
        """A cause inside this service (a notice sent, an escalation, a birthday), in the current trace."""
        return cls(id=cause_id, type=cause_type, at=datetime.now(timezone.utc),
                   correlation_id=tracing.correlation_id() or "", trace_headers=tracing.current_trace_headers())


@dataclass(frozen=True)
class Target:
    """A recipient and how to reach them, channels in order of preference."""

    kind: str  # person | staff
    id: str
    user_id: str
    name: str
    language: str
    channels: tuple[str, ...]
    addresses: dict
    # Named by the cause but not in the read model (not arrived yet, or never there): kept as a failed message.
    unknown: bool = False

    def routes(self, webhook_url: str) -> list[tuple[str, str]]:
        """(channel, address) in order of preference; the in-app inbox is always last resort."""
        addresses = {**self.addresses, "app": self.user_id, "webhook": webhook_url}
        wanted = [c for c in dict.fromkeys(self.channels) if c in CHANNELS] or ["sms", "email"]
        if "app" not in wanted:
            wanted.append("app")
        return [(channel, addresses.get(channel) or "") for channel in wanted]


def unknown_target(kind: str, recipient_id: str) -> Target:
    return Target(kind, recipient_id, recipient_id, "", "zh-CN", ("app",), {}, unknown=True)


def person_target(recipient, channels: Sequence[str] = ()) -> Target:
    return Target("person", recipient.person_id, recipient.person_id, recipient.full_name,
                  recipient.language or "zh-CN", tuple(channels or recipient.channels or ()),
                  {"sms": recipient.phone, "email": recipient.email})


def staff_target(member) -> Target:
    return Target("staff", member.member_id, member.user_id, member.full_name, "zh-CN", tuple(member.channels or ()),
                  {"sms": member.phone, "email": member.email})


def enqueue(session: Session, cause: Cause, *, organization_id: str, site_id: str | None, category: str,
            template_kind: str, data: dict, targets: Iterable[Target], not_before: datetime | None = None,
            expires_at: datetime | None = None) -> list[str]:
    """Queue one message per target on the target's first channel; answers the ids of those made now.

    A message already made for this cause, recipient and channel is not made again. A template that fails
    to render, or a category the person opted out of, makes a failed message saying why, and sends nothing.
    """
    now = datetime.now(timezone.utc)
    targets = list({target.id: target for target in targets}.values())
    opted_out = _opted_out(session, organization_id, category, [t.id for t in targets if t.kind == "person"])
    webhook_url = in_transaction(session, ("webhook", organization_id, site_id), lambda: policy.value(
        session, chassis, organization_id, site_id, WEBHOOK_URL) or "")
    rows = []
    for target in targets:
        language = "en" if target.language == "en" else "zh-CN"
        version = in_transaction(session, ("template", organization_id, template_kind, language), lambda: (
            templates.current(session, organization_id, template_kind, language)))
        (channel, address), *fallback = target.routes(webhook_url)
        status, reason, subject, body = "queued", "", "", ""
        try:
            rendered = templates.render(version, {**data, "recipient": {"name": target.name}})
            subject, body = rendered.subject, rendered.body
        except templates.RenderFailed as exc:
            status, reason = "failed", f"template {template_kind} v{version.version} failed to render: {exc}"
        if target.unknown:
            status, reason, subject, body = "failed", f"no such {target.kind} known to notifications", "", ""
        if status == "queued" and target.id in opted_out:
            status, reason = "failed", f"the recipient opted out of {category}"
        rows.append({
            "id": str(uuid.uuid4()), "dedupe_key": dedupe_key(cause.id, target.id, channel),
            "organization_id": organization_id, "site_id": site_id, "cause_id": cause.id, "cause_type": cause.type,
            "caused_at": cause.at, "correlation_id": cause.correlation_id, "trace_headers": cause.trace_headers,
            "category": category, "recipient_kind": target.kind, "recipient_id": target.id,
            "user_id": target.user_id, "channel": channel, "fallback": [list(route) for route in fallback],
            "address": address, "language": version.language, "template_kind": template_kind,
            "template_version": version.version, "subject": subject, "body": body, "status": status,
            "reason": reason, "attempts": 0, "next_attempt_at": (not_before or now) if status == "queued" else None,
            "expires_at": expires_at, "provider_id": "", "created_at": now, "sent_at": None, "delivered_at": None,
            "read_at": None, "updated_at": now,
        })
    return _insert(session, rows)


def in_transaction(session: Session, key: tuple, read):
    """A value read once per transaction: a consumer's batch of events shares its templates and settings."""
    cache = session.info.setdefault("notifications.read_once", {})
    if key not in cache:
        cache[key] = read()
    return cache[key]


# Set when a transaction of this process queued messages: the sender in this process starts on them at
# once instead of at its next poll (an event's alert is handled and sent by the same worker).
QUEUED = threading.Event()
_QUEUED_NOW = "notifications.queued"


@event.listens_for(Session, "after_commit")
def _wake_the_sender(session: Session) -> None:
    if session.info.pop(_QUEUED_NOW, False):
        QUEUED.set()


@event.listens_for(Session, "after_rollback")
def _nothing_queued(session: Session) -> None:
    session.info.pop(_QUEUED_NOW, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_reads(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("notifications.read_once", None)


def dedupe_key(cause_id: str, recipient_id: str, channel: str) -> str:
    return f"{cause_id}|{recipient_id}|{channel}"


def _insert(session: Session, rows: list[dict], audited_as: str = "") -> list[str]:
    """Insert the messages whose key is new and count them. A message's creation is its own row (cause,
    status, reason, time); only a fallback, which follows another message's failure, is also on the trail."""
    made = bulk.insert_new(session, Message.__table__, rows, key="dedupe_key")
    new = [row for row in rows if row["dedupe_key"] in made]
    session.info[_QUEUED_NOW] = True
    if audited_as:
        bulk.insert(session, chassis.audit_log, [
            _audit_row(row, audited_as, None, row["status"], row["reason"], SYSTEM, row["created_at"]) for row in new])
    for row in new:
        series(MESSAGES, row["channel"], row["status"]).inc()
    return [row["id"] for row in new]


def _opted_out(session: Session, organization_id: str, category: str, person_ids: list[str]) -> set[str]:
    if category in EXEMPT or not person_ids:
        return set()
    return set(session.scalars(select(OptOut.person_id).where(
        OptOut.organization_id == organization_id, OptOut.category == category, OptOut.person_id.in_(person_ids))))


def _audit_row(message, action: str, from_state: str | None, to_state: str, reason: str, actor: str,
               at: datetime) -> dict:
    get = message.get if isinstance(message, dict) else message._mapping.get
    return {"organization_id": get("organization_id"), "site_id": get("site_id"), "entity": "message",
            "entity_id": get("id"), "action": action, "from_state": from_state, "to_state": to_state,
            "actor": actor, "reason": reason, "data": {"channel": get("channel")}, "at": at}


@dataclass
class Change:
    """A step of one message, as the sender or an API call decides it."""

    message: object  # a row of `messages`
    action: str
    reason: str = ""
    values: dict = field(default_factory=dict)


def apply(session: Session, changes: Sequence[Change], actor: str = SYSTEM) -> None:
    """Take the steps in one statement, audited and counted; a failure with channels left queues the message
    on the next one. The rows are written whole: the caller holds them (the sender its leased messages, an
    API call the row it read in this transaction)."""
    if not changes:
        return
    now = datetime.now(timezone.utc)
    columns = Message.__table__.columns.keys()
    rows, audit_rows, fallbacks = [], [], []
    for change in changes:
        row = change.message
        step = MESSAGE.step(row.status, change.action)
        rows.append({**{column: getattr(row, column) for column in columns}, "status": step.target,
                     "reason": change.reason, "updated_at": now, **change.values})
        audit_rows.append(_audit_row(row, change.action, row.status, step.target, change.reason, actor, now))
        if step.target != row.status:
            series(MESSAGES, row.channel, step.target).inc()
        if step.target == "failed" and row.fallback and change.action == "fail":
            fallbacks.append((row, change.reason))
    bulk.insert(session, Message.__table__, rows, update_on=("id",))
    bulk.insert(session, chassis.audit_log, audit_rows)
    if fallbacks:
        _fall_back(session, fallbacks, now)


def _fall_back(session: Session, failed: Sequence[tuple], now: datetime) -> None:
    """The next channel of each failed message, saying why."""
    rows = []
    for row, why in failed:
        (channel, address), *rest = row.fallback
        series(FALLBACKS, row.channel).inc()
        rows.append({
            **{column: getattr(row, column) for column in Message.__table__.columns.keys()},
            "id": str(uuid.uuid4()), "dedupe_key": dedupe_key(row.cause_id, row.recipient_id, channel),
            "channel": channel, "address": address, "fallback": rest, "status": "queued",
            "reason": f"{row.channel} failed: {why}" if why else f"{row.channel} failed",
            "attempts": 0, "next_attempt_at": now, "provider_id": "", "created_at": now, "sent_at": None,
            "delivered_at": None, "read_at": None, "updated_at": now,
        })
    _insert(session, rows, audited_as="fall_back")


# -- quiet hours and throttling ------------------------------------------------------------------------------


def checked_quiet_hours(value) -> list[str]:
    """`[]` or `["HH:MM", "HH:MM"]`; ValueError otherwise."""
    if not isinstance(value, list) or len(value) not in (0, 2):
        raise ValueError(value)
    for part in value:
        time.fromisoformat(part)
    return value


def quiet_until(quiet_hours: Sequence[str], zone: str, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (local `[from, to]`, possibly across midnight), else None."""
    if len(quiet_hours) != 2:
        return None
    start, end = (time.fromisoformat(part) for part in quiet_hours)
    local = now.astimezone(ZoneInfo(zone or DEFAULT_ZONE))
    clock = local.time().replace(tzinfo=None)
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(timezone.utc)


def held_back(message, *, quiet_hours, zone: str, throttle: int, sent_last_hour: int,
              now: datetime) -> tuple[datetime, str] | None:
    """When a message may go instead of now, and why; None when it goes now. The in-app inbox is silent,
    so only SMS and e-mail wait; emergencies and legal notices never do."""
    if message.category in EXEMPT or message.channel not in ("sms", "email"):
        return None
    until = quiet_until(quiet_hours, zone, now)
    if until:
        return until, "quiet hours"
    if sent_last_hour >= throttle:
        return now + timedelta(hours=1), f"throttled: {sent_last_hour} sent to the recipient in the last hour"
    return None
