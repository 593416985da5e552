"""`make run`'s demo organization on the occupants side: a site that shows every capability with data."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.archives import demo as archives_demo
from services.occupants.custody import demo as custody_demo
from services.occupants.decoration import demo as decoration_demo
from services.occupants.movein import demo as movein_demo
from services.occupants.people import demo as people_demo
from services.occupants.people.rules import register_people
from services.occupants.places import demo as places_demo
from services.occupants.places import rules as places
from services.occupants.places.tables import Site
from services.occupants.profile import demo as profile_demo
from services.occupants.staff import demo as staff_demo


def seed(session: Session, organization_id: str) -> None:
    """Skipped when the demo site exists already, so a restart keeps what was changed since."""
    if session.scalar(select(Site).where(Site.organization_id == organization_id)):
        return
    site = places.create_site(session, organization_id, code="HG", name="Harbour Gardens 海港花园")
    for code, name in (("A", "Tower A"), ("B", "Tower B")):
        building = places.add_building(session, site, code=code, name=name)
        for floor in (1, 2):
            for door in ("01", "02"):
                places.add_unit(session, building, number=f"{floor}{door}", floor=floor, kind="residence",
                                floor_area_m2=Decimal("89.50"), state="occupied")
    register_people(session, site, [
        {"kind": "individual", "full_name": "张伟", "phone": "13800000001"},
        {"kind": "individual", "full_name": "李娜", "phone": "13800000002", "email": "li.na@example.cn",
         "preferred_channels": ["app", "sms"]},
        {"kind": "individual", "full_name": "Emma Walker", "email": "emma.walker@example.com",
         "preferred_language": "en", "preferred_channels": ["email"]},
    ], registered_by="demo-seed")
    archives_demo.seed(session, site)
    staff_demo.seed(session, site)
    places_demo.seed(session, site)
    custody_demo.seed(session, site)
    profile_demo.seed(session, site)
    decoration_demo.seed(session, site)
    people_demo.seed(session, site)
    movein_demo.seed(session, site)
