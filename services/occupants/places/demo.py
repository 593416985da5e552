"""The demo site's places: its calendar with holiday overrides, and units in every state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from services.occupants.places import rules
from services.occupants.places.tables import Site


def seed(session: Session, site: Site) -> None:
    # The centre closes for lunch on Saturdays; National Day week off, made up on Saturday 9 October (调休).
    hours = [frame for frame in rules.DEFAULT_RECEPTION_HOURS if frame["weekday"] != 6] + [
        {"weekday": 6, "opens": "09:00", "closes": "12:00"}, {"weekday": 6, "opens": "13:30", "closes": "17:00"}]
    holidays = [{"date": date(2027, 10, day), "kind": "holiday", "name": "国庆节 National Day"} for day in range(1, 8)]
    rules.update_site(session, site, actor="demo-seed", reason="Saturday lunch break; National Day 2027",
                      reception_hours=hours,
                      holiday_overrides=[*holidays, {"date": date(2027, 10, 9), "kind": "workday", "name": "调休上班"}])
    building = rules.add_building(session, site, code="C", name="Podium C 裙楼", floors_above_ground=3,
                                  floors_below_ground=2)
    for number, floor, kind, area, state in (
        ("101", 1, "shop", "45.00", "rented"),
        ("102", 1, "shop", "38.50", "vacant"),
        ("201", 2, "office", "120.00", "renovating"),
        ("301", 3, "office", "96.80", "occupied"),
        ("B1-001", -1, "parking", "12.50", "rented"),
        ("B2-017", -2, "storage", "6.20", "vacant"),
    ):
        rules.add_unit(session, building, number=number, floor=floor, kind=kind, floor_area_m2=Decimal(area),
                       state=state)
    kept = rules.add_unit(session, building, number="302", floor=3, kind="office", floor_area_m2=Decimal("88.00"))
    rules.change_unit(session, kept, actor="demo-seed", reason="Owner abroad for a year; custody agreement signed",
                      held_roles=None, state="in_custody")
