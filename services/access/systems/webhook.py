"""The generic adapter: each change is one structured CloudEvent POSTed to the system's URL, signed the
Standard Webhooks way with the system's secret. CloudEvents defines the body and no signature, Standard
Webhooks the signature and no body, so the two combine. What the system sends back (entries, exits, late
acknowledgements) comes signed with the same secret and is verified here.

The webhook id is the change's id, the same on every retry, so a receiver that saw it already knows the
change; the timestamp is the attempt's, so a captured request cannot be replayed later than the receiver's
tolerance (five minutes).
"""

from __future__ import annotations

import binascii
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import httpx
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks import Webhook, WebhookVerificationError

from services.access.systems.outcome import (
    ACKNOWLEDGED,
    GONE,
    REFUSED,
    RETRY,
    SENT,
    THROTTLED,
    Outcome,
)
from services.access.systems.rules import utc
from shared.problems import Problem

GRANT_TYPE = "psp.access.grant.v1"
REVOKE_TYPE = "psp.access.revoke.v1"
# Sent by systems:
PASSED_TYPE = "psp.access.door_passed.v1"
ACKNOWLEDGED_TYPE = "psp.access.acknowledged.v1"
DEFAULT_RETRY_AFTER = timedelta(seconds=30)
FORMAT = JSONFormat()


def source_of(system_id: str) -> str:
    return f"/psp/access/systems/{system_id}"


def change_event(system, row, doors: list[str]) -> CloudEvent:
    """The change as a CloudEvent: the grant with the system's own door ids, or the revocation."""
    data = {"pass_id": row.pass_id, "credential": row.credential,
            "credential_kind": row.grant.get("credential_kind", "")}
    if row.action == "grant":
        data.update(holder_name=row.grant.get("holder_name", ""), valid_from=row.grant["valid_from"],
                    valid_until=row.grant["valid_until"], doors=doors, max_uses=row.grant.get("max_uses", 0))
    return CloudEvent({"type": GRANT_TYPE if row.action == "grant" else REVOKE_TYPE, "source": source_of(system.id),
                       "id": row.change_id, "subject": row.credential, "time": utc(row.changed_at),
                       "datacontenttype": "application/json"}, data)


def signed(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for this body."""
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body.decode())}


def push(client: httpx.Client, system, row, doors: list[str]) -> Outcome:
    message = to_structured(change_event(system, row, doors), FORMAT)
    headers = {**message.headers, **signed(system.secret, row.change_id, message.body, datetime.now(timezone.utc))}
    try:
        response = client.post(system.base_url, content=message.body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(RETRY, f"unreachable: {exc.__class__.__name__}")
    return answer_of(response)


def answer_of(response: httpx.Response) -> Outcome:
    status = response.status_code
    if status == 202:
        return Outcome(SENT, "accepted (202); awaiting the system's acknowledgement")
    if 200 <= status < 300:
        return Outcome(ACKNOWLEDGED)
    if status == 410:
        return Outcome(GONE, "the endpoint answered 410 Gone; the system is disabled")
    if status == 429:
        retry_at = retry_after(response.headers.get("Retry-After"), datetime.now(timezone.utc))
        return Outcome(THROTTLED, f"the system asked to wait (429) until {retry_at.isoformat()}", retry_at)
    if status >= 500 or status == 408:
        return Outcome(RETRY, f"HTTP {status}")
    return Outcome(REFUSED, f"refused: HTTP {status} {response.text[:200]}".strip())


def retry_after(header: str | None, now: datetime) -> datetime:
    """Retry-After as seconds or as an HTTP date; a missing or unreadable one waits a default time."""
    if header:
        try:
            return now + timedelta(seconds=max(0, int(header)))
        except ValueError:
            pass
        try:
            return max(now, parsedate_to_datetime(header).astimezone(timezone.utc))
        except (TypeError, ValueError):
            pass
    return now + DEFAULT_RETRY_AFTER


def verify(system, body: bytes, headers) -> None:
    """What a system sent is signed with its secret, within the tolerance; otherwise 401 with the reason."""
    try:
        Webhook(system.secret).verify(body, dict(headers.items()), json_parse=False)
    except WebhookVerificationError as exc:
        raise Problem(401, "Unauthorized", f"The webhook signature does not verify: {exc}.",
                      extra={"reason": "replayed" if "timestamp" in str(exc) else "bad_signature"}) from exc
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Problem(401, "Unauthorized", "The webhook signature headers are malformed.",
                      extra={"reason": "bad_signature"}) from exc
