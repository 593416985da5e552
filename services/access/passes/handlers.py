"""Passes that follow occupants' records (SPEC §7): contractor passes live as long as their decoration
permit, a resident pass comes with an accepted move-in, and a move-out revokes everything the person held.

Each handler is idempotent beyond the inbox: a pass is issued once per (source, source id, holder), and a
revocation of a revoked pass changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from psp.occupants.v1.decoration_pb2 import DecorationCompleted, DecorationPermitted
from psp.occupants.v1.people_pb2 import OccupancyEnded
from sqlalchemy import select

from services.access.doors.tables import Door
from services.access.handlers import handlers
from services.access.models import chassis
from services.access.passes import rules
from services.access.passes.tables import Pass
from services.access.places.tables import PassHolder, Unit
from shared import policy

RESIDENT_PASS_DAYS = policy.define("access.resident_pass_days", 1825,
                                   "Days a resident pass issued at move-in lasts before it is renewed.")


def building_doors(session, organization_id: str, site_id: str, unit_id: str) -> list[str]:
    """The doors of the unit's building; all the site's doors when the building has none registered."""
    unit = session.get(Unit, unit_id)
    doors = select(Door.id).where(Door.organization_id == organization_id, Door.site_id == site_id)
    if unit is not None:
        of_building = list(session.scalars(doors.where(Door.building_id == unit.building_id).order_by(Door.id)))
        if of_building:
            return of_building
    return list(session.scalars(doors.order_by(Door.id)))


def _issued_for(session, source: str, source_id: str) -> set[str]:
    return set(session.scalars(select(Pass.holder_name).where(Pass.source == source, Pass.source_id == source_id)))


@handlers.on(DecorationPermitted)
def issue_worker_passes(session, event):
    """A QR pass per worker named on the permit, for the permit's window, through the unit's building."""
    permit = event.payload
    doors = building_doors(session, event.organization_id, permit.site_id, permit.unit_id)
    if not doors:
        return
    already = _issued_for(session, "decoration", permit.permit_id)
    for worker in permit.workers:
        if worker.full_name in already:
            continue
        rules.issue(session, organization_id=event.organization_id, site_id=permit.site_id, kind="contractor",
                    holder_name=worker.full_name, credential=None, credential_kind="qr",
                    valid_from=permit.valid_from.ToDatetime(), valid_until=permit.valid_until.ToDatetime(),
                    door_ids=doors, zone_ids=[], max_uses=0, source="decoration", source_id=permit.permit_id,
                    unit_id=permit.unit_id, actor=rules.PLATFORM,
                    reason=f"Decoration permit {permit.permit_id} ({permit.contractor_name}).")


@handlers.on(DecorationCompleted)
def revoke_worker_passes(session, event):
    """The permit ended with the works: its workers' passes open nothing from now on (ACC-6)."""
    rules.revoke_all(session, event.organization_id, Pass.source_id == event.payload.permit_id,
                     reason_code="permit_ended", reason="The decoration was completed.")


def issue_resident_pass(session, event):
    """The new occupant's building pass (a QR pass; a card can replace it at the front desk). Called by
    keys' handler of the same event (an event type has one route)."""
    accepted = event.payload
    if _issued_for(session, "move_in", accepted.move_in_id):
        return
    doors = building_doors(session, event.organization_id, accepted.site_id, accepted.unit_id)
    holder = session.get(PassHolder, accepted.person_id)
    if not doors:
        return
    starts = accepted.accepted_at.ToDatetime()
    days = int(policy.value(session, chassis, event.organization_id, accepted.site_id, RESIDENT_PASS_DAYS))
    rules.issue(session, organization_id=event.organization_id, site_id=accepted.site_id, kind="resident",
                holder_name=holder.full_name if holder else "", credential=None, credential_kind="qr",
                valid_from=starts, valid_until=starts + timedelta(days=days), door_ids=doors, zone_ids=[],
                max_uses=0, source="move_in", source_id=accepted.move_in_id, person_id=accepted.person_id,
                unit_id=accepted.unit_id, actor=rules.PLATFORM, reason="Move-in accepted.")


@handlers.on(OccupancyEnded)
def revoke_on_move_out(session, event):
    """Everything the person held at the site stops opening, and every registered system is told (ACC-6)."""
    ended = event.payload
    rules.revoke_all(session, event.organization_id,
                     (Pass.person_id == ended.person_id) & (Pass.site_id == ended.site_id),
                     reason_code="moved_out", reason=f"Occupancy ended: {ended.reason or 'moved out'}.")
