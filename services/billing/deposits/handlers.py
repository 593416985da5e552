"""Occupants asks for a decoration deposit back after the completion inspection (OCC-8 → BIL-7): the refund
waits for a manager's approval in billing like any other."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from psp.occupants.v1.decoration_pb2 import DecorationDepositRefundRequested
from sqlalchemy import select

from services.billing.deposits import rules
from services.billing.handlers import handlers
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Charge
from shared.problems import Problem

log = logging.getLogger(__name__)
ACTOR = "decoration"


@handlers.on(DecorationDepositRefundRequested)
def request_decoration_refund(session, event) -> None:
    asked = event.payload
    # The deposit was charged to whoever the decoration's charges request named.
    person_id = session.scalar(select(Charge.person_id).where(
        Charge.source == "request", Charge.source_id == asked.charges_request_id,
        Charge.item == "decoration_deposit").limit(1))
    if person_id is None:
        log.warning("decoration %s: no deposit charged for request %s; no refund", asked.decoration_id,
                    asked.charges_request_id)
        return
    try:
        deductions = [{"amount": Decimal(d.amount), "reason": d.reason or "deduction"} for d in asked.deductions]
    except InvalidOperation:
        log.warning("decoration %s: a deduction is not a number; no refund", asked.decoration_id)
        return
    account = ledger.account_of(session, event.organization_id, asked.site_id, asked.unit_id, person_id)
    try:
        rules.request(session, account, key=f"decoration:{asked.request_id}", item="decoration_deposit",
                      deductions=deductions, actor=ACTOR, reason=f"decoration {asked.decoration_id} completed")
    except Problem as refused:
        log.warning("decoration %s: refund refused: %s", asked.decoration_id, refused.detail)
