"""`make run`'s demo organization on the access side: zones and doors at the demo site, a resident's card, a
car's plate, a visitor's QR pass a newcomer can fetch and verify, a key in the register lent out, and an
after-hours registration."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.bookings import rules as bookings
from services.access.doors import rules as doors
from services.access.doors.tables import Zone
from services.access.keys import rules as keys
from services.access.lending import rules as lending
from services.access.models import utcnow
from services.access.passes import rules as passes
from services.access.places.tables import Building, PassHolder, Site, Unit
from shared.roles import CS_SPECIALIST

ACTOR = "demo-seed"
# The visitor pass's token id, so the README can find its QR code: 8 bytes in hex, as generated ones are.
VISITOR_CREDENTIAL = "d3e0f1517021a2b3"


def seed_live(session: Session, organization_id: str) -> bool:
    """Once occupants' site, buildings, units and people are here: False until then, True once seeded."""
    site = session.scalar(select(Site).where(Site.organization_id == organization_id).order_by(Site.site_id))
    if site is None:
        return False
    if session.scalar(select(Zone.id).where(Zone.site_id == site.site_id)):
        return True
    buildings = session.scalars(select(Building).where(Building.site_id == site.site_id).order_by(Building.code)).all()
    people = {p.full_name: p for p in session.scalars(select(PassHolder).where(PassHolder.site_id == site.site_id))}
    units = session.scalars(select(Unit).where(Unit.site_id == site.site_id).order_by(Unit.number)).all()
    if len(buildings) < 2 or not {"张伟", "李娜"} <= people.keys() or not units:
        return False
    where = {"organization_id": organization_id, "site_id": site.site_id}
    lobby = doors.add_zone(session, **where, name="Lobbies 大堂", actor=ACTOR)
    garage = doors.add_zone(session, **where, name="Car park 停车场", actor=ACTOR)
    for building in buildings:
        for name in (f"{building.code} front door 正门", f"{building.code} turnstile 闸机"):
            doors.add_door(session, **where, building_id=building.building_id, name=name,
                           kind="turnstile" if "turnstile" in name else "door", zone_ids=[lobby.id], actor=ACTOR)
    doors.add_door(session, **where, building_id=None, name="Car park barrier 道闸", kind="barrier_gate",
                   zone_ids=[garage.id], actor=ACTOR)
    doors.add_door(session, **where, building_id=buildings[0].building_id, name="A goods lift 货梯",
                   kind="goods_lift", zone_ids=[], actor=ACTOR)
    now = utcnow()
    resident, tenant = people["张伟"], people["李娜"]
    unit = next(u for u in units if u.building_id == buildings[0].building_id)
    common = {**where, "door_ids": [], "max_uses": 0, "actor": ACTOR, "valid_from": now - timedelta(hours=1)}
    passes.issue(session, **common, kind="resident", holder_name=resident.full_name, person_id=resident.person_id,
                 unit_id=unit.unit_id, credential="0000012345", credential_kind="card",
                 valid_until=now + timedelta(days=365), zone_ids=[lobby.id], source="staff")
    passes.issue(session, **common, kind="vehicle", holder_name=tenant.full_name, person_id=tenant.person_id,
                 credential="粤B·D1234", credential_kind="plate", valid_until=now + timedelta(days=365),
                 zone_ids=[garage.id], source="staff")
    passes.issue(session, **common, kind="visitor", holder_name="访客 王先生 Mr Wang", credential=VISITOR_CREDENTIAL,
                 credential_kind="qr", valid_until=now + timedelta(days=7), zone_ids=[lobby.id], source="visit",
                 host_person_id=resident.person_id)
    key = keys.register(session, **where, unit=None, room="配电房 Switch room", tag="C-01", kind="equipment_room",
                        copies=2, actor=ACTOR)
    lending.lend(session, **where, key=key, item="", borrower_name="维修员 赵师傅", borrower_person_id=None,
                 borrower_phone="13900000009", due_at=now + timedelta(hours=4), deposit=Decimal("0.00"), actor=ACTOR,
                 roles={CS_SPECIALIST})
    booking = bookings.apply(session, unit, kind="after_hours", person_id=resident.person_id,
                             applicant_name=resident.full_name, starts_at=now + timedelta(days=1),
                             ends_at=now + timedelta(days=1, hours=4), air_conditioning=True, door_id=None,
                             works_description="周六加班 Saturday overtime", safety_measures=[], actor=ACTOR)
    bookings.approve(session, booking, actor=ACTOR, roles={CS_SPECIALIST})
    return True
