"""The spec's office-tower move-in set (BIL-1, 写字楼入伙收费), per m²: management 8 a month paid half-yearly,
water and electricity float 25, property deposit 8, decoration waste removal 3.3, decoration deposit 10."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from services.billing.rates import rules

OFFICE_TOWER_MOVE_IN = (
    ("management_fee", "物业管理费 Management fee", "half_yearly", "8"),
    ("water_electricity_float", "代收水电周转金 Water and electricity float", "one_off", "25"),
    ("property_deposit", "物业保证金 Property deposit", "one_off", "8"),
    ("decoration_waste_removal", "装修垃圾清运费 Decoration waste removal", "one_off", "3.3"),
    ("decoration_deposit", "装修保证金 Decoration deposit", "one_off", "10"),
)


def seed_office_tower_set(session: Session, organization_id: str, site_id: str, actor: str,
                          since: date = date(2026, 1, 1)) -> None:
    """The set's items per m² at the site, priced from `since` until further notice."""
    for code, name, cycle, price in OFFICE_TOWER_MOVE_IN:
        item = rules.create_item(session, organization_id=organization_id, site_id=site_id, code=code, name=name,
                                 basis="per_area", cycle=cycle, actor=actor)
        rules.add_rate(session, item, price=Decimal(price), effective_from=since, effective_to=None, actor=actor)
