"""After-hours registrations, goods-lift bookings, temporary power and hot-work permits (ACC-2).

Each is applied for, approved or refused, and may be cancelled. An approved one may carry a pass for its
window (kind after_hours, goods_lift or temporary), revoked if the booking is cancelled. An approved
after-hours registration publishes AfterHoursRegistered, from which billing charges the air conditioning.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from psp.access.v1.afterhours_pb2 import AfterHoursRegistered
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.bookings.tables import Booking
from services.access.doors.tables import Door
from services.access.models import chassis, utcnow
from services.access.passes import rules as passes
from services.access.passes.tables import Pass
from services.access.places.tables import Unit
from shared import audit
from shared.bus import outbox
from shared.db import aware
from shared.problems import Problem, unprocessable
from shared.roles import CS_SUPERVISOR, CUSTOMER_SERVICE, MANAGERS, TECHNICIAN
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)
# Power and fire are engineering's to allow (工程部), with the supervisor or a manager.
SAFETY_APPROVERS = frozenset({TECHNICIAN, CS_SUPERVISOR, *MANAGERS})
BOOKING = Workflow("booking", "applied", [
    Step("applied", "approve", "approved", roles=CS | SAFETY_APPROVERS),
    Step("applied", "refuse", "refused", roles=CS | SAFETY_APPROVERS),
    Step("applied", "cancel", "cancelled", roles=CS),
    Step("approved", "cancel", "cancelled", roles=CS),
], final=("refused", "cancelled"))
APPROVERS = {"after_hours": CS, "goods_lift": CS, "temporary_power": SAFETY_APPROVERS, "hot_work": SAFETY_APPROVERS}
PASS_KINDS = {"after_hours": "after_hours", "goods_lift": "goods_lift", "temporary_power": "temporary",
              "hot_work": "temporary"}


def apply(session: Session, unit: Unit, *, kind: str, person_id: str, applicant_name: str, starts_at: datetime,
          ends_at: datetime, air_conditioning: bool, door_id: str | None, works_description: str,
          safety_measures: list[str], actor: str) -> Booking:
    starts_at, ends_at = passes.utc(starts_at), passes.utc(ends_at)
    if ends_at <= starts_at:
        raise unprocessable("ends_at", "A booking must end after it starts.")
    if ends_at <= utcnow():
        raise unprocessable("ends_at", "The booking would have ended already.")
    if kind == "goods_lift":
        _check_goods_lift(session, unit, door_id)
    elif door_id is not None:
        raise unprocessable("door_id", "Only a goods-lift booking names a lift.")
    if kind in ("temporary_power", "hot_work") and not (works_description.strip() and safety_measures):
        raise unprocessable("safety_measures", "Temporary power and hot work need the works and their safety "
                                               "measures (fire watch, extinguishers, a licensed electrician …).")
    booking = Booking(organization_id=unit.organization_id, site_id=unit.site_id, kind=kind, unit_id=unit.unit_id,
                      building_id=unit.building_id, person_id=person_id, applicant_name=applicant_name,
                      starts_at=starts_at, ends_at=ends_at, air_conditioning=air_conditioning and kind == "after_hours",
                      door_id=door_id, works_description=works_description, safety_measures=safety_measures,
                      state=BOOKING.initial, applied_by=actor)
    session.add(booking)
    session.flush()
    _audit(session, booking, "apply", actor, None, data={
        "kind": kind, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    return booking


def approve(session: Session, booking: Booking, *, actor: str, roles, reason: str = "",
            pass_holder_name: str | None = None, credential: str | None = None, credential_kind: str = "qr",
            door_ids: list[str] | None = None, zone_ids: list[str] | None = None) -> Booking:
    """Approve; with a holder named, issue the pass for the booking's window (a goods-lift pass opens the
    lift booked)."""
    step = BOOKING.step(booking.state, "approve", roles)
    _require_approver(booking, roles)
    if booking.kind == "goods_lift":
        _refuse_overlap(session, booking)
        door_ids = [booking.door_id]
    if pass_holder_name:
        issued = passes.issue(session, organization_id=booking.organization_id, site_id=booking.site_id,
                              kind=PASS_KINDS[booking.kind], holder_name=pass_holder_name, credential=credential,
                              credential_kind=credential_kind, valid_from=aware(booking.starts_at),
                              valid_until=aware(booking.ends_at), door_ids=door_ids or [], zone_ids=zone_ids or [],
                              max_uses=0, source="booking", source_id=booking.id, person_id=booking.person_id,
                              unit_id=booking.unit_id, actor=actor, reason=f"{booking.kind} booking approved.")
        booking.pass_id = issued.id
    booking.decided_by = actor
    _move(session, booking, step, actor, reason)
    if booking.kind == "after_hours":
        outbox.record(session, chassis.outbox, AfterHoursRegistered(
            registration_id=booking.id, site_id=booking.site_id, building_id=booking.building_id,
            unit_id=booking.unit_id, person_id=booking.person_id, starts_at=_at(booking.starts_at),
            ends_at=_at(booking.ends_at), air_conditioning=booking.air_conditioning),
            organization_id=booking.organization_id)
    return booking


def refuse(session: Session, booking: Booking, *, actor: str, roles, reason: str = "") -> Booking:
    step = BOOKING.step(booking.state, "refuse", roles)
    _require_approver(booking, roles)
    booking.decided_by = actor
    return _move(session, booking, step, actor, reason)


def cancel(session: Session, booking: Booking, *, actor: str, roles, reason: str = "") -> Booking:
    """Cancelled: its pass, if any, opens nothing from now on."""
    step = BOOKING.step(booking.state, "cancel", roles)
    if booking.pass_id:
        passes.revoke(session, session.get(Pass, booking.pass_id), reason_code="revoked_by_staff", actor=actor,
                      reason=f"The {booking.kind} booking was cancelled.")
    return _move(session, booking, step, actor, reason)


def _require_approver(booking: Booking, roles) -> None:
    if not APPROVERS[booking.kind].intersection(roles):
        raise Problem(403, "Forbidden", f"A {booking.kind} booking is decided by: "
                                        f"{', '.join(sorted(APPROVERS[booking.kind]))}.")


def _check_goods_lift(session: Session, unit: Unit, door_id: str | None) -> None:
    door = session.get(Door, door_id) if door_id else None
    if door is None or door.organization_id != unit.organization_id or door.site_id != unit.site_id \
            or door.kind != "goods_lift":
        raise unprocessable("door_id", "Name the site's goods lift (a door of kind goods_lift).")


def _refuse_overlap(session: Session, booking: Booking) -> None:
    clash = session.scalar(select(Booking.id).where(
        Booking.door_id == booking.door_id, Booking.state == "approved", Booking.id != booking.id,
        Booking.starts_at < booking.ends_at, Booking.ends_at > booking.starts_at))
    if clash:
        raise Problem(409, "Conflict", f"The goods lift is booked then already ({clash}).", field="starts_at")


def _at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(aware(moment))
    return stamp


def _move(session: Session, booking: Booking, step: Step, actor: str, reason: str) -> Booking:
    booking.state, booking.updated_at = step.target, utcnow()
    _audit(session, booking, step.action, actor, step.source, reason=reason)
    return booking


def _audit(session: Session, booking: Booking, action: str, actor: str, from_state: str | None,
           reason: str = "", data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, booking, entity="booking", action=action, actor=actor,
                     from_state=from_state, to_state=booking.state, reason=reason, data=data)
