"""Passes that follow occupants' records (SPEC §7): contractor passes live as long as their decoration
permit and open on its working days and hours (and approved overtime), a resident pass comes with an accepted
move-in, and a move-out revokes everything the person held.

A pass asked for while the site has no doors is held until it has some (services.access.passes.held).
Each handler is idempotent beyond the inbox: a pass is issued or held once per (source, source id, holder),
and a revocation of a revoked pass changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psp.occupants.v1.decoration_pb2 import DecorationCompleted, DecorationOvertimeApproved, DecorationPermitted
from psp.occupants.v1.people_pb2 import OccupancyEnded
from sqlalchemy import select

from services.access.handlers import handlers
from services.access.keys import rules as keys
from services.access.models import chassis
from services.access.passes import held, rules, schedule
from services.access.passes.scope import building_doors
from services.access.passes.tables import LIVE, HeldPass, Pass
from services.access.places.tables import PassHolder, Site
from shared import policy

RESIDENT_PASS_DAYS = policy.define("access.resident_pass_days", 1825,
                                   "Days a resident pass issued at move-in lasts before it is renewed.")
# A site occupants has not told about yet keeps permits' hours in the platform's home time zone.
DEFAULT_TIME_ZONE = "Asia/Shanghai"


def _issued_for(session, source: str, source_id: str) -> set[str]:
    return set(session.scalars(select(Pass.holder_name).where(Pass.source == source, Pass.source_id == source_id)))


def _issue_or_hold(session, *, organization_id: str, site_id: str, unit_id: str | None, kind: str,
                   holder_name: str, valid_from: datetime, valid_until: datetime, source: str, source_id: str,
                   person_id: str | None = None, schedule: dict | None = None, reason: str) -> None:
    """The pass through the unit's building's doors; held until the site has doors when it has none."""
    if holder_name in _issued_for(session, source, source_id) | held.is_held(session, source, source_id):
        return
    wanted = {"unit_id": unit_id, "kind": kind, "holder_name": holder_name, "valid_from": valid_from,
              "valid_until": valid_until, "source": source, "source_id": source_id, "person_id": person_id,
              "schedule": schedule, "reason": reason}
    doors = building_doors(session, organization_id, site_id, unit_id)
    if not doors:
        held.hold(session, organization_id=organization_id, site_id=site_id, **wanted)
        return
    rules.issue(session, organization_id=organization_id, site_id=site_id, credential=None, credential_kind="qr",
                door_ids=doors, zone_ids=[], max_uses=0, actor=rules.PLATFORM, **wanted)


@handlers.on(DecorationPermitted)
def issue_worker_passes(session, event):
    """A QR pass per worker named on the permit, for the permit's window and working hours, through the unit's
    building."""
    permit = event.payload
    site = session.get(Site, permit.site_id)
    hours = schedule.stored(site.time_zone if site else DEFAULT_TIME_ZONE, list(permit.working_days),
                            [(h.start, h.end) for h in permit.working_hours])
    for worker in permit.workers:
        _issue_or_hold(session, organization_id=event.organization_id, site_id=permit.site_id,
                       unit_id=permit.unit_id, kind="contractor", holder_name=worker.full_name,
                       valid_from=permit.valid_from.ToDatetime(), valid_until=permit.valid_until.ToDatetime(),
                       source="decoration", source_id=permit.permit_id, schedule=hours,
                       reason=f"Decoration permit {permit.permit_id} ({permit.contractor_name}).")


@handlers.on(DecorationOvertimeApproved)
def let_workers_in_for_overtime(session, event):
    """Approved overtime (装修加班): the permit's workers' passes also open from its start to its end."""
    overtime = event.payload
    starts, ends = overtime.starts_at.ToSeconds(), overtime.ends_at.ToSeconds()
    reason = f"Overtime {overtime.overtime_id} approved."
    for pass_ in session.scalars(select(Pass).where(Pass.organization_id == event.organization_id,
                                                    Pass.source_id == overtime.permit_id, Pass.state == LIVE)
                                 .order_by(Pass.id).with_for_update()):
        if pass_.schedule and pass_.schedule != (widened := schedule.with_overtime(pass_.schedule, starts, ends)):
            rules.reschedule(session, pass_, widened, reason=reason)
    for waiting in session.scalars(select(HeldPass).where(HeldPass.organization_id == event.organization_id,
                                                          HeldPass.source_id == overtime.permit_id,
                                                          HeldPass.state == held.AWAITING)):
        if waiting.schedule:
            waiting.schedule = schedule.with_overtime(waiting.schedule, starts, ends)


@handlers.on(DecorationCompleted)
def revoke_worker_passes(session, event):
    """The permit ended with the works: its workers' passes open nothing from now on (ACC-6)."""
    permit_id = event.payload.permit_id
    rules.revoke_all(session, event.organization_id, Pass.source_id == permit_id,
                     reason_code="permit_ended", reason="The decoration was completed.")
    held.drop_all(session, event.organization_id, HeldPass.source_id == permit_id, "The decoration was completed.")


def issue_resident_pass(session, event):
    """The new occupant's building pass (a QR pass; a card can replace it at the front desk). Called by
    keys' handler of the same event (an event type has one route)."""
    accepted = event.payload
    holder = session.get(PassHolder, accepted.person_id)
    starts = accepted.accepted_at.ToDatetime()
    days = int(policy.value(session, chassis, event.organization_id, accepted.site_id, RESIDENT_PASS_DAYS))
    _issue_or_hold(session, organization_id=event.organization_id, site_id=accepted.site_id,
                   unit_id=accepted.unit_id, kind="resident", holder_name=holder.full_name if holder else "",
                   valid_from=starts, valid_until=starts + timedelta(days=days), source="move_in",
                   source_id=accepted.move_in_id, person_id=accepted.person_id, reason="Move-in accepted.")


@handlers.on(OccupancyEnded)
def revoke_on_move_out(session, event):
    """Everything the person held at the site stops opening, and every registered system is told (ACC-6);
    the keys they held are flagged outstanding until returned (services.access.keys)."""
    ended = event.payload
    reason = f"Occupancy ended: {ended.reason or 'moved out'}."
    rules.revoke_all(session, event.organization_id,
                     (Pass.person_id == ended.person_id) & (Pass.site_id == ended.site_id),
                     reason_code="moved_out", reason=reason)
    held.drop_all(session, event.organization_id,
                  (HeldPass.person_id == ended.person_id) & (HeldPass.site_id == ended.site_id), reason)
    keys.flag_outstanding(session, event.organization_id, ended.site_id, ended.person_id, reason=reason)
