"""Occupants' site, unit, person, occupancy and custody events keep billing's read models current. Upserts: a
redelivered or replayed event writes the same row again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from psp.occupants.v1.custody_pb2 import CustodyEnded, CustodyStarted
from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import OccupancyEnded, OccupancyStarted, PersonUpdated
from psp.occupants.v1.places_pb2 import SiteRegistered, SiteUpdated, UnitChanged, UnitRegistered
from sqlalchemy import delete

from services.billing.billruns.rules import final_bill
from services.billing.handlers import handlers
from services.billing.models import utcnow
from services.billing.places.rules import PAYING_ROLES, today_at
from services.billing.places.tables import CustodyAgreement, Occupancy, Payer, Site, Unit
from shared.readmodel import upsert


@handlers.on_batch(PersonRegistered)
@handlers.on_batch(PersonUpdated)
def remember_payers(session, events):
    now = utcnow()
    upsert(session, Payer.__table__, [{
        "person_id": event.payload.person_id, "organization_id": event.organization_id,
        "full_name": event.payload.full_name, "kind": event.payload.kind, "email": event.payload.email,
        "phone": event.payload.phone, "updated_at": now,
    } for event in events], key=("person_id",))


@handlers.on_batch(SiteRegistered)
@handlers.on_batch(SiteUpdated)
def remember_sites(session, events):
    now = utcnow()
    upsert(session, Site.__table__, [{
        "site_id": event.payload.site_id, "organization_id": event.organization_id, "code": event.payload.code,
        "name": event.payload.name, "time_zone": event.payload.time_zone or "Asia/Shanghai", "updated_at": now,
    } for event in events], key=("site_id",))


@handlers.on_batch(UnitRegistered)
@handlers.on_batch(UnitChanged)
def remember_units(session, events):
    now = utcnow()
    upsert(session, Unit.__table__, [{
        "unit_id": event.payload.unit_id, "organization_id": event.organization_id,
        "site_id": event.payload.site_id, "building_id": event.payload.building_id,
        "number": event.payload.number, "kind": event.payload.kind,
        "floor_area_m2": Decimal(event.payload.floor_area_m2 or "0"), "state": event.payload.state,
        "updated_at": now,
    } for event in events], key=("unit_id",))


@handlers.on_batch(OccupancyStarted)
def remember_occupancies(session, events):
    now = utcnow()
    upsert(session, Occupancy.__table__, [{
        "occupancy_id": event.payload.occupancy_id, "organization_id": event.organization_id,
        "site_id": event.payload.site_id, "unit_id": event.payload.unit_id, "person_id": event.payload.person_id,
        "role": event.payload.role, "ended": False, "updated_at": now,
    } for event in events], key=("occupancy_id",))


@handlers.on(OccupancyEnded)
def move_out(session, event):
    """A payer's move-out raises the final bill while they are still the unit's payer, then ends the
    occupancy in the read model (SPEC §7)."""
    ended = event.payload
    occupancy = session.get(Occupancy, ended.occupancy_id)
    if occupancy is None or occupancy.ended:
        return
    if ended.role in PAYING_ROLES:
        day = date.fromisoformat(ended.end_date) if ended.end_date else today_at(session, ended.site_id)
        final_bill(session, event.organization_id, ended.unit_id, day)
    occupancy.ended = True
    occupancy.updated_at = utcnow()


@handlers.on_batch(CustodyStarted)
def remember_custody(session, events):
    now = utcnow()
    upsert(session, CustodyAgreement.__table__, [{
        "unit_id": event.payload.unit_id, "agreement_id": event.payload.agreement_id,
        "organization_id": event.organization_id, "site_id": event.payload.site_id,
        "fee_rate": _share(event.payload.fee_rate), "updated_at": now,
    } for event in events], key=("unit_id",))


def _share(fee_rate: str) -> Decimal | None:
    """The agreed share, or None (the site's policy share) when the agreement names none or no share."""
    try:
        share = Decimal(fee_rate)
    except InvalidOperation:
        return None
    return share if share.is_finite() and 0 <= share <= 1 else None


@handlers.on(CustodyEnded)
def forget_custody(session, event):
    """Only the agreement that ended: a newer one for the unit stays."""
    session.execute(delete(CustodyAgreement).where(CustodyAgreement.unit_id == event.payload.unit_id,
                                                   CustodyAgreement.agreement_id == event.payload.agreement_id))
