"""The paid-services catalogue (BIL-6). Each price set or withdrawn is published, so ticketing prices paid
repairs from its own copy; the charge itself comes only from ticketing's accepted-work event
(ledger/handlers.py)."""

from __future__ import annotations

from decimal import Decimal

from psp.billing.v1.catalogue_pb2 import PaidServicePriced, PaidServiceWithdrawn
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing.catalogue.tables import PaidService
from services.billing.models import CURRENCY, chassis, utcnow
from shared import audit
from shared.bus.outbox import record
from shared.problems import Problem

UNITS = ("job", "hour", "metre", "piece")


def set_price(session: Session, *, organization_id: str, site_id: str, code: str, name: str, price: Decimal,
              unit: str, actor: str) -> PaidService:
    """A new service, or a new price of one (offered again if it was withdrawn)."""
    service = session.scalar(select(PaidService).where(PaidService.site_id == site_id, PaidService.code == code)
                             .with_for_update())
    previous = None if service is None else str(service.price)
    if service is None:
        service = PaidService(organization_id=organization_id, site_id=site_id, code=code, currency=CURRENCY)
        session.add(service)
    service.name, service.price, service.unit, service.active = name, price, unit, True
    service.updated_by, service.updated_at = actor, utcnow()
    session.flush()
    audit.record_for(session, chassis.audit_log, service, entity="paid_service", action="price", actor=actor,
                     data={"code": code, "from": previous, "to": str(price), "unit": unit})
    event = PaidServicePriced(site_id=site_id, code=code, name=name, price=str(price), currency=service.currency,
                              unit=unit)
    event.effective_from.FromDatetime(service.updated_at)
    record(session, chassis.outbox, event, organization_id=organization_id)
    return service


def withdraw(session: Session, service: PaidService, *, actor: str, reason: str) -> PaidService:
    if not service.active:
        raise Problem(409, "Conflict", "The service is withdrawn already.")
    service.active, service.updated_by, service.updated_at = False, actor, utcnow()
    audit.record_for(session, chassis.audit_log, service, entity="paid_service", action="withdraw", actor=actor,
                     from_state="offered", to_state="withdrawn", reason=reason)
    record(session, chassis.outbox, PaidServiceWithdrawn(site_id=service.site_id, code=service.code),
           organization_id=service.organization_id)
    return service
