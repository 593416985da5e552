"""Return visits and surveys on PostgreSQL and RabbitMQ: a resolved leak repair's visit is scheduled from
ticketing's own event over the bus, once; two recordings of one visit, two monthly draws and two responses
of one unit at once each leave one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.ticketing.visits.tables import ReturnVisit, ReturnVisitSampling, SurveyResponse
from tests.conftest import running_workers, wait_until
from tests.integration.ticketing.test_repairs import CS, SITE, _state, at_once, known, ok, ticketing  # noqa: F401 (fixtures)
from tests.support.tickets import staff

pytestmark = pytest.mark.integration

SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
MANAGER = staff("sm-sun", roles=(), sites=(), site_roles={SITE: ["site_manager"]})


def count(client, what, *where) -> int:
    with _state(client).sessions() as session:
        return session.scalar(select(func.count()).select_from(what).where(*where))


def test_a_resolved_leak_repair_is_visited_once_over_the_bus_and_recorded_once(ticketing, known):
    categories = ok(ticketing.get("/v1/ticket-categories?limit=200", headers=CS))["items"]
    leak = next(c["id"] for c in categories if c["code"] == "repair.leak")
    ticket = ok(ticketing.post("/v1/tickets", json={"site_id": SITE, "type": "repair", "channel": "phone",
                                                    "subject": "卫生间渗水 Bathroom leak", "location": "in_unit",
                                                    **known}, headers=CS), 201)
    ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification", json={"category_id": leak}, headers=CS))
    with running_workers("ticketing"):
        for action in ("dispatch", "start", "resolve"):
            ok(ticketing.post(f"/v1/tickets/{ticket['id']}/transitions", json={"action": action}, headers=CS))
        visits = wait_until(lambda: ok(ticketing.get(f"/v1/return-visits?ticket_id={ticket['id']}",
                                                     headers=CS))["items"], what="the return visit scheduled")
    [visit] = visits
    assert visit["reason"] == "category" and visit["due_at"]
    client = ticketing.application.test_client
    statuses = at_once(2, lambda n: client().post(f"/v1/return-visits/{visit['id']}/record", headers=CS, json={
        "method": "phone", "outcome": "satisfied", "rating": 5 - n}))
    assert statuses == [200, 409]
    assert ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))["state"] == "closed"

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    statuses = at_once(2, lambda n: client().post("/v1/return-visit-samplings", headers=MANAGER,
                                                  json={"site_id": SITE, "month": month}))
    assert statuses == [201, 409]
    assert count(ticketing, ReturnVisitSampling) == 1
    assert count(ticketing, ReturnVisit, ReturnVisit.sampling_id.is_not(None)) == 1


def test_two_responses_of_one_unit_at_once_keep_one(ticketing, known):
    survey = ok(ticketing.post("/v1/surveys", json={"site_id": SITE, "kind": "annual_opinion", "period": "2026",
                                                    "title": "2026年业主意见征询"}, headers=SUPERVISOR), 201)
    client = ticketing.application.test_client
    statuses = at_once(3, lambda n: client().post(f"/v1/surveys/{survey['id']}/responses", headers=CS, json={
        "unit_id": known["unit_id"], "answers": {"overall": 3 + n}}))
    assert statuses == [201, 409, 409]
    assert count(ticketing, SurveyResponse) == 1
    results = ok(ticketing.get(f"/v1/surveys/{survey['id']}/results", headers=CS))
    assert results["respondents"] == 1
