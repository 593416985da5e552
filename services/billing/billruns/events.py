"""bill.issued.v1: the bill notice per payer and unit of a run (proto/psp/billing/v1/accounts.proto)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from psp.billing.v1.accounts_pb2 import BillIssued

from services.billing.models import CURRENCY

_BILLS = uuid.UUID("9e3c1b7d-0a52-4c86-b4f1-27d5e8a06c19")


def bill_issued(*, site_id: str, unit_id: str, person_id: str, period: str, amount: Decimal,
                due_at: datetime) -> BillIssued:
    """The bill's id is derived from what it bills, so a resumed run names the same bill."""
    event = BillIssued(bill_id=str(uuid.uuid5(_BILLS, f"{unit_id}:{person_id}:{period}")), site_id=site_id,
                       unit_id=unit_id, person_id=person_id, period=period, amount=str(amount), currency=CURRENCY)
    event.due_at.FromDatetime(due_at)
    return event
