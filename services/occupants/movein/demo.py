"""Demo data for move-in: the new Tower D's concentrated move-in, with one unit accepted after a failed first
inspection and one waiting for billing to settle its fees."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.models import utcnow
from services.occupants.movein import batches, rules
from services.occupants.people.tables import Person
from services.occupants.places import rules as places
from services.occupants.places.tables import Site

ACTOR = "demo-seed"


def seed(session: Session, site: Site) -> None:
    tower = places.add_building(session, site, code="D", name="Tower D 新楼", floors_above_ground=2)
    units = [places.add_unit(session, tower, number=number, floor=int(number[0]), kind="residence",
                             floor_area_m2=Decimal("96.00")) for number in ("101", "102", "201", "202")]
    local = ZoneInfo(site.time_zone)
    today = utcnow().astimezone(local).date()
    days = [today + timedelta(days=n) for n in range(-7, 14)]
    batch = batches.create_batch(
        session, site, actor=ACTOR, name="Tower D 集中入伙", starts_on=days[0], ends_on=days[-1],
        slots=[{"starts_at": datetime.combine(day, time(hour), local),
                "ends_at": datetime.combine(day, time(hour + 2), local), "capacity": 6}
               for day in days for hour in (9, 14)])
    slots = batches.slots_of(session, batch)
    people = {p.full_name: p for p in session.scalars(select(Person).where(Person.site_id == site.id))}

    accepted = _walk_to_fees(session, units[0], people["张伟"], slots[0].id, "owner")
    rules.settle_fees(session, accepted, request_id=accepted.fees_request_id, amount_paid="4377.60",
                      currency="CNY", receipt_numbers=["HG-000201"])
    rules.begin_inspection(session, accepted, actor=ACTOR, roles=None, water=Decimal("3.20"),
                           electricity=Decimal("15.40"), gas=Decimal("0.80"))
    rules.fail_inspection(session, accepted, actor=ACTOR, roles=None, defects=[
        {"location": "主卫 master bathroom", "description": "地漏排水不畅 floor drain drains slowly"},
        {"location": "客厅 living room", "description": "墙面裂缝约 30 cm wall crack, about 30 cm"}])
    rules.open_rectification(session, accepted, actor=ACTOR, roles=None)
    rules.begin_reinspection(session, accepted, actor=ACTOR, roles=None)
    rules.accept(session, accepted, actor=ACTOR, roles=None,
                 keys=[{"kind": "unit_door", "count": 3}, {"kind": "mailbox", "count": 2}])

    _walk_to_fees(session, units[1], people["Emma Walker"], slots[14].id, "tenant")  # today, 09:00


def _walk_to_fees(session: Session, unit, person: Person, slot_id: str, role: str):
    """Booked in a slot, papers shown, checked in, agreements signed, fees requested of billing."""
    move_in = rules.book(session, unit, actor=ACTOR, person_id=person.id, applicant_type="owner",
                         occupancy_role=role, slot_id=slot_id)
    for kind in rules.required_documents(session, move_in):
        rules.record_document(session, move_in, actor=ACTOR, kind=kind, reference=f"{kind} on file")
    rules.check_in(session, move_in, actor=ACTOR, roles=None, household_members=[], contact_phone=person.phone)
    rules.verify_identity(session, move_in, actor=ACTOR, roles=None)
    rules.sign_agreements(session, move_in, actor=ACTOR, roles=None, agreements=rules.AGREEMENTS,
                          handbooks=rules.HANDBOOKS, entrusted_services=["燃气开户 gas account opening"])
    rules.request_fees(session, move_in, actor=ACTOR, roles=None)
    return move_in
