"""The payloads shift handovers publish; contracts in proto/psp/ticketing/v1/shifts.proto."""

from __future__ import annotations

from psp.ticketing.v1.shifts_pb2 import HandoverAcknowledged, HandoverWritten

from services.ticketing.tickets.events import _at


def written(record) -> HandoverWritten:
    return HandoverWritten(handover_id=record.id, site_id=record.site_id, day=record.day.isoformat(),
                           shift=record.shift, ticket_ids=[item["ticket_id"] for item in record.items],
                           written_by=record.written_by, written_at=_at(record.written_at))


def acknowledged(record) -> HandoverAcknowledged:
    return HandoverAcknowledged(handover_id=record.id, site_id=record.site_id, day=record.day.isoformat(),
                                shift=record.shift, acknowledged_by=record.acknowledged_by,
                                acknowledged_at=_at(record.acknowledged_at))
