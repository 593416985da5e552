"""The payloads the ticket lifecycle publishes; contracts in proto/psp/ticketing/v1/tickets.proto."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from psp.ticketing.v1.tickets_pb2 import (
    TicketClosed,
    TicketOwnerChanged,
    TicketRegistered,
    TicketTransferred,
    TicketTransitioned,
)

from shared.db import aware


def _at(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(aware(moment))
    return stamp


def registered(ticket) -> TicketRegistered:
    return TicketRegistered(
        ticket_id=ticket.id, site_id=ticket.site_id, number=ticket.number, type=ticket.type, tier=ticket.tier or "",
        emergency=ticket.emergency, state=ticket.state, channel=ticket.channel, category_id=ticket.category_id or "",
        department=ticket.department, owner_id=ticket.owner_id, reporter_id=ticket.reporter_id or "",
        anonymous=ticket.anonymous, unit_id=ticket.unit_id or "", subject=ticket.subject,
        registered_at=_at(ticket.created_at), promised_reply_at=_at(ticket.promised_reply_at),
        requested_resolution_at=_at(ticket.requested_resolution_at))


def transitioned(ticket, action: str, from_state: str, actor: str, reason: str, at: datetime) -> TicketTransitioned:
    return TicketTransitioned(
        ticket_id=ticket.id, site_id=ticket.site_id, number=ticket.number, from_state=from_state,
        to_state=ticket.state, action=action, actor=actor, reason=reason, at=_at(at), type=ticket.type,
        department=ticket.department, owner_id=ticket.owner_id)


def closed(ticket, actor: str) -> TicketClosed:
    return TicketClosed(
        ticket_id=ticket.id, site_id=ticket.site_id, number=ticket.number, type=ticket.type, state=ticket.state,
        acceptance=ticket.acceptance, acceptance_reference=ticket.acceptance_reference, rating=ticket.rating or 0,
        reason=ticket.close_reason, closed_by=actor, closed_at=_at(ticket.closed_at), owner_id=ticket.owner_id,
        reporter_id=ticket.reporter_id or "", anonymous=ticket.anonymous)


def transferred(ticket, from_department: str, reason: str, actor: str, at: datetime) -> TicketTransferred:
    return TicketTransferred(
        ticket_id=ticket.id, site_id=ticket.site_id, number=ticket.number, from_department=from_department,
        to_department=ticket.department, reason=reason, actor=actor, at=_at(at))


def owner_changed(ticket, from_owner_id: str, reason: str, actor: str, at: datetime) -> TicketOwnerChanged:
    return TicketOwnerChanged(
        ticket_id=ticket.id, site_id=ticket.site_id, number=ticket.number, from_owner_id=from_owner_id,
        to_owner_id=ticket.owner_id, reason=reason, actor=actor, at=_at(at))
