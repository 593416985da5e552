"""Ticketing for operations on SQLite: tickets opened and closed counted by type once committed, the daily
review published once per site and day to its supervisors, long engineering jobs' daily progress notices,
fee-refusal violations from billing's arrears steps, and the demo's live seed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from psp.billing.v1.accounts_pb2 import ArrearsStepTaken
from psp.ticketing.v1.repairs_pb2 import DailyReviewCompiled, ProgressNoticeIssued
from sqlalchemy import select, text, update

from services.ticketing import demo
from services.ticketing.models import chassis
from services.ticketing.people.tables import Unit
from services.ticketing.review import rules as review
from services.ticketing.review.tables import CompiledReview
from services.ticketing.sla.firing import fire_due, observe_backlog
from services.ticketing.sla.tables import Deadline, StaffMember
from services.ticketing.tickets.rules import TYPES, register
from services.ticketing.tickets.tables import Ticket
from services.ticketing.violations.rules import FEE_REFUSAL_STEPS
from services.ticketing.violations.tables import Violation
from shared import policy
from tests.conftest import ORG_A
from tests.support.tickets import a_person, a_staff_member, a_unit, deliver, staff
from tests.unit.ticketing.test_tickets import (  # noqa: F401  (known is a fixture)
    SITE, SITE_ZONE, _state, act, category_id, complaint, create, events, known, ok, refused, repair, walk,
)

CS = staff("cs-wang")
TECHNICIAN = staff("tech-zhao", roles=("technician",))


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, {"service": "ticketing", **labels}) or 0.0


def set_policy(client, setting, value, site_id=SITE):
    with _state(client).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site_id, setting=setting, new_value=value,
                        actor="test")


def backdate(client, ticket, **columns):
    with _state(client).sessions() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(**columns))


# -- metrics -----------------------------------------------------------------------------------------------


def test_tickets_opened_and_closed_are_counted_by_type_once_committed(ticketing, known):
    opened, closed = counted("tickets_opened_total", type="repair"), counted("tickets_closed_total", type="repair",
                                                                              state="closed")
    invalid = counted("tickets_closed_total", type="complaint", state="invalid")
    # Every type's series exists from the start.
    assert all(REGISTRY.get_sample_value("tickets_opened_total", {"service": "ticketing", "type": type_})
               is not None for type_ in TYPES)
    refused(ticketing.post("/v1/tickets", json=repair(known, location=None), headers=CS), 422, "location")
    assert counted("tickets_opened_total", type="repair") == opened
    ticket = create(ticketing, repair(known, category_id=category_id(ticketing, "repair.water")))
    assert counted("tickets_opened_total", type="repair") == opened + 1
    ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification",
                      json={"category_id": category_id(ticketing, "repair.water")}, headers=CS))
    ticket = walk(ticketing, ticket, "dispatch", "start", "resolve")
    ok(ticketing.post(f"/v1/tickets/{ticket['id']}/closure", json={"acceptance": "confirmation", "rating": 4},
                      headers=CS))
    assert counted("tickets_closed_total", type="repair", state="closed") == closed + 1
    ok(act(ticketing, create(ticketing, complaint(known)), "declare_invalid", reason="Street works; explained."))
    assert counted("tickets_closed_total", type="complaint", state="invalid") == invalid + 1
    # A ticket whose transaction rolls back was never opened.
    suggestions = counted("tickets_opened_total", type="suggestion")
    for keep in (False, True):
        with _state(ticketing).sessions() as session:
            register(session, organization_id=ORG_A, site_id=SITE, actor="cs-wang", roles={"cs_specialist"},
                     type="suggestion", channel="letter", subject="More benches")
            if keep:
                session.commit()
    assert counted("tickets_opened_total", type="suggestion") == suggestions + 1


def test_due_deadlines_pending_and_the_oldest_overdue_come_from_the_firing_index(ticketing, known):
    sessions = _state(ticketing).sessions
    ticket = create(ticketing, complaint(known))
    observe_backlog(sessions)
    assert counted("ticket_sla_due_pending") == 0 and counted("ticket_sla_oldest_overdue_seconds") == 0
    with sessions() as session, session.begin():
        session.execute(update(Deadline).where(Deadline.ticket_id == ticket["id"])
                        .values(next_fire_at=datetime.now(timezone.utc) - timedelta(minutes=2)))
        stages = len(session.scalars(select(Deadline.id).where(Deadline.ticket_id == ticket["id"])).all())
    observe_backlog(sessions)
    assert counted("ticket_sla_due_pending") == stages
    assert 120 <= counted("ticket_sla_oldest_overdue_seconds") < 180
    assert fire_due(sessions) == stages
    observe_backlog(sessions)
    assert counted("ticket_sla_due_pending") == 0
    # The query reads the index on next_fire_at, never the table.
    with sessions() as session:
        plan = " ".join(str(row[-1]) for row in session.execute(text(
            "EXPLAIN QUERY PLAN SELECT count(*), min(next_fire_at) FROM sla_deadlines WHERE next_fire_at <= :now"),
            {"now": datetime.now(timezone.utc)}))
    assert "USING COVERING INDEX ix_sla_deadlines_next_fire_at" in plan, plan


# -- the daily review --------------------------------------------------------------------------------------


def staff_member(user_id: str, site_roles: dict, active: bool = True) -> StaffMember:
    return StaffMember(member_id=str(uuid.uuid4()), organization_id=ORG_A, user_id=user_id, full_name=user_id,
                       active=active, reachable=True, site_roles=site_roles, version=1,
                       updated_at=datetime.now(timezone.utc))


def test_the_days_review_goes_to_the_sites_supervisors_once(ticketing, known):
    sessions = _state(ticketing).sessions
    supervisor = staff_member("cs-li", {SITE: ["cs_supervisor"]})
    manager = staff_member("sm-wu", {"*": ["site_manager"]})
    with sessions() as session, session.begin():
        session.add_all([supervisor, manager, staff_member("cs-wang", {SITE: ["cs_specialist"]}),
                         staff_member("cs-gone", {SITE: ["cs_supervisor"]}, active=False)])
    overdue, forgotten, fine = (create(ticketing, complaint(known)) for _ in range(3))
    with sessions() as session, session.begin():
        session.execute(update(Deadline).where(Deadline.ticket_id == overdue["id"])
                        .values(due_at=datetime.now(timezone.utc) - timedelta(minutes=5)))
    backdate(ticketing, forgotten, updated_at=datetime.now(timezone.utc) - timedelta(days=2))

    # Not before the site's compile time (17:30 site time by default).
    morning = datetime.now(SITE_ZONE).replace(hour=9, minute=0).astimezone(timezone.utc)
    with sessions() as session, session.begin():
        assert review.compile_site(session, ORG_A, SITE, morning) is False
    assert events(ticketing, DailyReviewCompiled) == []

    set_policy(ticketing, review.COMPILE_AT, "00:00")
    assert review.compile_due(sessions) == 1
    assert review.compile_due(sessions) == 0
    [compiled] = events(ticketing, DailyReviewCompiled)
    assert (compiled.site_id, compiled.day) == (SITE, datetime.now(SITE_ZONE).date().isoformat())
    assert (compiled.overdue, compiled.forgotten) == (1, 1)
    assert list(compiled.ticket_numbers) == [overdue["number"], forgotten["number"]]
    assert fine["number"] not in compiled.ticket_numbers
    assert list(compiled.recipient_member_ids) == sorted([supervisor.member_id, manager.member_id])
    with sessions() as session:
        assert session.get(CompiledReview, (SITE, datetime.now(SITE_ZONE).date())).overdue == 1


def test_a_bad_compile_time_stops_only_that_sites_review(ticketing, known):
    create(ticketing, complaint(known))
    set_policy(ticketing, review.COMPILE_AT, "half past five")
    assert review.compile_due(_state(ticketing).sessions) == 0
    assert events(ticketing, DailyReviewCompiled) == []


def test_long_engineering_jobs_get_a_progress_notice_a_day(ticketing, known):
    sessions = _state(ticketing).sessions
    water = category_id(ticketing, "repair.water")

    def dispatched(**overrides):
        ticket = create(ticketing, repair(known, category_id=water, **overrides))
        ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification", json={"category_id": water}, headers=CS))
        return walk(ticketing, ticket, "dispatch")

    long_job = walk(ticketing, dispatched(), "start", "pause_for_parts", headers=TECHNICIAN)
    recent = dispatched()
    finished = walk(ticketing, dispatched(), "start", "resolve")
    noise = create(ticketing, complaint(known))  # security's, not engineering's
    two_days_ago = datetime.now(timezone.utc) - timedelta(days=2)
    for old in (long_job, finished, noise):
        backdate(ticketing, old, created_at=two_days_ago)
    for body, visibility in (("已订购阀门 Valve ordered", "occupant"), ("supplier slow", "internal")):
        ok(ticketing.post(f"/v1/tickets/{long_job['id']}/comments", json={"body": body, "visibility": visibility},
                          headers=CS), 201)

    now = datetime.now(SITE_ZONE).replace(hour=18, minute=0).astimezone(timezone.utc)
    with sessions() as session, session.begin():
        assert review.compile_site(session, ORG_A, SITE, now) is True
    with sessions() as session, session.begin():
        assert review.compile_site(session, ORG_A, SITE, now) is False
    [notice] = events(ticketing, ProgressNoticeIssued)
    with sessions() as session:
        building = session.get(Unit, known["unit_id"]).building_id
    day = now.astimezone(SITE_ZONE).date().isoformat()
    assert (notice.ticket_id, notice.ticket_number, notice.site_id, notice.unit_id, notice.building_id,
            notice.day) == (long_job["id"], long_job["number"], SITE, known["unit_id"], building, day)
    assert "正在等待配件" in notice.text and "waiting for parts" in notice.text
    assert notice.text.endswith("今日进展 Today: 已订购阀门 Valve ordered") and "supplier" not in notice.text
    history = ok(ticketing.get(f"/v1/tickets/{long_job['id']}", headers=CS))["history"]
    assert [h["action"] for h in history][-1] == "notify_progress"
    assert recent["id"] != notice.ticket_id

    # The next day, the next notice: one per job and day.
    with sessions() as session, session.begin():
        assert review.compile_site(session, ORG_A, SITE, now + timedelta(days=1)) is True
    notices = events(ticketing, ProgressNoticeIssued)
    next_day = (now + timedelta(days=1)).astimezone(SITE_ZONE).date().isoformat()
    # The recent job is a day older by then, and long too.
    assert sorted((n.ticket_id, n.day) for n in notices) == sorted([
        (long_job["id"], day), (long_job["id"], next_day), (recent["id"], next_day)])
    assert len({n.notice_id for n in notices}) == 3 and "Today" not in notices[1].text


# -- fee refusal -------------------------------------------------------------------------------------------


def arrears_step(step: str, step_id: str | None = None, unit_id: str = "") -> ArrearsStepTaken:
    since, taken = Timestamp(), Timestamp()
    since.FromDatetime(datetime(2026, 5, 31, 16, tzinfo=timezone.utc))
    taken.FromDatetime(datetime.now(timezone.utc) - timedelta(hours=1))
    return ArrearsStepTaken(step_id=step_id or str(uuid.uuid4()), site_id=SITE, unit_id=unit_id,
                            person_id=str(uuid.uuid4()), step=step, amount_overdue="1234.50", currency="CNY",
                            overdue_since=since, months_overdue=6, taken_at=taken)


def fee_refusals(client) -> list[Violation]:
    with _state(client).sessions() as session:
        return session.scalars(select(Violation).where(Violation.category == "fee_refusal")
                               .order_by(Violation.created_at, Violation.id)).all()


def test_arrears_steps_the_policy_counts_are_fee_refusals_once_each(ticketing, known):
    sessions = _state(ticketing).sessions
    letter = arrears_step("demand_letter", unit_id=known["unit_id"])
    deliver(sessions, letter)
    deliver(sessions, letter)  # delivered twice
    deliver(sessions, arrears_step("reminder"), arrears_step("late_fee"))
    [refusal] = fee_refusals(ticketing)
    assert (refusal.site_id, refusal.unit_id, refusal.person_id, refusal.severity, refusal.state) == (
        SITE, known["unit_id"], letter.person_id, "general", "reported")
    assert refusal.source_reference == f"arrears:{letter.step_id}" and refusal.reported_by == "billing"
    assert "1234.50 CNY" in refusal.description and "2026-05-31" in refusal.description
    assert "demand_letter" in refusal.description

    deliver(sessions, arrears_step("litigation"))
    assert [v.severity for v in fee_refusals(ticketing)] == ["general", "major"]
    # The site counts a reminder as refusal; another site keeps the default.
    set_policy(ticketing, FEE_REFUSAL_STEPS, {"reminder": "general"})
    deliver(sessions, arrears_step("reminder"), arrears_step("demand_letter"))
    assert len(fee_refusals(ticketing)) == 3
    # A wrongly shaped override falls back to the default rather than losing the event.
    set_policy(ticketing, FEE_REFUSAL_STEPS, ["reminder"])
    deliver(sessions, arrears_step("demand_letter"))
    assert len(fee_refusals(ticketing)) == 4


# -- demo --------------------------------------------------------------------------------------------------


def test_the_demo_desk_is_seeded_once_its_units_and_people_have_arrived(ticketing):
    sessions = _state(ticketing).sessions
    with sessions() as session, session.begin():
        demo.seed(session, ORG_A)
        assert demo.seed_live(session, ORG_A) is False
    deliver(sessions, a_unit(SITE, "101"), a_unit(SITE, "102"), a_person(SITE))
    with sessions() as session, session.begin():
        assert demo.seed_live(session, ORG_A) is False
    deliver(sessions, a_person(SITE, "李娜", "+8613800000002"))
    with sessions() as session, session.begin():
        assert demo.seed_live(session, ORG_A) is False  # the tickets are in; the work order awaits its technician
    deliver(sessions, a_staff_member(SITE, "demo-technician"))
    with sessions() as session, session.begin():
        assert demo.seed_live(session, ORG_A) is True
    with sessions() as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.number)).all()
        soonest = min(session.scalars(select(Deadline.due_at).where(Deadline.state == "running")))
    year = datetime.now(SITE_ZONE).year
    assert tickets[0].number == f"HG-{year}-000001"
    assert {t.state for t in tickets} >= {"closed", "in_progress", "waiting_parts", "received", "classified",
                                          "registered", "invalid"}
    assert [t.rating for t in tickets if t.state == "closed"] == [5]
    # One about to breach: due within minutes.
    assert soonest.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc) < timedelta(minutes=6)
    with sessions() as session, session.begin():
        assert demo.seed_live(session, ORG_A) is True
    with sessions() as session:
        assert len(session.scalars(select(Ticket.id)).all()) == len(tickets)
