"""Night deferral, shift handovers and the daily review on PostgreSQL: the morning conversion's events leave
through the outbox, two acknowledgements at once sign a handover once, and the review compares real
timestamps with time zones."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from psp.ticketing.v1.tickets_pb2 import TicketTransitioned
from sqlalchemy import select, update

from services.ticketing.handover.tables import Handover
from services.ticketing.models import chassis
from services.ticketing.tickets.tables import Ticket
from tests.support.outbox import published
from tests.support.tickets import staff

pytestmark = pytest.mark.integration

SITE = str(uuid.uuid4())
CS = staff("cs-wang")
SUPERVISOR = staff("cs-li", roles=("cs_supervisor",))


@pytest.fixture
def ticketing(platform_env):
    from services.ticketing.app import create_app

    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _sessions(client):
    return client.application.extensions["psp"].sessions


def dispatched_repair(client) -> dict:
    ticket = ok(client.post("/v1/tickets", headers=CS, json={
        "site_id": SITE, "type": "repair", "channel": "phone", "subject": "Corridor light out",
        "location": "public_area"}), 201)
    categories = ok(client.get("/v1/ticket-categories?limit=200", headers=CS))["items"]
    water = next(c["id"] for c in categories if c["code"] == "repair.water")
    ok(client.post(f"/v1/tickets/{ticket['id']}/classification", json={"category_id": water}, headers=CS))
    return ok(client.post(f"/v1/tickets/{ticket['id']}/transitions", json={"action": "dispatch"}, headers=CS))


def test_deferred_tickets_become_work_orders_with_their_events_in_the_outbox(ticketing):
    technician = staff("tech-zhao", roles=("technician",))
    made = [dispatched_repair(ticketing) for _ in range(2)]
    # Received in the night shift (default 18:00–08:30, site time; the site's zone is Asia/Shanghai).
    night = datetime.now(timezone.utc).replace(hour=16, minute=30)  # 00:30 in Shanghai
    night = night if night <= datetime.now(timezone.utc) else night - timedelta(days=1)
    with _sessions(ticketing)() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id.in_([t["id"] for t in made])).values(created_at=night))
    for ticket in made:
        ok(ticketing.post(f"/v1/tickets/{ticket['id']}/night-deferral", json={"reason": "not urgent"},
                          headers=technician))
    converted = ok(ticketing.post(f"/v1/sites/{SITE}/deferred-tickets/conversion", headers=CS))
    assert sorted(t["id"] for t in converted["tickets"]) == sorted(t["id"] for t in made)
    engine = ticketing.application.extensions["psp"].engine
    moves = [(p.ticket_id, p.action, p.to_state) for _, p in published(engine, chassis, TicketTransitioned)
             if p.ticket_id in {t["id"] for t in made} and p.action in ("defer", "resume")]
    assert sorted(moves) == sorted([(t["id"], a, s) for t in made
                                    for a, s in (("defer", "deferred_night"), ("resume", "assigned"))])


def test_two_acknowledgements_at_once_sign_the_handover_once(ticketing):
    dispatched_repair(ticketing)
    record = ok(ticketing.post(f"/v1/sites/{SITE}/handovers", json={"day": "2026-12-01", "shift": "night"},
                               headers=CS), 201)
    assert len(record["items"]) == 1
    statuses = []

    def acknowledge(subject):
        client = ticketing.application.test_client()
        statuses.append(client.post(f"/v1/handovers/{record['id']}/acknowledgement",
                                    headers=staff(subject)).status_code)

    threads = [threading.Thread(target=acknowledge, args=(f"cs-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    with _sessions(ticketing)() as session:
        stored = session.get(Handover, record["id"])
        assert stored.state == "acknowledged" and stored.acknowledged_by in {f"cs-{n}" for n in range(4)}
    log = chassis.audit_log
    with _sessions(ticketing)() as session:
        assert session.execute(select(log.c.action).where(log.c.entity_id == record["id"])).scalars().all() == [
            "write", "acknowledge"]


def test_the_daily_review_finds_a_forgotten_ticket_on_postgresql(ticketing):
    ticket = dispatched_repair(ticketing)
    back = datetime.now(timezone.utc) - timedelta(hours=30)
    with _sessions(ticketing)() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(updated_at=back, created_at=back))
    page = ok(ticketing.get(f"/v1/sites/{SITE}/daily-review", headers=SUPERVISOR))
    listed = {item["ticket"]["id"]: item for item in page["items"]}
    assert listed[ticket["id"]]["forgotten"] is True
    assert datetime.fromisoformat(listed[ticket["id"]]["last_activity_at"]) == back
    assert datetime.fromisoformat(page["as_of"]).utcoffset() == timedelta(hours=8)
