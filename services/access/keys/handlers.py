"""An accepted move-in hands keys over: the handover waits for the occupant's signature (SPEC §7)."""

from __future__ import annotations

from psp.occupants.v1.movein_pb2 import MoveInAccepted

from services.access.handlers import handlers
from services.access.keys import rules
from services.access.passes.handlers import issue_resident_pass


@handlers.on(MoveInAccepted)
def record_key_handover(session, event):
    accepted = event.payload
    rules.record_handover(session, organization_id=event.organization_id, site_id=accepted.site_id,
                          unit_id=accepted.unit_id, person_id=accepted.person_id, move_in_id=accepted.move_in_id,
                          keys=[{"kind": k.kind, "count": k.count} for k in accepted.keys])
    issue_resident_pass(session, event)
