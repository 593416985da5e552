"""Billing's settlement of the decoration fees and deposit unlocks the permit (OCC-8, BIL-4)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from services.occupants.decoration import rules
from services.occupants.decoration.tables import Decoration
from services.occupants.handlers import on_charges_settled

log = logging.getLogger(__name__)


@on_charges_settled("decoration")
def unlock_permit(session, event) -> None:
    """Locks the row, so two deliveries of settlements for one request move it once."""
    settled = event.payload
    decoration = session.scalar(select(Decoration).where(
        Decoration.id == settled.reference_id, Decoration.organization_id == event.organization_id)
        .with_for_update())
    if decoration is None:
        log.warning("charges settled for unknown decoration %s", settled.reference_id)
        return
    rules.settle_fees(session, decoration, request_id=settled.request_id, amount_paid=settled.amount_paid,
                      receipt_numbers=list(settled.receipt_numbers))
