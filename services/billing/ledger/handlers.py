"""Charges other services ask for: occupants' move-in and decoration fees (OCC-3, OCC-8), ticketing's accepted
paid work (BIL-6), access's after-hours use with air conditioning (SPEC §7). Each source id raises its
charges once: the charge keys are unique, and a redelivered event finds them taken."""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from decimal import Decimal, InvalidOperation

from psp.access.v1.afterhours_pb2 import AfterHoursRegistered
from psp.occupants.v1.charges_pb2 import ChargesRequested
from psp.ticketing.v1.repairs_pb2 import RepairWorkAccepted

from services.billing.handlers import handlers
from services.billing.ledger import rules
from services.billing.ledger.tables import ChargeRequest
from services.billing.models import CURRENCY, to_fen
from services.billing.places.rules import today_at
from services.billing.places.tables import Unit
from services.billing.rates import rules as rates
from shared import bulk

log = logging.getLogger(__name__)
OVERTIME_AIR_CONDITIONING = "overtime_air_conditioning"


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@handlers.on(ChargesRequested)
def raise_requested_charges(session, event) -> None:
    request = event.payload
    new = bulk.insert_new(session, ChargeRequest.__table__, [{
        "request_id": request.request_id, "organization_id": event.organization_id, "site_id": request.site_id,
        "unit_id": request.unit_id, "purpose": request.purpose, "reference_id": request.reference_id,
        "settled_at": None}], key="request_id")
    if not new:
        return
    account = rules.account_of(session, event.organization_id, request.site_id, request.unit_id, request.person_id)
    today = today_at(session, request.site_id)
    prices = rates.prices_on(session, request.site_id, today)
    unit = session.get(Unit, request.unit_id)
    rows = []
    for number, line in enumerate(request.charges):
        amount = _decimal(line.amount) if line.amount else None
        if line.amount and (amount is None or amount < 0):
            log.warning("request %s asks %r for %s, not an amount: charged at 0", request.request_id, line.amount,
                        line.item)
            amount = Decimal(0)
        if amount is None:
            if line.item not in prices:
                log.warning("no rate for %s at site %s: request %s charges it at 0", line.item, request.site_id,
                            request.request_id)
                amount = Decimal(0)
            else:
                item, price = prices[line.item]
                months = rates.CYCLES[item.cycle] or 1
                amount = rates.amount(item, price, rates.Quantities(
                    area=unit.floor_area_m2 if unit else Decimal(0), months=months))
        rows.append(rules.charge_row(
            account, key=f"request:{request.request_id}:{number}", item=line.item, amount=to_fen(amount),
            period="", description=line.description or line.item, source="request", source_id=request.request_id,
            due_on=today, currency=line.currency or CURRENCY))
    rules.raise_charges(session, rows)
    # Prepaid money settles them at once; a request with nothing to pay is settled as it arrives.
    rules.spend_prepaid(session, [account.id])
    rules.settle_if_paid(session, request.request_id)


@handlers.on(RepairWorkAccepted)
def charge_paid_work(session, event) -> None:
    """BIL-6: the charge exists only from the occupant's acceptance of the work, at the price quoted."""
    work = event.payload
    amount = _decimal(work.amount)
    if amount is None or amount < 0:
        log.warning("work order %s carries no amount %r: nothing charged", work.work_order_id, work.amount)
        return
    account = rules.account_of(session, event.organization_id, work.site_id, work.unit_id, work.person_id)
    rules.raise_charges(session, [rules.charge_row(
        account, key=f"repair:{work.work_order_id}", item="paid_service", amount=to_fen(amount), period="",
        description=work.description or work.service_code, source="paid_service", source_id=work.work_order_id,
        due_on=today_at(session, work.site_id), currency=work.currency or CURRENCY)])
    rules.spend_prepaid(session, [account.id])


@handlers.on(AfterHoursRegistered)
def charge_overtime_air_conditioning(session, event) -> None:
    """Hours of after-hours use with air conditioning, at the site's overtime rate on the day it starts."""
    registration = event.payload
    if not registration.air_conditioning:
        return
    starts = registration.starts_at.ToDatetime(tzinfo=timezone.utc)
    ends = registration.ends_at.ToDatetime(tzinfo=timezone.utc)
    hours = Decimal(max(int((ends - starts) / timedelta(minutes=1)), 0)) / 60
    day = today_at(session, registration.site_id, starts)
    priced = rates.prices_on(session, registration.site_id, day).get(OVERTIME_AIR_CONDITIONING)
    if priced is None:
        log.warning("no overtime air-conditioning rate at site %s: registration %s not charged",
                    registration.site_id, registration.registration_id)
        return
    item, price = priced
    account = rules.account_of(session, event.organization_id, registration.site_id, registration.unit_id,
                               registration.person_id)
    rules.raise_charges(session, [rules.charge_row(
        account, key=f"after_hours:{registration.registration_id}", item=item.code,
        amount=rates.amount(item, price, rates.Quantities(uses=hours)), period="",
        description=f"{item.name} {hours.quantize(Decimal('0.01'))} h", source="after_hours",
        source_id=registration.registration_id, due_on=day)])
    rules.spend_prepaid(session, [account.id])
