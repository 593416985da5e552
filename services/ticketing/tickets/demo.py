"""Demo data for tickets: the default categories, register numbers prefixed with the demo site's code, and,
once occupants' units and people have reached ticketing's read models, the demo site's desk at work: tickets
in several states, and an emergency repair about to miss its dispatch target."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.tickets import categories, rules
from services.ticketing.tickets.tables import Category, Ticket
from shared import policy
from shared.roles import CS_SPECIALIST, SECURITY_GUARD, TECHNICIAN

ACTOR = "demo-seed"
FRONT_DESK = "demo-front-desk"
DESK, TECHNICIANS = {CS_SPECIALIST}, {TECHNICIAN}


def seed(session: Session, organization_id: str) -> None:
    categories.ensure_defaults(session, organization_id)
    if policy.value(session, chassis, organization_id, None, rules.NUMBER_PREFIX) == rules.NUMBER_PREFIX.default:
        policy.override(session, chassis, organization_id=organization_id, site_id=None,
                        setting=rules.NUMBER_PREFIX, new_value="HG", actor=ACTOR,
                        reason="The demo organization's one site is Harbour Gardens (HG).")


def seed_live(session: Session, organization_id: str) -> bool:
    """False until a site's units and two of its people are known here; then the demo tickets, once."""
    if session.scalar(select(Ticket.id).where(Ticket.organization_id == organization_id).limit(1)):
        return True
    site_id = session.scalar(select(Unit.site_id).where(Unit.organization_id == organization_id).limit(1))
    people = session.scalars(select(Reporter).where(Reporter.organization_id == organization_id,
                                                    Reporter.site_id == site_id)
                             .order_by(Reporter.full_name)).all() if site_id else []
    if len(people) < 2:
        return False
    units = session.scalars(select(Unit).where(Unit.site_id == site_id).order_by(Unit.number, Unit.unit_id)
                            .limit(len(people))).all()
    code = dict(session.execute(select(Category.code, Category.id).where(
        Category.organization_id == organization_id)).all())
    first, second = people[0], people[1]
    home, other_home = units[0], units[-1]

    def ticket(actor=FRONT_DESK, roles=DESK, **fields):
        return rules.register(session, organization_id=organization_id, site_id=site_id, actor=actor, roles=roles,
                              **fields)

    def steps(made, *actions, roles=DESK, actor=FRONT_DESK):
        for action in actions:
            rules.take(session, made, actor=actor, roles=roles, action=action)

    # Closed: a noise complaint walked through to the return visit and the occupant's rating.
    noise = ticket(type="complaint", channel="phone", subject="楼上深夜噪音 Noise upstairs at night",
                   reporter_id=first.person_id, unit_id=home.unit_id, category_id=code["order.noise"])
    rules.classify(session, noise, actor=FRONT_DESK, roles=DESK, category_id=code["order.noise"], tier="minor")
    steps(noise, "dispatch")
    steps(noise, "start", "resolve", roles={SECURITY_GUARD}, actor="demo-guard")
    steps(noise, "inform", "visit")
    rules.close(session, noise, actor=FRONT_DESK, roles=DESK, acceptance="confirmation",
                acceptance_reference="回访电话 Return call", rating=5)
    # In progress, and waiting for parts (its clocks paused).
    for subject, category, pause in (("厨房水管漏水 Kitchen pipe leaks", "repair.water", False),
                                     ("客厅灯不亮 Living-room light out", "repair.electric", True)):
        repair = ticket(type="repair", channel="phone", subject=subject, location="in_unit",
                        reporter_id=second.person_id, unit_id=other_home.unit_id, category_id=code[category])
        rules.classify(session, repair, actor=FRONT_DESK, roles=DESK, category_id=code[category])
        rules.take(session, repair, actor=FRONT_DESK, roles=DESK, action="dispatch", assignee_id="demo-technician")
        steps(repair, "start", *(("pause_for_parts",) if pause else ()), roles=TECHNICIANS, actor="demo-technician")
    # Recorded by the gate for customer service to register.
    ticket(actor="demo-guard", roles={SECURITY_GUARD}, type="help", channel="walk_in",
           subject="访客找不到单元 A visitor cannot find the unit", reporter_id=first.person_id)
    # An inquiry whose promised reply is due within the hour.
    ticket(type="inquiry", channel="app", subject="装修时间规定 Decoration hours?", reporter_id=second.person_id,
           promised_reply_at=utcnow() + timedelta(minutes=45))
    # About to breach: an emergency registered and classified, not dispatched (target 5 minutes).
    burst = ticket(type="repair", channel="phone", subject="水管爆裂 Burst pipe in the stairwell",
                   location="public_area", place="Tower A stairwell", emergency=True, reporter_id=first.person_id,
                   category_id=code["repair.water"])
    rules.classify(session, burst, actor=FRONT_DESK, roles=DESK, category_id=code["repair.water"])
    # An unfounded complaint, explained and closed.
    unfounded = ticket(type="complaint", channel="walk_in", subject="小区施工噪音 Building-site noise",
                       reporter_id=second.person_id, category_id=code["order.noise"])
    rules.take(session, unfounded, actor=FRONT_DESK, roles=DESK, action="declare_invalid",
               reason="市政道路施工,非小区范围 Municipal road works outside the estate; explained.")
    return True
