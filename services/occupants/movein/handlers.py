"""Billing's settlement of the move-in charges unlocks the joint inspection (OCC-3, BIL-4)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from services.occupants.handlers import on_charges_settled
from services.occupants.movein import rules
from services.occupants.movein.tables import MoveIn

log = logging.getLogger(__name__)


@on_charges_settled("move_in")
def unlock_inspection(session, event) -> None:
    """The row is locked, so two deliveries of one settlement move the move-in once; a settlement for a
    move-in no longer waiting for it changes nothing."""
    settled = event.payload
    move_in = session.scalar(select(MoveIn).where(
        MoveIn.fees_request_id == settled.request_id, MoveIn.id == settled.reference_id,
        MoveIn.organization_id == event.organization_id).with_for_update())
    if move_in is None:
        log.warning("charges settled for unknown move-in %s (request %s)", settled.reference_id, settled.request_id)
        return
    rules.settle_fees(session, move_in, request_id=settled.request_id, amount_paid=settled.amount_paid,
                      currency=settled.currency, receipt_numbers=list(settled.receipt_numbers))
