"""SLA engine on PostgreSQL and RabbitMQ: the read models fed by occupants' real events, the worker's firing
job escalating from them, and two firers racing over the same due deadlines each firing once."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from psp.events.v1.envelope_pb2 import Envelope
from psp.ticketing.v1.sla_pb2 import TicketSlaBreached
from sqlalchemy import func, select

from services.ticketing.models import chassis
from services.ticketing.rosters import rules as rosters
from services.ticketing.sla import clocks, firing
from services.ticketing.sla.tables import Deadline, SiteCalendarRow, StaffMember
from shared import auth, db
from shared.bus.envelope import unpack
from shared.config import Settings
from tests.conftest import ORG_A, SECRET, create_site, migrate, running_workers, wait_until
from tests.support.tickets import a_person, a_staff_member, a_unit, deliver, staff

pytestmark = pytest.mark.integration

GM = {"Authorization": "Bearer " + auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject="gm", organization_id=ORG_A,
                                             roles=["general_manager"], sites=["*"])}


def ticket(site_id: str, created: datetime, owner: str = "specialist") -> SimpleNamespace:
    return SimpleNamespace(id=str(uuid.uuid4()), organization_id=ORG_A, site_id=site_id, number="HG-2026-000009",
                           type="complaint", tier="important", emergency=False, state="registered", owner_id=owner,
                           created_at=created, promised_reply_at=None, requested_resolution_at=None,
                           category_id=None)


def test_occupants_events_feed_the_read_models_and_the_worker_escalates_from_them(platform_env, occupants_api):
    site = create_site(occupants_api)
    for user_id, roles in (("specialist", ["cs_specialist"]), ("supervisor", ["cs_supervisor"])):
        response = occupants_api.post("/v1/staff", headers=GM, json={
            "user_id": user_id, "full_name": user_id, "department": "customer_service",
            "site_roles": [{"site_id": site["id"], "roles": roles}]})
        assert response.status_code == 201, response.get_json()
    engine = db.make_engine(platform_env["ticketing"])
    sessions = db.make_sessionmaker(engine)
    with running_workers("occupants", "ticketing"):
        def known() -> bool:
            with sessions() as session:
                return (session.get(SiteCalendarRow, site["id"]) is not None
                        and session.scalar(select(func.count()).select_from(StaffMember)) == 2)

        wait_until(known, what="the site's calendar and the staff in ticketing's read models")
        # An important complaint must reach the supervisor within the hour: two hours ago it breached.
        overdue = ticket(site["id"], datetime.now(timezone.utc) - timedelta(hours=2))
        with sessions() as session, session.begin():
            clocks.on_transition(session, overdue, "register", None, "registered", overdue.created_at)

        def breached():
            with sessions() as session:
                return session.scalar(select(Deadline).where(Deadline.ticket_id == overdue.id,
                                                             Deadline.stage == "reach_supervisor",
                                                             Deadline.state == "breached"))

        wait_until(breached, what="the worker's firing job to breach the deadline")
    with sessions() as session:
        rows = session.execute(select(chassis.outbox.c.envelope).where(
            chassis.outbox.c.event_type == "ticket.sla_breached.v1")).scalars().all()
    engine.dispose()
    events = [unpack(Envelope.FromString(raw), TicketSlaBreached).payload for raw in rows]
    assert [event.stage for event in events] == ["reach_supervisor"]
    assert [(r.user_id, r.role) for r in events[0].recipients] == [("specialist", "owner"),
                                                                    ("supervisor", "cs_supervisor")]


def test_two_firers_racing_over_the_same_due_deadlines_fire_each_once(pg_database):
    url = pg_database("ticketing")
    migrate("ticketing", url)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    site_id, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    tickets = [ticket(site_id, now - timedelta(days=5)) for _ in range(600)]
    with sessions() as session, session.begin():
        for overdue in tickets:
            clocks.on_transition(session, overdue, "register", None, "registered", overdue.created_at)
    with sessions() as session:
        due = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.next_fire_at <= now))
    assert due == 600 * 3  # first reply, reach supervisor and resolution

    fired: list[int] = []
    start = threading.Barrier(2)

    def fire():
        start.wait()
        total = 0
        while count := _fire(sessions, limit=50):
            total += count
        fired.append(total)

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == due
    with sessions() as session:
        outbox = session.execute(select(chassis.outbox.c.envelope)).scalars().all()
        states = dict(session.execute(select(Deadline.state, func.count()).group_by(Deadline.state)).all())
    engine.dispose()
    keys = [(e.ticket_id, e.stage) for e in (unpack(Envelope.FromString(raw), TicketSlaBreached).payload
                                            for raw in outbox)]
    assert len(keys) == len(set(keys)) == due
    assert states == {"breached": due}


def test_the_escalation_passes_over_supervisors_away_and_picks_the_one_on_duty(pg_database):
    url = pg_database("ticketing")
    migrate("ticketing", url)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    site_id, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    deliver(sessions, a_staff_member(site_id, "specialist", ("cs_specialist",)),
            *(a_staff_member(site_id, name, ("cs_supervisor",)) for name in ("sup-a", "sup-b", "sup-c")),
            a_staff_member(site_id, "manager", ("site_manager",)))

    def away(*user_ids):
        with sessions() as session, session.begin():
            for user_id in user_ids:
                rosters.record_absence(session, organization_id=ORG_A, site_id=site_id, actor="manager",
                                       user_id=user_id, starts_at=now - timedelta(hours=1),
                                       ends_at=now + timedelta(hours=1), reason="leave")

    def breach_one():
        overdue = ticket(site_id, now - timedelta(hours=2))
        with sessions() as session, session.begin():
            clocks.on_transition(session, overdue, "register", None, "registered", overdue.created_at)
        assert _fire(sessions, limit=1000) == 1  # it had to reach a supervisor within the hour
        with sessions() as session:
            raw = session.scalar(select(chassis.outbox.c.envelope).order_by(chassis.outbox.c.id.desc()).limit(1))
        return [r.user_id for r in unpack(Envelope.FromString(raw), TicketSlaBreached).payload.recipients
                if r.role != "owner"]

    away("sup-a")
    with sessions() as session, session.begin():
        day, shift = rosters.shift_at(session, ORG_A, site_id, now)
        rosters.assign(session, organization_id=ORG_A, site_id=site_id, actor="manager", day=day, shift=shift,
                       user_id="sup-b")
    assert breach_one() == ["sup-b"]
    away("sup-b", "sup-c")
    assert breach_one() == ["manager"]
    engine.dispose()


def _fire(sessions, limit: int) -> int:
    with sessions() as session, session.begin():
        return firing.fire_batch(session, datetime.now(timezone.utc), limit=limit)


def test_a_policy_change_recomputes_the_sites_tickets_once_and_the_api_shows_them(platform_env):
    from services.ticketing.app import create_app

    app = create_app()
    client, sessions = app.test_client(), app.extensions["psp"].sessions
    site_id = str(uuid.uuid4())
    unit, person = a_unit(site_id), a_person(site_id)
    deliver(sessions, unit, person)
    response = client.post("/v1/tickets", headers=staff("cs-wang"), json={
        "site_id": site_id, "type": "repair", "channel": "phone", "subject": "Lift light out",
        "location": "in_unit", "unit_id": unit.unit_id, "reporter_id": person.person_id})
    assert response.status_code == 201, response.get_json()
    ticket_id = response.get_json()["id"]
    response = client.put("/v1/policies/sla.targets.repair", headers=staff("pm-chen", roles=("property_manager",)),
                          json={"site_id": site_id, "value": {"dispatch": {"clock": "calendar", "minutes": 30}}})
    assert response.status_code == 200, response.get_json()
    assert clocks.follow_policy_changes(sessions) == 1
    assert clocks.follow_policy_changes(sessions) == 0
    rows = {row["stage"]: row for row in client.get(f"/v1/tickets/{ticket_id}/deadlines",
                                                    headers=staff("cs-wang")).get_json()["deadlines"]}
    app.extensions["psp"].engine.dispose()
    started = datetime.fromisoformat(rows["dispatch"]["started_at"])
    assert (rows["dispatch"]["clock"], rows["dispatch"]["warn_at"]) == ("calendar", None)
    assert datetime.fromisoformat(rows["dispatch"]["due_at"]) - started == timedelta(minutes=30)
    assert rows["arrival_plan"]["state"] == "cancelled"
