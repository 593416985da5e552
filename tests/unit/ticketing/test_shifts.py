"""Night duty and deferral, shift handovers and the daily review (TKT-5 … TKT-7) on SQLite: the roster kept by
supervisors, deferred tickets made work orders at the morning handover, handovers written by the outgoing
shift and acknowledged once by another person, and the overdue and forgotten tickets of a site's day."""

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from psp.ticketing.v1.shifts_pb2 import DutyAssigned, DutyWithdrawn, HandoverAcknowledged, HandoverWritten
from psp.ticketing.v1.tickets_pb2 import TicketTransitioned
from sqlalchemy import func, select, update

from services.ticketing.handover.rules import HANDOVER
from services.ticketing.handover.tables import Handover
from services.ticketing.models import chassis
from services.ticketing.review.rules import FORGOTTEN_HOURS
from services.ticketing.rosters.rules import NIGHT_HOURS
from services.ticketing.rosters.rules import Presence, assign, presence, record_absence, shift_at
from services.ticketing.rosters.tables import Absence, DutyAssignment
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.tables import Ticket
from shared import policy
from tests.conftest import ORG_A, ORG_B
from tests.support.tickets import staff
from tests.unit.ticketing.test_tickets import (  # noqa: F401  (known is a fixture)
    OTHER_SITE, SITE, SITE_ZONE, _state, act, classified, complaint, count, create, events, known, ok, refused, repair,
)

CS = staff("cs-wang")
INCOMING = staff("cs-sun")
SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
ELSEWHERE_SUPERVISOR = staff("cs-zhou", roles=(), sites=(), site_roles={SITE: ["cs_specialist"],
                                                                        OTHER_SITE: ["cs_supervisor"]})
TECHNICIAN = staff("tech-zhao", roles=(), sites=(), site_roles={SITE: ["technician"]})
OTHER_ORG = staff("cs-b", roles=("cs_supervisor",), org=ORG_B)


def received_at(client, ticket, hhmm="23:40"):
    """The ticket as received at that local time of the site's last such moment (its zone: Asia/Shanghai)."""
    now = datetime.now(SITE_ZONE)
    at = datetime.combine(now.date(), time.fromisoformat(hhmm), SITE_ZONE)
    at = at if at <= now else at - timedelta(days=1)
    with _state(client).sessions() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(created_at=at.astimezone(timezone.utc)))
    return ticket


def audited(client, entity):
    log = chassis.audit_log
    with _state(client).sessions() as session:
        return session.execute(select(log.c.action, log.c.actor).where(log.c.entity == entity)
                               .order_by(log.c.id)).all()


# -- TKT-5 rosters -----------------------------------------------------------------------------------------


def test_a_supervisor_at_the_site_keeps_the_duty_roster(ticketing):
    duty = ok(ticketing.post(f"/v1/sites/{SITE}/duty-roster", json={"day": "2026-12-01", "shift": "night",
                                                                   "user_id": "tech-zhao"}, headers=SUPERVISOR), 201)
    assert (duty["day"], duty["shift"], duty["user_id"], duty["assigned_by"]) == (
        "2026-12-01", "night", "tech-zhao", "cs-li")
    ok(ticketing.post(f"/v1/sites/{SITE}/duty-roster", json={"day": "2026-12-01", "shift": "day",
                                                            "user_id": "cs-wang"}, headers=SUPERVISOR), 201)
    nights = ok(ticketing.get(f"/v1/sites/{SITE}/duty-roster?day=2026-12-01&shift=night", headers=CS))
    assert [d["user_id"] for d in nights["items"]] == ["tech-zhao"]
    refused(ticketing.post(f"/v1/sites/{SITE}/duty-roster", json={"day": "2026-12-01", "shift": "night",
                                                                 "user_id": "tech-zhao"}, headers=SUPERVISOR),
            409, "user_id")
    # Another organization neither sees the roster nor can touch its entries.
    assert ok(ticketing.get(f"/v1/sites/{SITE}/duty-roster", headers=OTHER_ORG))["items"] == []
    refused(ticketing.delete(f"/v1/duty-roster/{duty['id']}", headers=OTHER_ORG), 404)
    assert ticketing.delete(f"/v1/duty-roster/{duty['id']}", headers=SUPERVISOR).status_code == 204
    assert count(ticketing, DutyAssignment) == 1
    assert audited(ticketing, "duty_assignment") == [("assign", "cs-li"), ("assign", "cs-li"), ("withdraw", "cs-li")]
    assert [(e.duty_id, e.day, e.shift, e.user_id, e.site_id) for e in events(ticketing, DutyAssigned)][0] == (
        duty["id"], "2026-12-01", "night", "tech-zhao", SITE)
    assert len(events(ticketing, DutyAssigned)) == 2
    assert [(e.duty_id, e.user_id, e.withdrawn_by) for e in events(ticketing, DutyWithdrawn)] == [
        (duty["id"], "tech-zhao", "cs-li")]


def test_the_roster_needs_a_supervisor_at_that_site_and_bounded_input(ticketing):
    body = {"day": "2026-12-01", "shift": "day", "user_id": "cs-wang"}
    for caller in (CS, TECHNICIAN, ELSEWHERE_SUPERVISOR):
        refused(ticketing.post(f"/v1/sites/{SITE}/duty-roster", json=body, headers=caller), 403)
    for bad, field in (({"shift": "evening"}, "shift"), ({"user_id": "x" * 201}, "user_id"),
                       ({"day": "1999-12-31"}, "day")):
        refused(ticketing.post(f"/v1/sites/{SITE}/duty-roster", json={**body, **bad}, headers=SUPERVISOR), 422, field)
    assert count(ticketing, DutyAssignment) == 0 and events(ticketing, DutyAssigned) == []


def test_a_supervisor_records_who_is_away_and_the_list_answers_who_is_away_at_an_instant(ticketing):
    leave = {"user_id": "cs-li", "starts_at": "2026-12-01T09:00:00+08:00", "ends_at": "2026-12-03T18:00:00+08:00",
             "reason": "年假 Annual leave"}
    absence = ok(ticketing.post(f"/v1/sites/{SITE}/absences", json=leave, headers=SUPERVISOR), 201)
    assert (absence["user_id"], absence["starts_at"], absence["recorded_by"]) == (
        "cs-li", "2026-12-01T01:00:00+00:00", "cs-li")
    ok(ticketing.post(f"/v1/sites/{SITE}/absences", json={**leave, "user_id": "cs-wang",
                                                          "starts_at": "2026-12-05T00:00:00+08:00",
                                                          "ends_at": "2026-12-06T00:00:00+08:00"},
                      headers=SUPERVISOR), 201)
    # The same instant written in another zone finds the same absence.
    away = ok(ticketing.get(f"/v1/sites/{SITE}/absences", query_string={"at": "2026-12-01T02:30:00+01:00"},
                            headers=CS))
    assert [a["user_id"] for a in away["items"]] == ["cs-li"]
    assert ok(ticketing.get(f"/v1/sites/{SITE}/absences?user_id=cs-wang", headers=CS))["items"][0]["reason"] == \
        leave["reason"]
    assert ok(ticketing.get(f"/v1/sites/{SITE}/absences", headers=OTHER_ORG))["items"] == []
    refused(ticketing.delete(f"/v1/absences/{absence['id']}", headers=OTHER_ORG), 404)
    assert ticketing.delete(f"/v1/absences/{absence['id']}", headers=SUPERVISOR).status_code == 204
    assert count(ticketing, Absence) == 1
    assert audited(ticketing, "staff_absence") == [("record", "cs-li"), ("record", "cs-li"), ("cancel", "cs-li")]


def test_an_absence_needs_a_supervisor_at_the_site_and_an_end_after_its_start(ticketing):
    leave = {"user_id": "cs-wang", "starts_at": "2026-12-01T09:00:00+08:00", "ends_at": "2026-12-01T09:00:00+08:00"}
    refused(ticketing.post(f"/v1/sites/{SITE}/absences", json=leave, headers=SUPERVISOR), 422, "ends_at")
    refused(ticketing.post(f"/v1/sites/{SITE}/absences", json={**leave, "ends_at": "2026-12-01T10:00:00"},
                           headers=SUPERVISOR), 422, "ends_at")  # no offset: which instant is meant?
    good = {**leave, "ends_at": "2026-12-01T18:00:00+08:00"}
    refused(ticketing.post(f"/v1/sites/{SITE}/absences", json=good, headers=CS), 403)
    refused(ticketing.post(f"/v1/sites/{SITE}/absences", json=good, headers=ELSEWHERE_SUPERVISOR), 403)
    assert count(ticketing, Absence) == 0


def test_the_hours_after_midnight_belong_to_the_night_of_the_day_before(ticketing):
    with _state(ticketing).sessions() as session:
        def shift(*parts):
            return shift_at(session, ORG_A, SITE, datetime(*parts, tzinfo=SITE_ZONE))

        assert shift(2026, 12, 1, 2, 0) == (date(2026, 11, 30), "night")
        assert shift(2026, 12, 1, 8, 30) == (date(2026, 12, 1), "day")
        assert shift(2026, 12, 1, 17, 59) == (date(2026, 12, 1), "day")
        assert shift(2026, 12, 1, 18, 0) == (date(2026, 12, 1), "night")
    with _state(ticketing).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=NIGHT_HOURS,
                        new_value="all night", actor="test")
    with _state(ticketing).sessions() as session:  # a malformed setting counts as its default here
        assert shift_at(session, ORG_A, SITE, datetime(2026, 12, 1, 2, 0, tzinfo=SITE_ZONE)) == (
            date(2026, 11, 30), "night")


def test_who_is_on_duty_and_who_is_away_is_told_apart_per_site(ticketing):
    noon, day = datetime(2026, 12, 1, 12, 0, tzinfo=SITE_ZONE), date(2026, 12, 1)
    with _state(ticketing).sessions() as session, session.begin():
        for site_id, shift, user_id in ((SITE, "day", "cs-li"), (SITE, "night", "cs-wang"),
                                        (OTHER_SITE, "day", "cs-wang")):
            assign(session, organization_id=ORG_A, site_id=site_id, actor="cs-li", day=day, shift=shift,
                   user_id=user_id)
        assign(session, organization_id=ORG_B, site_id=SITE, actor="cs-b", day=day, shift="day", user_id="cs-b")
        record_absence(session, organization_id=ORG_A, site_id=OTHER_SITE, actor="cs-li", user_id="cs-zhou",
                       starts_at=noon - timedelta(hours=1), ends_at=noon + timedelta(hours=1), reason="")
        record_absence(session, organization_id=ORG_A, site_id=SITE, actor="cs-li", user_id="cs-sun",
                       starts_at=noon + timedelta(hours=1), ends_at=noon + timedelta(hours=2), reason="")
    with _state(ticketing).sessions() as session:
        assert presence(session, ORG_A, [SITE, OTHER_SITE], noon) == {
            SITE: Presence(on_duty=frozenset({"cs-li"})),
            OTHER_SITE: Presence(on_duty=frozenset({"cs-wang"}), absent=frozenset({"cs-zhou"}))}


def test_deferred_tickets_become_work_orders_at_the_morning_handover(ticketing, known):
    night = staff("night-1", roles=(), sites=(), site_roles={SITE: ["night_duty"]})
    first = received_at(ticketing, ok(act(ticketing, classified(ticketing, known), "dispatch")))
    second = received_at(ticketing, ok(act(ticketing, classified(ticketing, known), "dispatch")), "06:10")
    for ticket in (first, second):
        deferred = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/night-deferral", json={"reason": "23:40, not urgent"},
                                     headers=night))
        assert deferred["state"] == "deferred_night"
    with _state(ticketing).sessions() as session:
        paused = set(session.scalars(select(Deadline.state).where(Deadline.ticket_id == first["id"])))
        assert "paused" in paused and not paused & {"running", "warned"}

    refused(ticketing.post(f"/v1/sites/{SITE}/deferred-tickets/conversion", headers=night), 403)
    # Another organization's conversion never touches this organization's tickets.
    assert ok(ticketing.post(f"/v1/sites/{SITE}/deferred-tickets/conversion", headers=OTHER_ORG))["tickets"] == []
    converted = ok(ticketing.post(f"/v1/sites/{SITE}/deferred-tickets/conversion", headers=CS))
    assert sorted(t["id"] for t in converted["tickets"]) == sorted([first["id"], second["id"]])
    assert {t["state"] for t in converted["tickets"]} == {"assigned"}
    resumed = [e for e in events(ticketing, TicketTransitioned) if e.action == "resume"]
    assert sorted(e.ticket_id for e in resumed) == sorted([first["id"], second["id"]])
    assert all(e.from_state == "deferred_night" and e.to_state == "assigned" for e in resumed)
    # Nothing left: a second conversion converts nothing.
    assert ok(ticketing.post(f"/v1/sites/{SITE}/deferred-tickets/conversion", headers=CS))["tickets"] == []


def test_an_emergency_or_a_ticket_without_reason_is_not_deferred(ticketing, known):
    emergency = create(ticketing, repair(known, emergency=True))
    refused(ticketing.post(f"/v1/tickets/{emergency['id']}/night-deferral", json={"reason": "late"},
                           headers=TECHNICIAN), 422, "ticket_id")
    routine = received_at(ticketing, ok(act(ticketing, classified(ticketing, known), "dispatch")))
    refused(ticketing.post(f"/v1/tickets/{routine['id']}/night-deferral", json={"reason": ""}, headers=TECHNICIAN),
            422, "reason")
    refused(ticketing.post(f"/v1/tickets/{routine['id']}/night-deferral", json={"reason": "late"},
                           headers=staff("guard", roles=(), sites=(), site_roles={SITE: ["security_guard"]})), 403)
    refused(ticketing.post(f"/v1/tickets/{routine['id']}/night-deferral", json={"reason": "late"},
                           headers=OTHER_ORG), 404)
    # Registered, not dispatched: the lifecycle's own 409 names what is allowed.
    registered = received_at(ticketing, create(ticketing, complaint(known)))
    body = refused(ticketing.post(f"/v1/tickets/{registered['id']}/night-deferral", json={"reason": "late"},
                                  headers=TECHNICIAN), 409)
    assert "classify" in body["allowed"]
    with _state(ticketing).sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.state == "deferred_night")) == 0


def _night_hours(client, value):
    with _state(client).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=NIGHT_HOURS,
                        new_value=value, actor="test")


def test_only_what_came_in_during_the_night_shift_is_deferred(ticketing, known):
    ticket = received_at(ticketing, ok(act(ticketing, classified(ticketing, known), "dispatch")), "10:15")

    def defer():
        return ticketing.post(f"/v1/tickets/{ticket['id']}/night-deferral", json={"reason": "late"},
                              headers=TECHNICIAN)

    assert "10:15" in refused(defer(), 409, "ticket_id")["detail"]
    _night_hours(ticketing, ["12:00", "13:00"])
    refused(defer(), 409, "ticket_id")
    _night_hours(ticketing, "all night")
    assert NIGHT_HOURS.key in refused(defer(), 409)["detail"]
    # A site whose night shift starts in the morning (a night watch from 10:00 to 11:00, say) defers it.
    _night_hours(ticketing, ["10:00", "11:00"])
    assert ok(defer())["state"] == "deferred_night"


# -- TKT-6 handover ----------------------------------------------------------------------------------------


def test_the_outgoing_shift_hands_over_the_open_items_and_another_person_acknowledges_once(ticketing, known):
    leak = create(ticketing, repair(known))
    noise = create(ticketing, complaint(known, tier="major"))
    create(ticketing, {"site_id": SITE, "type": "suggestion", "channel": "phone", "subject": "More benches"})
    closed = create(ticketing, complaint(known))
    ok(act(ticketing, closed, "declare_invalid", reason="not founded"))
    create(ticketing, repair({}, site_id=OTHER_SITE))

    record = ok(ticketing.post(f"/v1/sites/{SITE}/handovers", json={"day": "2026-12-01", "shift": "day",
                                                                    "notes": "Lift 2 stuck twice"}, headers=CS), 201)
    assert record["state"] == "written" and record["written_by"] == "cs-wang"
    assert [(i["ticket_id"], i["type"], i["tier"]) for i in record["items"]] == [
        (leak["id"], "repair", None), (noise["id"], "complaint", "major")]
    refused(ticketing.post(f"/v1/sites/{SITE}/handovers", json={"day": "2026-12-01", "shift": "day"}, headers=CS),
            409, "shift")

    refused(ticketing.post(f"/v1/handovers/{record['id']}/acknowledgement", headers=CS), 409)
    refused(ticketing.post(f"/v1/handovers/{record['id']}/acknowledgement", headers=TECHNICIAN), 403)
    refused(ticketing.post(f"/v1/handovers/{record['id']}/acknowledgement", headers=OTHER_ORG), 404)
    acknowledged = ok(ticketing.post(f"/v1/handovers/{record['id']}/acknowledgement", headers=INCOMING))
    assert (acknowledged["state"], acknowledged["acknowledged_by"]) == ("acknowledged", "cs-sun")
    again = refused(ticketing.post(f"/v1/handovers/{record['id']}/acknowledgement", headers=SUPERVISOR), 409)
    assert again["allowed"] == []
    assert ok(ticketing.get(f"/v1/handovers/{record['id']}", headers=CS))["acknowledged_by"] == "cs-sun"
    listed = ok(ticketing.get(f"/v1/sites/{SITE}/handovers?state=acknowledged", headers=CS))
    assert [h["id"] for h in listed["items"]] == [record["id"]]
    refused(ticketing.get(f"/v1/handovers/{record['id']}", headers=OTHER_ORG), 404)
    assert audited(ticketing, "handover") == [("write", "cs-wang"), ("acknowledge", "cs-sun")]
    [written] = events(ticketing, HandoverWritten)
    assert (written.handover_id, list(written.ticket_ids), written.shift, written.written_by) == (
        record["id"], [leak["id"], noise["id"]], "day", "cs-wang")
    [signed] = events(ticketing, HandoverAcknowledged)
    assert (signed.handover_id, signed.acknowledged_by) == (record["id"], "cs-sun")
    assert signed.acknowledged_at.ToDatetime(timezone.utc) == datetime.fromisoformat(acknowledged["acknowledged_at"])


def test_a_handover_is_written_by_customer_service_at_that_site_with_bounded_input(ticketing):
    body = {"day": "2026-12-01", "shift": "night"}
    refused(ticketing.post(f"/v1/sites/{SITE}/handovers", json=body, headers=TECHNICIAN), 403)
    elsewhere = staff("cs-x", roles=(), sites=(), site_roles={SITE: ["cashier"], OTHER_SITE: ["cs_specialist"]})
    refused(ticketing.post(f"/v1/sites/{SITE}/handovers", json=body, headers=elsewhere), 403)
    for bad, field in (({"shift": "noon"}, "shift"), ({"notes": "x" * 4001}, "notes"), ({"day": "2200-01-01"}, "day")):
        refused(ticketing.post(f"/v1/sites/{SITE}/handovers", json={**body, **bad}, headers=CS), 422, field)
    assert count(ticketing, Handover) == 0 and events(ticketing, HandoverWritten) == []


# -- TKT-7 daily review ------------------------------------------------------------------------------------


def _age(client, ticket_id, hours):
    """The ticket's last step, and its clocks' due instants, as if `hours` ago."""
    back = datetime.now(timezone.utc) - timedelta(hours=hours)
    with _state(client).sessions() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(updated_at=back, created_at=back))


def _due(client, ticket_id, hours_ago):
    with _state(client).sessions() as session, session.begin():
        session.execute(update(Deadline).where(Deadline.ticket_id == ticket_id, Deadline.state == "running")
                        .values(due_at=datetime.now(timezone.utc) - timedelta(hours=hours_ago)))


def review(client, headers=SUPERVISOR, query=""):
    return client.get(f"/v1/sites/{SITE}/daily-review{query}", headers=headers)


def test_the_daily_review_lists_overdue_and_forgotten_open_tickets(ticketing, known):
    overdue = create(ticketing, repair(known))
    forgotten = create(ticketing, complaint(known))
    remembered = create(ticketing, complaint(known))
    fresh = create(ticketing, complaint(known))
    create(ticketing, repair({}, site_id=OTHER_SITE))
    _due(ticketing, overdue["id"], 1)
    for ticket in (forgotten, remembered):
        _age(ticketing, ticket["id"], 30)
    ok(ticketing.post(f"/v1/tickets/{remembered['id']}/comments", json={"body": "Called back"}, headers=CS), 201)

    page = ok(review(ticketing))
    assert page["forgotten_hours"] == 24 and page["time_zone"] == "Asia/Shanghai"
    listed = {item["ticket"]["id"]: item for item in page["items"]}
    assert set(listed) == {overdue["id"], forgotten["id"]}
    assert listed[overdue["id"]]["overdue_stages"] and listed[overdue["id"]]["forgotten"] is False
    assert listed[forgotten["id"]]["overdue_stages"] == [] and listed[forgotten["id"]]["forgotten"] is True
    assert fresh["id"] not in listed

    # The site's policy waits two days before a ticket counts as forgotten.
    with _state(ticketing).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=FORGOTTEN_HOURS,
                        new_value=48, actor="test")
    page = ok(review(ticketing))
    assert page["forgotten_hours"] == 48
    assert [item["ticket"]["id"] for item in page["items"]] == [overdue["id"]]
    # A closed-out ticket is off the list; a past day knows nothing of tickets created after it.
    ok(act(ticketing, overdue, "declare_invalid", reason="duplicate"))
    assert ok(review(ticketing))["items"] == []
    assert ok(review(ticketing, query="?date=2020-01-01"))["items"] == []


def test_the_daily_review_pages(ticketing, known):
    made = [create(ticketing, complaint(known)) for _ in range(3)]
    for ticket in made:
        _age(ticketing, ticket["id"], 30)
    first = ok(review(ticketing, query="?limit=2"))
    second = ok(review(ticketing, query=f"?limit=2&cursor={first['next_cursor']}"))
    assert [i["ticket"]["id"] for i in first["items"] + second["items"]] == [t["id"] for t in made]
    assert second["next_cursor"] is None


def test_the_daily_review_is_for_supervisors_and_managers_at_the_site(ticketing):
    for caller in (CS, TECHNICIAN, ELSEWHERE_SUPERVISOR):
        refused(review(ticketing, headers=caller), 403)
    manager = staff("sm-he", roles=(), sites=(), site_roles={SITE: ["site_manager"]})
    assert ok(review(ticketing, headers=manager))["site_id"] == SITE
    assert refused(review(ticketing, headers=staff("x", roles=("cs_supervisor",), sites=(OTHER_SITE,))), 404)
    for query in ("?date=2026-13-01", "?date=1999-12-31"):
        refused(review(ticketing, query=query), 422, "date")
    refused(review(ticketing, query="?limit=0"), 422, "limit")


def test_a_bad_forgotten_hours_setting_is_named(ticketing):
    with _state(ticketing).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=FORGOTTEN_HOURS,
                        new_value="a day", actor="test")
    body = refused(review(ticketing), 409)
    assert FORGOTTEN_HOURS.key in body["detail"]


def test_the_docs_and_the_api_document_hold_the_handover_diagram(ticketing):
    doc = (Path(__file__).resolve().parents[3] / "docs" / "ticketing" / "shifts.md").read_text(encoding="utf-8")
    assert HANDOVER.mermaid() in doc
    paths = ok(ticketing.get("/openapi.json"))["paths"]
    assert HANDOVER.mermaid() in paths["/v1/handovers/{handover_id}/acknowledgement"]["post"]["description"]
