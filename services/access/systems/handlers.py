"""Access's own pass events, turned into the changes each registered system must receive (ACC-5, ACC-6)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timezone

from psp.access.v1.passes_pb2 import PassIssued, PassRevoked

from services.access.handlers import handlers
from services.access.systems import rules, sync


def _changed_at(event):
    return event.envelope.occurred_at.ToDatetime(tzinfo=timezone.utc)


def _by_organization(events, change) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for event in events:
        grouped[event.organization_id].append(change(event))
    return grouped


@handlers.on_batch(PassIssued)
def push_grants(session, events):
    def grant(event) -> dict:
        issued = event.payload
        return {"action": "grant", "pass_id": issued.pass_id, "site_id": issued.site_id,
                "credential": issued.credential, "changed_at": _changed_at(event),
                "grant": {"kind": issued.kind, "person_id": issued.person_id, "holder_name": issued.holder_name,
                          "credential_kind": issued.credential_kind,
                          "valid_from": issued.valid_from.ToDatetime(tzinfo=timezone.utc).isoformat(),
                          "valid_until": issued.valid_until.ToDatetime(tzinfo=timezone.utc).isoformat(),
                          "door_ids": list(issued.door_ids), "max_uses": issued.max_uses}}

    for organization_id, changes in _by_organization(events, grant).items():
        rules.record_changes(session, organization_id, changes)
    sync.wake_pusher_on_commit(session)


@handlers.on_batch(PassRevoked)
def push_revocations(session, events):
    def revocation(event) -> dict:
        revoked = event.payload
        return {"action": "revoke", "pass_id": revoked.pass_id, "site_id": revoked.site_id,
                "credential": revoked.credential, "changed_at": _changed_at(event),
                "grant": {"credential_kind": revoked.credential_kind, "reason": revoked.reason, "door_ids": []}}

    for organization_id, changes in _by_organization(events, revocation).items():
        rules.record_changes(session, organization_id, changes)
    sync.wake_pusher_on_commit(session)
