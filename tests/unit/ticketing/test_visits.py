"""Return visits and surveys on SQLite (TKT-9): which resolved tickets are visited (always, or sampled by
policy), the visit's deadline from the ticket's return_visit clock, recording it with the occupant's rating
and signature and the ticket following, the manager's monthly sampling and checks; surveys, their responses
and their results per site."""

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from psp.ticketing.v1.tickets_pb2 import TicketClosed, TicketTransitioned
from sqlalchemy import select

from services.ticketing.models import chassis
from services.ticketing.sla.calendar import RECEPTION, end_of_day
from services.ticketing.sla.clocks import site_calendar
from services.ticketing.tickets.tables import Ticket
from services.ticketing.visits import rules
from services.ticketing.visits.tables import ReturnVisit
from tests.conftest import ORG_B
from tests.support.outbox import published
from tests.support.tickets import a_person, a_unit, deliver, staff
from tests.unit.ticketing.test_repairs import _state, ok, refused

SITE = str(uuid.uuid4())
OTHER_SITE = str(uuid.uuid4())
CS = staff("cs-wang", roles=(), sites=(), site_roles={SITE: ["cs_specialist"], OTHER_SITE: ["cs_specialist"]})
SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"], OTHER_SITE: ["cs_supervisor"]})
MANAGER = staff("sm-sun", roles=(), sites=(), site_roles={SITE: ["site_manager"]})
TECH = staff("tech-zhao", roles=(), sites=(), site_roles={SITE: ["technician"]})
FOREIGN = staff("cs-other", roles=("cs_supervisor",), org=ORG_B)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def known(ticketing):
    unit, person = a_unit(SITE), a_person(SITE)
    deliver(_state(ticketing).sessions, unit, person)
    return {"unit_id": unit.unit_id, "reporter_id": person.person_id}


def category(client, code):
    categories = ok(client.get("/v1/ticket-categories?limit=200", headers=CS))["items"]
    return next(c["id"] for c in categories if c["code"] == code)


def resolved(client, known, type="repair", code="repair.water", delivered=True):
    """A ticket taken to `resolved`, and (`delivered`) its ticket.transitioned.v1 events delivered back to
    ticketing."""
    body = {"site_id": SITE, "type": type, "channel": "phone", "subject": "回访测试 Visit test", **known}
    body.update({"location": "in_unit"} if type == "repair" else {"tier": "minor"} if type == "complaint" else {})
    ticket = ok(client.post("/v1/tickets", json=body, headers=CS), 201)
    classification = {"category_id": category(client, code), **({"tier": "minor"} if type == "complaint" else {})}
    ok(client.post(f"/v1/tickets/{ticket['id']}/classification", json=classification, headers=CS))
    for action in ("dispatch", "start", "resolve"):
        ticket = ok(client.post(f"/v1/tickets/{ticket['id']}/transitions", json={"action": action}, headers=CS))
    if delivered:
        redeliver(client, ticket["id"])
    return ticket


def redeliver(client, ticket_id):
    moves = [payload for _, payload in published(_state(client).engine, chassis, TicketTransitioned)
             if payload.ticket_id == ticket_id]
    deliver(_state(client).sessions, *moves)


def visits_of(client, ticket):
    return ok(client.get(f"/v1/return-visits?ticket_id={ticket['id']}", headers=CS))["items"]


# -- which tickets are visited -----------------------------------------------------------------------------


def test_a_leak_repair_and_a_complaint_are_always_visited_by_their_return_visit_deadline(ticketing, known):
    leak = resolved(ticketing, known, code="repair.leak")
    [visit] = visits_of(ticketing, leak)
    assert (visit["reason"], visit["state"], visit["ticket_number"]) == ("category", "due", leak["number"])
    assert datetime.fromisoformat(visit["due_at"]) > datetime.now(timezone.utc)
    complaint = resolved(ticketing, known, type="complaint", code="order.noise")
    assert [v["reason"] for v in visits_of(ticketing, complaint)] == ["type"]
    redeliver(ticketing, leak["id"])  # delivered twice: one visit
    assert len(visits_of(ticketing, leak)) == 1


def test_a_leak_is_visited_within_three_working_days_of_its_leak_test_a_safety_facility_within_two(
        ticketing, known):
    for code, days in (("repair.leak", 3), ("repair.gas", 2)):
        ticket = resolved(ticketing, known, code=code)
        [visit] = visits_of(ticketing, ticket)
        clocks = ok(ticketing.get(f"/v1/tickets/{ticket['id']}/deadlines", headers=CS))["deadlines"]
        [clock] = [row for row in clocks if row["stage"] == "return_visit"]
        with _state(ticketing).sessions() as session:
            expected = end_of_day(site_calendar(session, SITE), RECEPTION,
                                  datetime.fromisoformat(clock["started_at"]), days)
        assert datetime.fromisoformat(visit["due_at"]) == datetime.fromisoformat(clock["due_at"]) == expected


def test_other_repairs_are_sampled_at_the_policys_rate(ticketing, known):
    tickets = [resolved(ticketing, known) for _ in range(12)]
    reasons = [[v["reason"] for v in visits_of(ticketing, ticket)] for ticket in tickets]
    assert {tuple(r) for r in reasons} <= {("sampled",), ()}
    with _state(ticketing).sessions() as session:
        draws = [rules.why_visited(session, session.get(Ticket, t["id"])) for t in tickets]
    assert [["sampled"] if d else [] for d in draws] == reasons  # the same draw for the same ticket
    admin = staff("gm", roles=("general_manager",))
    ok(ticketing.put("/v1/policies/visits.sample_percent", json={"value": {"repair": 100}}, headers=admin))
    assert all(visits_of(ticketing, resolved(ticketing, known)) for _ in range(3))
    ok(ticketing.put("/v1/policies/visits.sample_percent", json={"value": {"repair": 0}}, headers=admin))
    assert not any(visits_of(ticketing, resolved(ticketing, known)) for _ in range(3))


def test_a_type_without_a_return_visit_clock_is_due_by_the_repairs_default_target(ticketing, known):
    admin = staff("gm", roles=("general_manager",))
    ok(ticketing.put("/v1/policies/visits.always_types", json={"value": ["complaint", "help"]}, headers=admin))
    ticket = resolved(ticketing, known, type="help", code="service.other")
    [visit] = visits_of(ticketing, ticket)
    assert visit["reason"] == "type" and datetime.fromisoformat(visit["due_at"]) > datetime.now(timezone.utc)


def test_a_ticket_closed_without_its_visit_task_is_due_none(ticketing, known):
    ticket = resolved(ticketing, known, code="repair.leak")
    url = f"/v1/tickets/{ticket['id']}"
    for action in ("inform", "visit"):
        ok(ticketing.post(f"{url}/transitions", json={"action": action}, headers=CS))
    ok(ticketing.post(f"{url}/closure", json={"acceptance": "confirmation", "rating": 4}, headers=CS))
    [closed] = [p for _, p in published(_state(ticketing).engine, chassis, TicketClosed) if p.ticket_id == ticket["id"]]
    deliver(_state(ticketing).sessions, closed, closed)
    [visit] = visits_of(ticketing, ticket)
    assert visit["state"] == "cancelled"
    assert [e["action"] for e in ok(ticketing.get(f"/v1/return-visits/{visit['id']}", headers=CS))["history"]] == [
        "schedule", "cancel"]
    refused(ticketing.post(f"/v1/return-visits/{visit['id']}/record", headers=CS,
                           json={"method": "phone", "outcome": "satisfied", "rating": 4}), 409)

    late = resolved(ticketing, known, code="repair.leak", delivered=False)
    ok(ticketing.post(f"/v1/tickets/{late['id']}/closure", json={"acceptance": "confirmation", "rating": 5},
                      headers=CS))
    redeliver(ticketing, late["id"])  # the resolution handled after the closure: nothing is due
    assert visits_of(ticketing, late) == []


# -- recording a visit -------------------------------------------------------------------------------------


def test_a_satisfied_occupants_signature_on_site_closes_the_ticket(ticketing, known):
    ticket = resolved(ticketing, known, code="repair.gas")
    [visit] = visits_of(ticketing, ticket)
    url = f"/v1/return-visits/{visit['id']}/record"
    refused(ticketing.post(url, json={"method": "on_site", "outcome": "satisfied", "rating": 5}, headers=CS), 422,
            "signature_reference")
    refused(ticketing.post(url, json={"method": "phone", "outcome": "satisfied"}, headers=CS), 422, "rating")
    refused(ticketing.post(url, json={"method": "phone", "outcome": "satisfied", "rating": 5}, headers=TECH), 403)
    done = ok(ticketing.post(url, json={"method": "on_site", "outcome": "satisfied", "rating": 5,
                                        "signature_reference": "RV-2026-0001"}, headers=CS))
    assert (done["state"], done["satisfied"], done["visited_by"]) == ("visited", True, "cs-wang")
    closed = ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))
    assert (closed["state"], closed["acceptance"], closed["rating"]) == ("closed", "signature", 5)
    again = refused(ticketing.post(url, json={"method": "phone", "outcome": "satisfied", "rating": 4}, headers=CS),
                    409, "action")
    assert again["allowed"] == []
    assert [e["action"] for e in done["history"]] == ["schedule", "visit"]


def test_an_unsatisfied_occupant_reopens_the_ticket_and_an_unreachable_one_closes_it_with_the_reason(ticketing, known):
    ticket = resolved(ticketing, known, type="complaint", code="order.noise")
    [visit] = visits_of(ticketing, ticket)
    url = f"/v1/return-visits/{visit['id']}/record"
    refused(ticketing.post(url, json={"method": "phone", "outcome": "unsatisfied", "rating": 2}, headers=CS), 422,
            "notes")
    ok(ticketing.post(url, json={"method": "phone", "outcome": "unsatisfied", "rating": 2,
                                 "notes": "噪音仍在 The noise goes on"}, headers=CS))
    assert ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))["state"] == "reopened"

    other = resolved(ticketing, known, code="repair.lift")
    [visit] = visits_of(ticketing, other)
    url = f"/v1/return-visits/{visit['id']}/record"
    refused(ticketing.post(url, json={"method": "phone", "outcome": "unreachable", "rating": 3,
                                      "notes": "三次未接 No answer three times"}, headers=CS), 422, "rating")
    gone = ok(ticketing.post(url, json={"method": "phone", "outcome": "unreachable",
                                        "notes": "三次未接 No answer three times"}, headers=CS))
    assert gone["state"] == "unreachable"
    closed = ok(ticketing.get(f"/v1/tickets/{other['id']}", headers=CS))
    assert (closed["state"], closed["close_reason"]) == ("closed", "三次未接 No answer three times")


# -- the manager's monthly sampling ------------------------------------------------------------------------


def test_the_manager_draws_a_months_visits_once_and_checks_them(ticketing, known):
    for _ in range(3):
        ticket = resolved(ticketing, known, code="repair.leak")
        [visit] = visits_of(ticketing, ticket)
        ok(ticketing.post(f"/v1/return-visits/{visit['id']}/record",
                          json={"method": "phone", "outcome": "satisfied", "rating": 4}, headers=CS))
    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    admin = staff("gm", roles=("general_manager",))
    ok(ticketing.put(f"/v1/policies/visits.monthly_checks?site_id={SITE}", json={"value": 2}, headers=admin))
    refused(ticketing.post("/v1/return-visit-samplings", json={"site_id": SITE, "month": month}, headers=CS), 403)
    refused(ticketing.post("/v1/return-visit-samplings", json={"site_id": SITE, "month": "2026-13"},
                           headers=MANAGER), 422, "month")
    future = (datetime.now(SHANGHAI) + timedelta(days=40)).strftime("%Y-%m")
    refused(ticketing.post("/v1/return-visit-samplings", json={"site_id": SITE, "month": future},
                           headers=MANAGER), 422, "month")
    sampling = ok(ticketing.post("/v1/return-visit-samplings", json={"site_id": SITE, "month": month},
                                 headers=MANAGER), 201)
    assert sampling["drawn"] == 2 and len({v["id"] for v in sampling["visits"]}) == 2
    refused(ticketing.post("/v1/return-visit-samplings", json={"site_id": SITE, "month": month}, headers=MANAGER),
            409, "month")
    first, second = sampling["visits"]
    refused(ticketing.post(f"/v1/return-visits/{first['id']}/check", json={"result": "confirmed"}, headers=CS), 403)
    refused(ticketing.post(f"/v1/return-visits/{first['id']}/check", json={"result": "disputed"}, headers=MANAGER),
            422, "note")
    checked = ok(ticketing.post(f"/v1/return-visits/{first['id']}/check", json={"result": "confirmed"},
                                headers=MANAGER))
    assert (checked["check_result"], checked["checked_by"]) == ("confirmed", "sm-sun")
    refused(ticketing.post(f"/v1/return-visits/{first['id']}/check", json={"result": "confirmed"},
                           headers=MANAGER), 409)
    with _state(ticketing).sessions() as session:
        undrawn = session.scalar(select(ReturnVisit.id).where(ReturnVisit.sampling_id.is_(None)))
    refused(ticketing.post(f"/v1/return-visits/{undrawn}/check", json={"result": "confirmed"}, headers=MANAGER), 409)
    refused(ticketing.get(f"/v1/return-visit-samplings/{sampling['id']}", headers=FOREIGN), 404)


# -- surveys -----------------------------------------------------------------------------------------------


def test_a_quarterly_evaluation_collects_one_response_per_unit_and_reports_its_sites_results(ticketing, known):
    body = {"site_id": SITE, "kind": "quarterly_evaluation", "period": "2026-Q4", "title": "2026年第四季度业主评议"}
    refused(ticketing.post("/v1/surveys", json=body, headers=CS), 403)
    refused(ticketing.post("/v1/surveys", json={**body, "period": "2026"}, headers=SUPERVISOR), 422, "period")
    survey = ok(ticketing.post("/v1/surveys", json=body, headers=SUPERVISOR), 201)
    assert [q["code"] for q in survey["questions"]][:2] == ["reception", "repairs"]
    refused(ticketing.post("/v1/surveys", json=body, headers=SUPERVISOR), 409, "period")
    url = f"/v1/surveys/{survey['id']}/responses"
    refused(ticketing.post(url, json={"answers": {"parking": 5}}, headers=CS), 422, "answers")
    refused(ticketing.post(url, json={"answers": {"cleaning": 6}}, headers=CS), 422, "answers")
    refused(ticketing.post(url, json={"answers": {"cleaning": 5}, "unit_id": str(uuid.uuid4())}, headers=CS), 422,
            "unit_id")
    ok(ticketing.post(url, json={"unit_id": known["unit_id"], "person_id": known["reporter_id"],
                                 "answers": {"cleaning": 5, "repairs": 3, "suggestions": "多种树 More trees"}},
                      headers=CS), 201)
    refused(ticketing.post(url, json={"unit_id": known["unit_id"], "answers": {"cleaning": 1}}, headers=CS), 409,
            "unit_id")
    ok(ticketing.post(url, json={"answers": {"cleaning": 4, "repairs": 2}}, headers=CS), 201)
    results = ok(ticketing.get(f"/v1/surveys/{survey['id']}/results", headers=CS))
    by_code = {q["code"]: q for q in results["questions"]}
    assert results["respondents"] == 2 and results["satisfaction_rate"] == "50.00"
    assert (by_code["cleaning"]["average"], by_code["cleaning"]["satisfaction_rate"]) == ("4.50", "100.00")
    assert by_code["repairs"]["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 0}
    assert by_code["suggestions"]["answered"] == 1 and by_code["greening"]["average"] is None
    ok(ticketing.post(f"/v1/surveys/{survey['id']}/close", headers=SUPERVISOR))
    refused(ticketing.post(url, json={"answers": {"cleaning": 4}}, headers=CS), 409)
    refused(ticketing.get(f"/v1/surveys/{survey['id']}/results", headers=FOREIGN), 404)


def test_an_annual_opinion_surveys_results_site_by_site(ticketing, known):
    for site in (SITE, OTHER_SITE):
        survey = ok(ticketing.post("/v1/surveys", json={
            "site_id": site, "kind": "annual_opinion", "period": "2026", "title": "2026年业主意见征询",
            "questions": [{"code": "overall", "text": "总体满意度", "kind": "rating"}]}, headers=SUPERVISOR), 201)
        for rating in ((5, 4) if site == SITE else (2,)):
            ok(ticketing.post(f"/v1/surveys/{survey['id']}/responses", json={"answers": {"overall": rating}},
                              headers=CS), 201)
    page = ok(ticketing.get("/v1/survey-results?kind=annual_opinion&period=2026", headers=CS))
    rates = {item["site_id"]: (item["respondents"], item["satisfaction_rate"]) for item in page["items"]}
    assert rates == {SITE: (2, "100.00"), OTHER_SITE: (1, "0.00")}
    refused(ticketing.post("/v1/surveys", json={
        "site_id": SITE, "kind": "quarterly_evaluation", "period": "2026-Q1", "title": "重复",
        "questions": [{"code": "a", "text": "A", "kind": "rating"}, {"code": "a", "text": "B", "kind": "text"}]},
        headers=SUPERVISOR), 422, "questions")
