"""What a system answered to one pushed change, in the terms the push job acts on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ACKNOWLEDGED = "acknowledged"  # the system holds the change
SENT = "sent"  # the system took it and will acknowledge it later
RETRY = "retry"  # a passing trouble (unreachable, 5xx, busy): again after a backoff
REFUSED = "refused"  # the system refuses it as it is: again only after a resync
THROTTLED = "throttled"  # the system asked to wait (429) until `retry_at`
GONE = "gone"  # the endpoint no longer exists (410): the system is disabled


@dataclass(frozen=True)
class Outcome:
    result: str
    reason: str = ""
    retry_at: datetime | None = None
