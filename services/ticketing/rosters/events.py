"""The payloads duty rosters publish; contracts in proto/psp/ticketing/v1/shifts.proto."""

from __future__ import annotations

from psp.ticketing.v1.shifts_pb2 import DutyAssigned, DutyWithdrawn


def assigned(duty) -> DutyAssigned:
    return DutyAssigned(duty_id=duty.id, site_id=duty.site_id, day=duty.day.isoformat(), shift=duty.shift,
                        user_id=duty.user_id, assigned_by=duty.assigned_by)


def withdrawn(duty, actor: str) -> DutyWithdrawn:
    return DutyWithdrawn(duty_id=duty.id, site_id=duty.site_id, day=duty.day.isoformat(), shift=duty.shift,
                         user_id=duty.user_id, withdrawn_by=actor)
