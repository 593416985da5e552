"""Decoration violations occupants recorded, and the arrears steps billing took that count as refusing to
pay, become violation records here."""

from __future__ import annotations

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken
from psp.occupants.v1.decoration_pb2 import DecorationViolationReported

from services.ticketing.handlers import handlers
from services.ticketing.violations import rules


@handlers.on(DecorationViolationReported)
def take_decoration_violation(session, event) -> None:
    rules.receive_decoration(session, event.organization_id, event.payload)


@handlers.on(ArrearsStepTaken)
def take_fee_refusal(session, event) -> None:
    rules.receive_arrears_step(session, event.organization_id, event.payload)
