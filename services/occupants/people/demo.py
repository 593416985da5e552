"""Demo data for people: owners (one pair sharing a flat), tenants, household members, a company with its
personnel register, a tenant who moved out at the end of the lease and a flat that changed owners."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.people import rules
from services.occupants.people.tables import Person
from services.occupants.places.tables import Building, Site, Unit

ACTOR = "demo-seed"


def seed(session: Session, site: Site) -> None:
    people = {p.full_name: p.id for p in session.scalars(select(Person).where(Person.site_id == site.id))}
    people.update(zip(
        ("张小明", "王强", "刘芳", "赵磊", "陈静", "孙丽", "周建国", "海港贸易有限公司"),
        rules.register_people(session, site, [
            {"full_name": "张小明", "phone": "13800000011", "birthday": date(2012, 9, 1),
             "emergency_contact": {"name": "张伟", "phone": "13800000001", "relation": "父亲"}},
            {"full_name": "王强", "phone": "13900000021", "id_number": "11010519491231002X",
             "preferred_channels": ["app", "sms"]},
            {"full_name": "刘芳", "phone": "13900000022", "email": "liu.fang@example.cn", "birthday": date(1983, 5, 20)},
            {"full_name": "赵磊", "phone": "13700000031"},
            {"full_name": "陈静", "phone": "13700000032", "email": "chen.jing@example.cn",
             "emergency_contact": {"name": "陈刚", "phone": "13700000033", "relation": "兄"}},
            {"full_name": "孙丽", "phone": "13600000041"},
            {"full_name": "周建国", "phone": "13600000042", "preferred_language": "zh-CN"},
            {"kind": "company", "full_name": "海港贸易有限公司", "contact_name": "陈经理", "phone": "02161230000",
             "email": "office@haigang-trade.cn", "preferred_channels": ["email", "sms"]},
        ], registered_by=ACTOR)))
    units = {f"{code}-{unit.number}": unit for unit, code in session.execute(
        select(Unit, Building.code).join(Building, Unit.building_id == Building.id).where(Unit.site_id == site.id))}
    # The unit the archives' demo keeps 张伟's owner archive for.
    first = session.scalar(select(Unit).where(Unit.site_id == site.id).order_by(Unit.number).limit(1))

    def occupy(unit: Unit, name: str, role: str, start: date, share: str | None = None) -> None:
        rules.start_occupancy(session, unit=unit, person_id=people[name], role=role, start_date=start,
                              share=None if share is None else Decimal(share), actor=ACTOR)

    occupy(first, "张伟", "owner", date(2019, 6, 1))
    occupy(first, "张小明", "household_member", date(2019, 6, 1))
    occupy(units["A-102"], "王强", "owner", date(2020, 3, 15), "60")
    occupy(units["A-102"], "刘芳", "owner", date(2020, 3, 15), "40")
    occupy(units["B-202"], "李娜", "owner", date(2021, 8, 1))
    occupy(units["A-301"], "Emma Walker", "owner", date(2022, 1, 10))
    occupy(units["C-301"], "海港贸易有限公司", "tenant", date(2024, 1, 1))

    occupy(units["A-201"], "赵磊", "tenant", date(2023, 1, 1))
    rules.move_out(session, units["A-201"], reason="lease_end", end_date=date(2025, 12, 31), actor=ACTOR)
    occupy(units["A-201"], "陈静", "tenant", date(2026, 1, 15))

    occupy(units["A-202"], "孙丽", "owner", date(2018, 4, 1))
    rules.transfer_ownership(session, units["A-202"], new_owners=[{"person_id": people["周建国"]}],
                             transferred_on=date(2025, 9, 1), actor=ACTOR)

    company = session.get(Person, people["海港贸易有限公司"])
    for name, phone, position, pass_needed in (("陈经理", "13500000051", "行政经理", True),
                                               ("黄小燕", "13500000052", "前台", True),
                                               ("林涛", "13500000053", "外勤销售", False)):
        rules.add_personnel(session, company, actor=ACTOR, full_name=name, phone=phone, position=position,
                            pass_needed=pass_needed)
