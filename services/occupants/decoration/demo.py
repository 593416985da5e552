"""Demo data for decoration: unit B-202's kitchen and bathroom works under way, with the permit issued, the
fees paid and one overtime application waiting for the supervisor."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.decoration import rules
from services.occupants.people.tables import Person
from services.occupants.places.tables import Building, Site, Unit
from services.occupants.models import utcnow

ACTOR = "demo-seed"


def seed(session: Session, site: Site) -> None:
    unit = session.scalar(select(Unit).join(Building, Unit.building_id == Building.id)
                          .where(Building.site_id == site.id, Building.code == "B", Unit.number == "202"))
    owner = session.scalar(select(Person).where(Person.site_id == site.id, Person.full_name == "李娜"))
    decoration = rules.apply(
        session, unit, actor=ACTOR, person_id=owner.id if owner else None, applicant_kind="owner",
        applicant_name="李娜", applicant_phone="13800000002", contractor_name="明华装饰工程有限公司",
        works_description="厨房、卫生间翻新,更换地砖及橱柜,不涉及主体结构", structural_change=False,
        load_increase=False)
    rules.verify_identity(session, decoration, actor=ACTOR, roles=None)
    rules.review_plan(session, decoration, actor=ACTOR, roles=None, decision="approve")
    rules.sign_agreement(session, decoration, actor=ACTOR, roles=None, agreement_reference="ZX-HG-2026-001")
    rules.settle_fees(session, decoration, request_id=decoration.charges_request_id,
                      amount_paid=str(decoration.waste_removal_fee + decoration.deposit), receipt_numbers=["HG-000001"])
    local = ZoneInfo(site.time_zone)
    today = utcnow().astimezone(local).date()
    rules.issue_permit(
        session, decoration, actor=ACTOR, roles=None,
        valid_from=datetime.combine(today, time(8), local), valid_until=datetime.combine(today + timedelta(days=45),
                                                                                          time(18), local),
        workers=[{"full_name": "王强", "phone": "13700000002", "id_number": "440304198506123412"},
                 {"full_name": "赵敏", "phone": "13700000003", "id_number": "320106199203085622"}])
    rules.start_works(session, decoration, actor=ACTOR, roles=None)
    evening = today + timedelta(days=1)
    rules.apply_overtime(session, decoration, actor=ACTOR, starts_at=datetime.combine(evening, time(18), local),
                         ends_at=datetime.combine(evening, time(20, 30), local), works="铺贴卫生间墙砖,无电钻作业")
