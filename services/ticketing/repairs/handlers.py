"""Billing's catalogue of paid services and occupants' handovers, kept for pricing repairs. Upserts: a
redelivered event writes the same row again."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from psp.billing.v1.catalogue_pb2 import PaidServicePriced, PaidServiceWithdrawn
from psp.occupants.v1.movein_pb2 import MoveInAccepted
from sqlalchemy import update

from services.ticketing.handlers import handlers
from services.ticketing.repairs.tables import CatalogueEntry, UnitHandover
from shared import bulk
from shared.readmodel import upsert


@handlers.on_batch(PaidServicePriced)
def remember_prices(session, events):
    now = datetime.now(timezone.utc)
    upsert(session, CatalogueEntry.__table__, [{
        "site_id": event.payload.site_id, "code": event.payload.code, "organization_id": event.organization_id,
        "name": event.payload.name, "price": Decimal(event.payload.price), "currency": event.payload.currency or "CNY",
        "unit": event.payload.unit, "offered": True, "updated_at": now,
    } for event in events], key=("site_id", "code"))


@handlers.on(PaidServiceWithdrawn)
def forget_price(session, event):
    session.execute(update(CatalogueEntry).where(CatalogueEntry.site_id == event.payload.site_id,
                                                 CatalogueEntry.code == event.payload.code,
                                                 CatalogueEntry.organization_id == event.organization_id)
                    .values(offered=False, updated_at=datetime.now(timezone.utc)))


@handlers.on_batch(MoveInAccepted)
def remember_handovers(session, events):
    """The first owner's move-in starts the unit's warranty; a later move-in (a tenant, a resale) does not
    restart it, so an existing row is kept."""
    bulk.insert_new(session, UnitHandover.__table__, [{
        "unit_id": event.payload.unit_id, "organization_id": event.organization_id, "site_id": event.payload.site_id,
        "handed_over_at": event.payload.accepted_at.ToDatetime(timezone.utc),
    } for event in events if event.payload.occupancy_role == "owner"], key="unit_id")
