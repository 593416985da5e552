"""Access's own pass events, turned into the changes each registered system must receive (ACC-5, ACC-6)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timezone

from psp.access.v1.passes_pb2 import PassIssued, PassRevoked

from services.access.handlers import handlers
from services.access.systems import rules, sync


def _by_organization(events, change) -> dict[str, list[dict]]:
    """Each organization's changes, each stamped with its event's time (the order changes are kept in)."""
    grouped = defaultdict(list)
    for event in events:
        grouped[event.organization_id].append(change(event.payload,
                                                     event.envelope.occurred_at.ToDatetime(tzinfo=timezone.utc)))
    return grouped


@handlers.on_batch(PassIssued)
def push_grants(session, events):
    for organization_id, changes in _by_organization(events, rules.grant_of).items():
        rules.record_changes(session, organization_id, changes)
    sync.wake_pusher_on_commit(session)


@handlers.on_batch(PassRevoked)
def push_revocations(session, events):
    for organization_id, changes in _by_organization(events, rules.revocation_of).items():
        rules.record_changes(session, organization_id, changes)
    sync.wake_pusher_on_commit(session)
