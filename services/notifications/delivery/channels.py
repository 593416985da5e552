"""Channels behind one interface (NTF-1): each takes a batch of messages and answers, per message, whether
it was taken, failed for now (retry) or for good (next channel).

SMTP has no idempotency key, so the message id travels as the `Message-ID` header (and as the SMS
gateway's `reference`): a message resent after a sender died between sending and recording it can be
recognised downstream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import sessionmaker

from services.notifications.delivery.tables import Outgoing
from shared import bulk
from shared.config import Settings

log = logging.getLogger(__name__)

SMTP_CONNECTIONS = 8


@dataclass(frozen=True)
class Outcome:
    result: str  # accepted | delivered | retry | failed
    reason: str = ""
    provider_id: str = ""


ACCEPTED, DELIVERED = Outcome("accepted"), Outcome("delivered")


def address_problem(channel: str, address: str) -> str | None:
    """Why the address cannot be used on the channel, or None."""
    if not address:
        return f"no {channel} address known for the recipient"
    if channel == "sms":
        try:
            number = phonenumbers.parse(address, "CN")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            return f"not a valid phone number: {address!r}"
    if channel == "email":
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            return f"not a valid e-mail address: {exc}"
    return None


class Channel:
    name: str

    def send(self, messages: Sequence) -> list[Outcome]:
        raise NotImplementedError


class Inbox(Channel):
    """The in-app inbox: the message is there to read as soon as it is stored."""

    name = "app"

    def send(self, messages):
        return [DELIVERED for _ in messages]


class Kept(Channel):
    """The embedded default for e-mail and SMS: kept in the outgoing box (`/v1/outgoing`), not sent."""

    def __init__(self, name: str, sessions: sessionmaker):
        self.name, self.sessions = name, sessions

    def send(self, messages):
        now = datetime.now(timezone.utc)
        with self.sessions() as session, session.begin():
            bulk.insert_new(session, Outgoing.__table__, [{
                "message_id": m.id, "organization_id": m.organization_id, "channel": self.name,
                "address": m.address, "subject": m.subject, "body": m.body, "kept_at": now} for m in messages],
                key="message_id")
        return [ACCEPTED for _ in messages]


class Smtp(Channel):
    """E-mail over SMTP: a few connections at once, each sending its share of the batch in turn. The
    connections stay open between batches (checked with NOOP first), so an alert does not wait for a
    handshake; each is used by one thread at a time."""

    name = "email"

    def __init__(self, url: str, sender: str, timeout: float):
        parts = urlsplit(url)
        self.secure = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.secure else 25)
        self.login = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        self.sender, self.timeout = sender, timeout
        self.clients: list[smtplib.SMTP | None] = [None] * SMTP_CONNECTIONS
        self.locks = [threading.Lock() for _ in range(SMTP_CONNECTIONS)]

    def _connect(self) -> smtplib.SMTP:
        # Named here: smtplib would ask DNS for this host's full name on every connection, which can take seconds.
        name = socket.gethostname()
        if self.secure:
            client = smtplib.SMTP_SSL(self.host, self.port, local_hostname=name, timeout=self.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(self.host, self.port, local_hostname=name, timeout=self.timeout)
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if self.login:
            client.login(*self.login)
        return client

    def _client(self, slot: int) -> smtplib.SMTP:
        client = self.clients[slot]
        if client is not None:
            try:
                if client.noop()[0] == 250:
                    return client
            except (OSError, smtplib.SMTPException):
                pass
            self._drop(slot)
        self.clients[slot] = self._connect()
        return self.clients[slot]

    def _drop(self, slot: int) -> None:
        client, self.clients[slot] = self.clients[slot], None
        try:
            client.close()
        except (OSError, smtplib.SMTPException):
            pass

    def send(self, messages):
        shares = [messages[i::SMTP_CONNECTIONS] for i in range(min(SMTP_CONNECTIONS, len(messages)))]
        outcomes: dict[str, Outcome] = {}
        with ThreadPoolExecutor(len(shares) or 1) as pool:
            for share_outcomes in pool.map(self._send_share, range(len(shares)), shares):
                outcomes.update(share_outcomes)
        return [outcomes[m.id] for m in messages]

    def _send_share(self, slot: int, messages) -> dict[str, Outcome]:
        with self.locks[slot]:
            return self._send_share_on(slot, messages)

    def _send_share_on(self, slot: int, messages) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        try:
            client = self._client(slot)
        except (OSError, smtplib.SMTPException) as exc:
            return {m.id: Outcome("retry", f"mail server unavailable: {exc}") for m in messages}
        for message in messages:
            outcomes[message.id] = self._send_one(client, message)
            if isinstance(outcomes[message.id], _Broken):
                self._drop(slot)
                break
        for message in messages:
            outcomes.setdefault(message.id, Outcome("retry", "connection to the mail server lost"))
        return outcomes

    def _send_one(self, client: smtplib.SMTP, message) -> Outcome:
        try:
            client.sendmail(self.sender, [message.address], mail_bytes(self.sender, message))
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return Outcome("failed" if 500 <= code < 600 else "retry", f"recipient refused: {code}")
        except smtplib.SMTPResponseException as exc:
            return Outcome("failed" if 500 <= exc.smtp_code < 600 else "retry",
                           f"mail server answered {exc.smtp_code}")
        except (OSError, smtplib.SMTPException) as exc:
            return _Broken("retry", f"mail server connection failed: {exc}")
        return ACCEPTED


def mail_bytes(sender: str, message) -> bytes:
    """The e-mail as sent: UTF-8 text, the message id as its Message-ID, the cause's correlation and trace.
    Built with the `compat32` classes, six times cheaper than `EmailMessage` for the same bytes on the wire."""
    mail = MIMEText(message.body, "plain", "utf-8")
    mail["From"], mail["To"], mail["Subject"] = sender, message.address, Header(message.subject, "utf-8")
    mail["Message-ID"] = f"<{message.id}@psp.notifications>"
    mail["Date"] = formatdate(localtime=False)
    if message.correlation_id:
        mail["X-Correlation-ID"] = message.correlation_id
    if message.trace_headers.get("traceparent"):
        mail["Traceparent"] = message.trace_headers["traceparent"]
    return mail.as_bytes()


class _Broken(Outcome):
    """The connection itself failed: the rest of the share waits for the retry."""


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks' signature: base64 HMAC-SHA256 of `id.timestamp.body`."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers, body: bytes, tolerance_seconds: int = 300) -> bool:
    """A signed request from a peer (the SMS gateway's delivery reports): right signature, recent timestamp."""
    message_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not secret or not message_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance_seconds:
        return False
    expected = sign(secret, message_id, stamp, body)
    return any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split())


def _post(url: str, payload: dict, secret: str, timeout: float) -> tuple[int, bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    message_id, stamp = str(uuid.uuid4()), str(int(time.time()))
    headers = {"Content-Type": "application/json", "webhook-id": message_id, "webhook-timestamp": stamp}
    if secret:
        headers["webhook-signature"] = sign(secret, message_id, stamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _http_outcome(status: int, what: str) -> Outcome:
    if 200 <= status < 300:
        return ACCEPTED
    if status in (408, 425, 429) or status >= 500:
        return Outcome("retry", f"{what} answered {status}")
    return Outcome("failed", f"{what} refused it with {status}")


class SmsGateway(Channel):
    """Texts through an HTTP gateway: it answers with its id for the text and later posts a delivery report
    (delivered or failed) to `/v1/sms/delivery-reports`, signed with the shared secret."""

    name = "sms"

    def __init__(self, url: str, secret: str, callback_url: str, timeout: float):
        self.url, self.secret, self.callback_url, self.timeout = url, secret, callback_url, timeout

    def send(self, messages):
        return [self._send_one(m) for m in messages]

    def _send_one(self, message) -> Outcome:
        payload = {"reference": message.id, "to": message.address, "text": f"{message.subject}\n{message.body}",
                   "callback_url": self.callback_url}
        try:
            status, body = _post(self.url, payload, self.secret, self.timeout)
        except (OSError, socket.timeout) as exc:
            return Outcome("retry", f"SMS gateway unreachable: {exc}")
        outcome = _http_outcome(status, "SMS gateway")
        if outcome.result != "accepted":
            return outcome
        try:
            provider_id = str(json.loads(body or b"{}").get("id", ""))
        except (ValueError, AttributeError):
            provider_id = ""
        return Outcome("accepted", provider_id=provider_id)


class Webhook(Channel):
    """The organization's endpoint, signed as Standard Webhooks; its 2xx means the message arrived."""

    name = "webhook"

    def __init__(self, secret: str, timeout: float):
        self.secret, self.timeout = secret, timeout

    def send(self, messages):
        outcomes = []
        for message in messages:
            payload = {"type": f"notification.{message.template_kind}", "message_id": message.id,
                       "recipient_id": message.recipient_id, "subject": message.subject, "body": message.body,
                       "language": message.language, "cause_id": message.cause_id}
            try:
                status, _ = _post(message.address, payload, self.secret, self.timeout)
            except (OSError, socket.timeout, ValueError) as exc:
                outcomes.append(Outcome("retry", f"webhook unreachable: {exc}"))
                continue
            outcome = _http_outcome(status, "webhook")
            outcomes.append(DELIVERED if outcome.result == "accepted" else outcome)
        return outcomes


def configured(settings: Settings, sessions: sessionmaker) -> dict[str, Channel]:
    """The channels as the settings say: a mail server and gateway when given, else the outgoing box."""
    timeout = settings.channel_timeout_seconds
    return {
        "email": Smtp(settings.smtp_url, settings.mail_from, timeout) if settings.smtp_url else Kept("email", sessions),
        "sms": (SmsGateway(settings.sms_gateway_url, settings.sms_gateway_secret, settings.sms_callback_url, timeout)
                if settings.sms_gateway_url else Kept("sms", sessions)),
        "app": Inbox(),
        "webhook": Webhook(settings.webhook_secret, timeout),
    }
