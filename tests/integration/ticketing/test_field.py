"""Field work on PostgreSQL: two generators at once make each patrol once, a finding's ticket and an
incident's events leave through the outbox, and money on a violation is exact in a NUMERIC column."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from psp.ticketing.v1.field_pb2 import IncidentClosed, IncidentOpened
from psp.ticketing.v1.tickets_pb2 import TicketRegistered
from sqlalchemy import func, select

from services.ticketing.models import chassis
from services.ticketing.patrols import rules as patrols
from services.ticketing.patrols.tables import PatrolTask
from services.ticketing.violations.tables import Violation
from tests.support.outbox import published
from tests.support.tickets import staff

pytestmark = pytest.mark.integration

SITE = str(uuid.uuid4())
SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
STEWARD = staff("steward-wu", roles=(), sites=(), site_roles={SITE: ["steward"]})
TOMORROW = datetime.combine(datetime.now(SHANGHAI).date() + timedelta(days=1), datetime.min.time(), SHANGHAI)


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


def _state(client):
    return client.application.extensions["psp"]


def test_two_generators_at_once_make_each_patrol_once_and_findings_open_tickets(ticketing):
    plan = ok(ticketing.post("/v1/patrol-plans", headers=SUPERVISOR, json={
        "site_id": SITE, "name": "巡查", "checkpoints": ["大堂", "车库"], "patrol_role": "steward",
        "rrule": "FREQ=DAILY;BYHOUR=8,12,16,20", "starts_at": TOMORROW.isoformat()}), 201)
    start, errors = threading.Barrier(2), []

    def generate():
        try:
            start.wait()
            with _state(ticketing).sessions() as session, session.begin():
                patrols.generate(session, TOMORROW + timedelta(hours=1))
        except Exception as failure:  # noqa: BLE001 - reported by the assertion below
            errors.append(failure)

    workers = [threading.Thread(target=generate) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with _state(ticketing).sessions() as session:
        due = session.scalars(select(PatrolTask.due_at).where(PatrolTask.plan_id == plan["id"])
                              .order_by(PatrolTask.due_at)).all()
    assert [moment.astimezone(SHANGHAI).hour for moment in due] == [8, 12, 16, 20]

    task = ok(ticketing.get(f"/v1/patrol-tasks?plan_id={plan['id']}", headers=STEWARD))["items"][0]
    recorded = ok(ticketing.post(f"/v1/patrol-tasks/{task['id']}/record", headers=STEWARD, json={
        "findings": [{"checkpoint": "车库", "description": "消防栓漏水"}]}))
    [finding] = recorded["findings"]
    registered = [payload for _, payload in published(_state(ticketing).engine, chassis, TicketRegistered)
                  if payload.ticket_id == finding["ticket_id"]]
    assert [(payload.type, payload.channel, payload.site_id) for payload in registered] == [
        ("patrol_finding", "patrol", SITE)]


def test_an_incidents_events_leave_through_the_outbox(ticketing):
    incident = ok(ticketing.post("/v1/incidents", headers=STEWARD, json={
        "site_id": SITE, "kind": "gas_leak", "title": "5号楼燃气泄漏", "place": "5号楼1单元"}), 201)
    ticket = ok(ticketing.post("/v1/tickets", headers=STEWARD, json={
        "site_id": SITE, "type": "help", "channel": "phone", "subject": "闻到燃气味"}), 201)
    ok(ticketing.post(f"/v1/incidents/{incident['id']}/tickets", json={"ticket_id": ticket["id"]}, headers=STEWARD))
    ok(ticketing.post(f"/v1/incidents/{incident['id']}/close", json={"summary": "燃气公司关阀检修"},
                      headers=SUPERVISOR))
    engine = _state(ticketing).engine
    opened = [p for _, p in published(engine, chassis, IncidentOpened) if p.incident_id == incident["id"]]
    closed = [p for _, p in published(engine, chassis, IncidentClosed) if p.incident_id == incident["id"]]
    assert [(p.kind, p.opened_by) for p in opened] == [("gas_leak", "steward-wu")]
    assert [list(p.ticket_ids) for p in closed] == [[ticket["id"]]]


def test_a_violations_money_is_exact_and_an_amount_too_large_is_refused(ticketing):
    violation = ok(ticketing.post("/v1/violations", headers=STEWARD, json={
        "site_id": SITE, "category": "security", "severity": "general", "description": "消防通道停车",
        "observed_at": "2026-11-30T09:00:00+08:00"}), 201)
    path = f"/v1/violations/{violation['id']}/transitions"
    too_large = ticketing.post(path, headers=SUPERVISOR, json={"action": "decide", "penalty": "赔偿",
                                                               "penalty_amount": "10000000000.00"})
    assert too_large.status_code == 422 and too_large.content_type == "application/problem+json"
    decided = ok(ticketing.post(path, headers=SUPERVISOR, json={"action": "decide", "penalty": "赔偿",
                                                                "penalty_amount": "9999999999.99"}))
    assert decided["penalty_amount"] == "9999999999.99"
    with _state(ticketing).sessions() as session:
        assert str(session.get(Violation, violation["id"]).penalty_amount) == "9999999999.99"
        assert session.scalar(select(func.count()).select_from(Violation).where(Violation.site_id == SITE)) == 1
