"""Requests other services raise: a move-in inspection's defects become rectification tickets (TKT-1)."""

from __future__ import annotations

from psp.occupants.v1.movein_pb2 import RectificationRequested

from services.ticketing.handlers import handlers
from services.ticketing.tickets import rules


@handlers.on(RectificationRequested)
def open_rectification(session, event) -> None:
    rules.receive_rectification(session, event.organization_id, event.payload)
