"""Tickets on PostgreSQL and RabbitMQ: units and people known from occupants' real events, numbers given out
race-free under concurrent intake, and the lifecycle's events leaving through the outbox."""

from __future__ import annotations

import re
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from psp.ticketing.v1.tickets_pb2 import TicketClosed, TicketRegistered
from sqlalchemy import func, select

from services.ticketing.models import chassis
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.tables import Ticket, TicketCounter
from shared import db
from tests.conftest import bearer, create_site, running_workers, wait_until
from tests.support.outbox import published
from tests.support.tickets import a_unit, deliver, staff

pytestmark = pytest.mark.integration

SITE_ZONE = ZoneInfo("Asia/Shanghai")

CS = staff("cs-wang")
MANAGER = bearer(roles=("property_manager",))


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


def test_a_complaint_about_a_unit_occupants_registered_is_taken_and_closed(occupants_api, ticketing):
    site = create_site(occupants_api)
    building = ok(occupants_api.post(f"/v1/sites/{site['id']}/buildings", json={"code": "A", "name": "Tower A"},
                                     headers=MANAGER), 201)
    unit = ok(occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER, json={
        "number": "1202", "floor": 12, "kind": "residence", "floor_area_m2": "89.50"}), 201)
    person = ok(occupants_api.post("/v1/persons", headers=CS, json={
        "site_id": site["id"], "full_name": "李娜", "phone": "13800000002"}), 201)
    body = {"site_id": site["id"], "type": "complaint", "channel": "phone", "subject": "楼上漏水 Water from above",
            "tier": "important", "unit_id": unit["id"], "reporter_id": person["id"]}
    # Before occupants' events arrive, ticketing does not know the unit: bad input, nothing kept.
    refused = ticketing.post("/v1/tickets", json=body, headers=CS)
    assert refused.status_code == 422 and refused.get_json()["field"] == "unit_id"
    state = ticketing.application.extensions["psp"]
    with state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
        assert session.scalar(select(func.count()).select_from(chassis.outbox)) == 0

    with running_workers("occupants", "ticketing"):
        wait_until(lambda: ticketing.post("/v1/tickets", json=body, headers=CS).status_code == 201,
                   what="the unit and the person in ticketing's read models")
        [ticket] = ok(ticketing.get(f"/v1/tickets?site_id={site['id']}", headers=CS))["items"]
        ticket = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification", headers=CS, json={
            "category_id": _category(ticketing, "repair.leak"), "tier": "important"}))
        for action in ("dispatch", "start", "resolve", "inform", "visit"):
            ticket = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/transitions", json={"action": action},
                                       headers=CS))
        ticket = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/closure", headers=CS, json={
            "acceptance": "confirmation", "acceptance_reference": "call 2026-12-01 10:02", "rating": 5}))
        assert ticket["state"] == "closed"
        wait_until(lambda: _unpublished(state.engine) == 0, what="the ticket's events relayed")

    [registered] = [p for _, p in published(state.engine, chassis, TicketRegistered)]
    assert (registered.unit_id, registered.reporter_id, registered.department) == (
        unit["id"], person["id"], "customer_service")
    [closed] = [p for _, p in published(state.engine, chassis, TicketClosed)]
    assert (closed.ticket_id, closed.rating, closed.acceptance) == (ticket["id"], 5, "confirmation")
    with state.sessions() as session:
        stages = {row.stage: row.state for row in session.scalars(select(Deadline).where(
            Deadline.ticket_id == ticket["id"]))}
    assert stages and all(value in ("met", "cancelled") for value in stages.values())


def test_concurrent_intake_gives_every_ticket_its_own_number_without_gaps(ticketing, platform_env):
    site_id = "5e000000-0000-4000-8000-0000000000aa"
    unit = a_unit(site_id)
    engine = db.make_engine(platform_env["ticketing"])
    deliver(db.make_sessionmaker(engine), unit)
    engine.dispose()
    app = ticketing.application
    numbers, failures = [], []

    def intake():
        client = app.test_client()
        for _ in range(6):
            response = client.post("/v1/tickets", headers=CS, json={
                "site_id": site_id, "type": "repair", "channel": "app", "subject": "灯不亮 Light out",
                "location": "public_area", "unit_id": unit.unit_id})
            (numbers if response.status_code == 201 else failures).append(
                response.get_json().get("number") or response.get_json())

    threads = [threading.Thread(target=intake) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    year = datetime.now(SITE_ZONE).year  # no calendar known for the site: the default time zone
    assert all(re.fullmatch(rf"T-{year}-\d{{6}}", number) for number in numbers)
    assert sorted(int(number[-6:]) for number in numbers) == list(range(1, 37))
    with app.extensions["psp"].sessions() as session:
        assert session.get(TicketCounter, (site_id, year)).last == 36


def _category(client, code: str) -> str:
    page = ok(client.get("/v1/ticket-categories?limit=200", headers=CS))
    return next(c["id"] for c in page["items"] if c["code"] == code)


def _unpublished(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(chassis.outbox)
                                 .where(chassis.outbox.c.published_at.is_(None)))
