"""Demo data for custody: Tower A's unit 301 entrusted by its owner for a year abroad, its meters read twice
since, the water once over the limit (the alert is in the outbox)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.custody import rules
from services.occupants.people.tables import Person
from services.occupants.places import rules as places
from services.occupants.places.tables import Building, Site

ACTOR = "demo-seed"


def seed(session: Session, site: Site) -> None:
    tower = session.scalar(select(Building).where(Building.site_id == site.id, Building.code == "A"))
    unit = places.add_unit(session, tower, number="301", floor=3, kind="residence", floor_area_m2=Decimal("89.50"))
    owner = session.scalar(select(Person).where(Person.site_id == site.id, Person.full_name == "Emma Walker"))
    starts_on = rules.today_at(site) - timedelta(days=60)
    agreement = rules.start(session, unit, owner, actor=ACTOR, starts_on=starts_on,
                            ends_on=starts_on + timedelta(days=365), keys_held=2, water_start=Decimal("100.00"),
                            electricity_start=Decimal("2000.00"))
    for meter, reading in (("water", "103.20"), ("electricity", "2008.50"), ("water", "106.40")):
        rules.record_reading(session, agreement, meter=meter, reading=Decimal(reading), actor=ACTOR, held_roles=None)
