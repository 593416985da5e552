"""Monthly reports (TKT-13) on SQLite: every figure of a site's month from tickets walked through the API, as
JSON and as CSV, only for the site's CS supervisor and managers, and only of the caller's organization."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.tables import Ticket
from tests.conftest import ORG_B
from tests.support.tickets import a_person, deliver, staff
from tests.unit.ticketing.test_tickets import (  # noqa: F401  (known is a fixture)
    OTHER_SITE, SITE, SITE_ZONE, _state, act, category_id, complaint, create, known, ok, refused, repair, walk,
)

CS = staff("cs-wang")
SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
ELSEWHERE = staff("cs-zhou", roles=(), sites=(), site_roles={OTHER_SITE: ["cs_supervisor"]})


def closed_repair(client, known, code: str, rating: int, visited: bool) -> dict:
    ticket = create(client, repair(known, category_id=category_id(client, code)))
    ok(client.post(f"/v1/tickets/{ticket['id']}/classification", json={"category_id": category_id(client, code)},
                   headers=CS))
    ticket = walk(client, ticket, "dispatch", "start", "resolve", *(("inform", "visit") if visited else ()))
    return ok(client.post(f"/v1/tickets/{ticket['id']}/closure",
                          json={"acceptance": "confirmation", "rating": rating}, headers=CS))


def a_month_of_tickets(client, known) -> dict:
    """A site's month: two repairs finished (one visited and rated 5, one rated 2 whose SLA breached), five
    complaints (three from one occupant, one of them unfounded; one anonymous), an unclassified inquiry, and
    a suggestion received the month before. Answers what the figures must show."""
    sessions = _state(client).sessions
    other = a_person(SITE, "李娜", "+8613800000002")
    deliver(sessions, other)
    noise, cleaning = category_id(client, "order.noise"), category_id(client, "environment.cleaning")
    water = closed_repair(client, known, "repair.water", rating=5, visited=True)
    electric = closed_repair(client, known, "repair.electric", rating=2, visited=False)
    with sessions() as session, session.begin():
        stage = session.scalars(select(Deadline.stage).where(Deadline.ticket_id == electric["id"])
                                .order_by(Deadline.stage)).first()
        session.execute(update(Deadline).where(Deadline.ticket_id == electric["id"], Deadline.stage == stage)
                        .values(breached_at=datetime.now(timezone.utc)))
    repeated = [create(client, complaint(known, category_id=noise)) for _ in range(3)]
    ok(act(client, repeated[0], "declare_invalid", reason="The noise is the street works; explained."))
    create(client, complaint({"unit_id": known["unit_id"], "reporter_id": other.person_id}, category_id=cleaning))
    create(client, complaint({"reporter_id": other.person_id}, category_id=noise, anonymous=True))
    create(client, complaint({"reporter_id": other.person_id}, category_id=noise, anonymous=True))
    create(client, {"site_id": SITE, "type": "inquiry", "channel": "phone", "subject": "开放时间 Opening hours",
                    "promised_reply_at": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()})
    earlier = create(client, {"site_id": SITE, "type": "suggestion", "channel": "letter", "subject": "多种树 Trees"})
    last_month = datetime.now(SITE_ZONE).replace(day=1) - timedelta(days=3)
    with sessions() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id == earlier["id"]).values(created_at=last_month))
    # Neither another site's ticket nor another organization's at this site counts.
    create(client, {"site_id": OTHER_SITE, "type": "help", "channel": "phone", "subject": "Locked out"})
    create(client, {"site_id": SITE, "type": "help", "channel": "phone", "subject": "Locked out"},
           headers=staff("cs-b", org=ORG_B))
    return {"breached_stage": stage, "complainant": known["reporter_id"], "last_month": last_month.strftime("%Y-%m")}


def this_month() -> str:
    return datetime.now(SITE_ZONE).strftime("%Y-%m")


def assert_the_months_figures(report: dict, expected: dict) -> None:
    assert (report["site_id"], report["month"], report["time_zone"]) == (SITE, this_month(), "Asia/Shanghai")
    assert report["starts_at"].startswith(f"{this_month()}-01T00:00:00") and report["starts_at"].endswith("+08:00")
    assert report["received"] == 9
    assert {row["type"]: row["count"] for row in report["by_type"] if row["count"]} == {
        "repair": 2, "complaint": 6, "inquiry": 1}
    assert [(row["category"], row["count"]) for row in report["by_category"]] == [
        ("order.noise", 5), ("environment.cleaning", 1), ("repair.electric", 1), ("repair.water", 1),
        ("unclassified", 1)]
    assert report["invalid"] == 1
    assert report["timeliness"] == {"finished": 2, "on_time": 1, "rate": "0.5000"}
    assert report["satisfaction"] == {"rated": 2, "satisfied": 1, "satisfied_from_rating": 4, "rate": "0.5000",
                                      "average_rating": "3.50"}
    assert report["return_visits"] == {"finished": 2, "visited": 1, "rate": "0.5000"}
    assert report["complaints"] == {"count": 6, "rate": "0.6667", "hot_topics": [
        {"category": "order.noise", "name": "噪音 Noise", "count": 5},
        {"category": "environment.cleaning", "name": "清洁 Cleaning", "count": 1}]}
    assert report["sla_breaches"] == [{"stage": expected["breached_stage"], "department": "engineering", "count": 1}]
    # The anonymous complainant's two complaints name nobody.
    assert report["repeat_complainants"] == [{"reporter_id": expected["complainant"], "full_name": "张伟",
                                              "complaints": 3}]
    assert report["utility_repairs"] == [
        {"category": "repair.water", "received": 1, "finished": 1, "on_time": 1, "rate": "1.0000"},
        {"category": "repair.electric", "received": 1, "finished": 1, "on_time": 0, "rate": "0.0000"}]


def test_a_sites_month_in_figures(ticketing, known):
    expected = a_month_of_tickets(ticketing, known)
    report = ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly", headers=SUPERVISOR))
    assert_the_months_figures(report, expected)
    assert ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly?month={this_month()}", headers=SUPERVISOR)) == report

    before = ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly?month={expected['last_month']}",
                              headers=SUPERVISOR))
    assert before["received"] == 1 and before["timeliness"] == {"finished": 0, "on_time": 0, "rate": None}
    assert before["satisfaction"]["rate"] is None and before["satisfaction"]["average_rating"] is None


def test_the_month_as_csv_one_figure_a_row(ticketing, known):
    expected = a_month_of_tickets(ticketing, known)
    response = ticketing.get(f"/v1/sites/{SITE}/reports/monthly.csv", headers=SUPERVISOR)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="tickets-{this_month()}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["site_id", "month", "figure", "dimension", "value"]
    assert {row[0] for row in rows[1:]} == {SITE} and {row[1] for row in rows[1:]} == {this_month()}
    figures = {(row[2], row[3]): row[4] for row in rows[1:]}
    assert figures[("received", "")] == "9" and figures[("type", "complaint")] == "6"
    assert figures[("timeliness.rate", "")] == "0.5000" and figures[("satisfaction.average_rating", "")] == "3.50"
    assert figures[("return_visits.visited", "")] == "1" and figures[("complaints.rate", "")] == "0.6667"
    assert figures[("complaints.hot_topic", "order.noise")] == "5"
    assert figures[("sla_breaches", f"{expected['breached_stage']}/engineering")] == "1"
    assert figures[("repeat_complainant", f"{expected['complainant']} 张伟")] == "3"
    assert figures[("utility_repairs.on_time", "repair.electric")] == "0"
    assert figures[("category", "unclassified")] == "1"


def test_only_the_sites_supervisors_and_managers_read_it_and_only_their_organizations(ticketing, known):
    a_month_of_tickets(ticketing, known)
    for path in (f"/v1/sites/{SITE}/reports/monthly", f"/v1/sites/{SITE}/reports/monthly.csv"):
        refused(ticketing.get(path, headers=CS), 403)
        refused(ticketing.get(path, headers=staff("tech-zhao", roles=("technician",))), 403)
        refused(ticketing.get(path, headers=ELSEWHERE), 404)
        refused(ticketing.get(path), 401)
        refused(ticketing.get(f"{path}?month=2026-13", headers=SUPERVISOR), 422, "month")
    manager = staff("pm-chen", roles=("property_manager",))
    assert ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly", headers=manager))["received"] == 9
    theirs = ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly", headers=staff("pm-b", org=ORG_B,
                                                                                 roles=("property_manager",))))
    assert theirs["received"] == 1
    assert {row["type"]: row["count"] for row in theirs["by_type"] if row["count"]} == {"help": 1}
    assert theirs["repeat_complainants"] == [] and theirs["sla_breaches"] == []
