"""Billing's catalogue of paid services and occupants' handovers, kept for pricing repairs. A redelivered
event writes the same row again; a catalogue change older than the one a row holds changes nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from psp.billing.v1.catalogue_pb2 import PaidServicePriced, PaidServiceWithdrawn
from psp.occupants.v1.movein_pb2 import MoveInAccepted
from sqlalchemy import and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from services.ticketing.handlers import handlers
from services.ticketing.repairs.tables import CatalogueEntry, UnitHandover
from shared import bulk

KEY = ("site_id", "code")


@handlers.on_batch(PaidServicePriced)
def remember_prices(session, events):
    """Each service's newest price by `effective_from`: a price older than the row's (delivered late) is
    ignored, one as old corrects a price still offered, and only a newer one offers a withdrawn service again."""
    now, newest = datetime.now(timezone.utc), {}
    for event in events:
        row = {"site_id": event.payload.site_id, "code": event.payload.code, "organization_id": event.organization_id,
               "name": event.payload.name, "price": Decimal(event.payload.price),
               "currency": event.payload.currency or "CNY", "unit": event.payload.unit, "offered": True,
               "effective_from": event.payload.effective_from.ToDatetime(timezone.utc), "updated_at": now}
        held = newest.get((row["site_id"], row["code"]))
        if held is None or held["effective_from"] <= row["effective_from"]:
            newest[row["site_id"], row["code"]] = row
    table = CatalogueEntry.__table__
    insert = (postgresql.insert if session.connection().dialect.name == "postgresql" else sqlite.insert)(table)
    newer = or_(table.c.effective_from < insert.excluded.effective_from,
                and_(table.c.effective_from == insert.excluded.effective_from, table.c.offered))
    session.execute(insert.on_conflict_do_update(
        index_elements=list(KEY), set_={c.name: insert.excluded[c.name] for c in table.c if c.name not in KEY},
        where=newer), list(newest.values()))


@handlers.on(PaidServiceWithdrawn)
def forget_price(session, event):
    """Withdrawn as of the event's instant, unless the row holds a price newer than that."""
    at = event.envelope.occurred_at.ToDatetime(timezone.utc)
    session.execute(update(CatalogueEntry).where(CatalogueEntry.site_id == event.payload.site_id,
                                                 CatalogueEntry.code == event.payload.code,
                                                 CatalogueEntry.organization_id == event.organization_id,
                                                 CatalogueEntry.effective_from <= at)
                    .values(offered=False, effective_from=at, updated_at=datetime.now(timezone.utc)))


@handlers.on_batch(MoveInAccepted)
def remember_handovers(session, events):
    """The first owner's move-in starts the unit's warranty; a later move-in (a tenant, a resale) does not
    restart it, so an existing row is kept."""
    bulk.insert_new(session, UnitHandover.__table__, [{
        "unit_id": event.payload.unit_id, "organization_id": event.organization_id, "site_id": event.payload.site_id,
        "handed_over_at": event.payload.accepted_at.ToDatetime(timezone.utc),
    } for event in events if event.payload.occupancy_role == "owner"], key="unit_id")
