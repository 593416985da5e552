"""Demo data for customer profiles: a key customer, a silent one, a graded one, and the demo steward looking
after Towers A and B with most of their households known."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.people.tables import Person
from services.occupants.places.tables import Building, Site, Unit
from services.occupants.profile import rules

ACTOR = "demo-seed"
# The staff directory's demo steward (services/occupants/staff/demo.py).
STEWARD = "demo-steward"


def seed(session: Session, site: Site) -> None:
    people = {p.full_name: p for p in session.scalars(select(Person).where(Person.site_id == site.id))}
    for name, changes, reason in (
        ("张伟", {"key_customer": True, "key_customer_reason": "近三个月投诉停车管理四次", "grade": "B"}, "投诉台账"),
        ("李娜", {"silent_customer": True, "grade": "A", "notes": "偏好 App 联系,工作日晚间方便"}, "走访记录"),
    ):
        rules.change_profile(session, site, people[name], changes=changes, actor=ACTOR, reason=reason,
                             held_roles=rules.SUPERVISORS)
    towers = session.scalars(select(Building).where(Building.site_id == site.id, Building.code.in_(("A", "B")))
                             .order_by(Building.code)).all()
    for tower in towers:
        rules.assign_steward(session, site, steward=STEWARD, building=tower, unit=None, actor=ACTOR)
    households = sorted(rules.households(session, site)[STEWARD])
    known_on = rules.today_at(site) - timedelta(days=10)
    # All but one: short of the 95% target, as a new steward's area is.
    for unit in session.scalars(select(Unit).where(Unit.id.in_(households[:-1])).order_by(Unit.id)):
        rules.record_familiarity(session, site, unit, steward=STEWARD, known_on=known_on, how="visit",
                                 note="入户走访", actor=STEWARD, held_roles=())
