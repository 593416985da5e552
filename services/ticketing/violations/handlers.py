"""Decoration violations occupants recorded become violation records here."""

from __future__ import annotations

from psp.occupants.v1.decoration_pb2 import DecorationViolationReported

from services.ticketing.handlers import handlers
from services.ticketing.violations import rules


@handlers.on(DecorationViolationReported)
def take_decoration_violation(session, event) -> None:
    rules.receive_decoration(session, event.organization_id, event.payload)
