"""Demo data for surveys: the demo site's owner evaluation of this quarter, with a response from each of
two households."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.sla.clocks import site_calendar
from services.ticketing.visits import rules
from services.ticketing.visits.tables import Survey
from shared.roles import CS_SPECIALIST, CS_SUPERVISOR

SUPERVISOR, FRONT_DESK = "demo-cs-supervisor", "demo-front-desk"
ANSWERS = ({"reception": 5, "repairs": 4, "security": 5, "cleaning": 4, "greening": 3, "facilities": 4,
            "suggestions": "儿童游乐区增加遮阳 Shade over the playground"},
           {"reception": 4, "repairs": 2, "security": 4, "cleaning": 5, "greening": 4, "facilities": 3,
            "suggestions": "维修上门慢 Repairs come late"})


def seed_live(session: Session, organization_id: str) -> None:
    """Once, at the site of the first unit known here."""
    if session.scalar(select(Survey.id).where(Survey.organization_id == organization_id).limit(1)):
        return
    site_id = session.scalar(select(Unit.site_id).where(Unit.organization_id == organization_id).limit(1))
    if site_id is None:
        return
    today = datetime.now(site_calendar(session, site_id).zone).date()
    survey = rules.create_survey(session, organization_id=organization_id, site_id=site_id, actor=SUPERVISOR,
                                 roles={CS_SUPERVISOR}, kind="quarterly_evaluation",
                                 period=f"{today.year}-Q{(today.month - 1) // 3 + 1}",
                                 title="本季度业主评议 This quarter's owner evaluation")
    units = session.scalars(select(Unit.unit_id).where(Unit.site_id == site_id).order_by(Unit.number)).all()
    people = session.scalars(select(Reporter.person_id).where(Reporter.site_id == site_id)
                             .order_by(Reporter.full_name)).all()
    for unit_id, person_id, answers in zip(units, people, ANSWERS):
        rules.respond(session, survey, actor=FRONT_DESK, roles={CS_SPECIALIST}, answers=answers, unit_id=unit_id,
                      person_id=person_id)
