"""Field work on SQLite: patrol plans (TKT-10) with their recurrence on the site's clock, the tasks the
generator makes once, findings that become tickets, plans from occupants' events; incidents (TKT-11) of the
seven kinds with their linked tickets and the events that start the emergency chain; violations (TKT-12) with
the remedy ladder, who may penalise, the general manager's signature and the retention."""

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from psp.occupants.v1.decoration_pb2 import DecorationViolationReported
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn
from psp.ticketing.v1.field_pb2 import IncidentClosed, IncidentOpened
from psp.ticketing.v1.tickets_pb2 import TicketRegistered
from sqlalchemy import func, select

from services.ticketing.incidents.rules import INCIDENT, KINDS
from services.ticketing.incidents.tables import Incident, IncidentTicket
from services.ticketing.models import chassis
from services.ticketing.patrols import recurrence
from services.ticketing.patrols import rules as patrols
from services.ticketing.patrols.tables import PatrolFinding, PatrolPlan
from services.ticketing.tickets.tables import Ticket
from services.ticketing.violations.rules import VIOLATION
from services.ticketing.violations.tables import Violation
from shared.problems import Problem
from tests.conftest import ORG_B
from tests.support.outbox import published
from tests.support.tickets import deliver, staff

SITE = str(uuid.uuid4())
OTHER_SITE = str(uuid.uuid4())
SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPERVISOR = staff("cs-li", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
STEWARD = staff("steward-wu", roles=(), sites=(), site_roles={SITE: ["steward"]})
TECHNICIAN = staff("tech-zhao", roles=(), sites=(), site_roles={SITE: ["technician"]})
SITE_MANAGER = staff("sm-sun", roles=(), sites=(), site_roles={SITE: ["site_manager"]})
SUPERVISOR_ELSEWHERE = staff("cs-he", roles=(), sites=(), site_roles={SITE: ["steward"], OTHER_SITE: ["cs_supervisor"]})
GENERAL_MANAGER = staff("gm-qian", roles=(), sites=(), site_roles={SITE: ["general_manager"]})
FOREIGN = staff("cs-other", roles=("cs_supervisor",), org=ORG_B)
TOMORROW = datetime.combine(datetime.now(SHANGHAI).date() + timedelta(days=1), datetime.min.time(), SHANGHAI)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response, status, field=None):
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if field is not None:
        assert field in [error.get("field") for error in body.get("errors", [])] or body.get("field") == field, body
    return body


def _state(client):
    return client.application.extensions["psp"]


def count(client, what) -> int:
    with _state(client).sessions() as session:
        return session.scalar(select(func.count()).select_from(what))


def events(client, message_cls):
    return [payload for _, payload in published(_state(client).engine, chassis, message_cls)]


def generate(client, now) -> int:
    with _state(client).sessions() as session, session.begin():
        return patrols.generate(session, now)[1]


def plan_body(**overrides):
    return {"site_id": SITE, "name": "客服主管巡查 Supervisor's rounds", "checkpoints": ["大堂", "地下车库", "2号楼天台"],
            "patrol_role": "cs_supervisor", "rrule": "FREQ=DAILY;BYHOUR=9,14,20", "starts_at": TOMORROW.isoformat(),
            **overrides}


def tasks(client, headers=SUPERVISOR, **query):
    return ok(client.get("/v1/patrol-tasks", query_string={"limit": 100, **query}, headers=headers))["items"]


# -- recurrence --------------------------------------------------------------------------------------------


def test_a_daily_rule_falls_on_the_sites_clock_at_each_hour():
    start = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    found = recurrence.occurrences(recurrence.parse("FREQ=DAILY;BYHOUR=9,14;BYMINUTE=30"), start, SHANGHAI,
                                   start - timedelta(seconds=1), start + timedelta(days=2))
    assert [moment.astimezone(SHANGHAI).strftime("%d %H:%M") for moment in found] == [
        "01 09:30", "01 14:30", "02 09:30", "02 14:30"]
    assert found[0] == datetime(2026, 3, 1, 1, 30, tzinfo=timezone.utc)


def test_a_weekly_rule_keeps_its_days_and_interval_and_stops_at_the_end():
    start = datetime(2026, 1, 5, 8, tzinfo=SHANGHAI)  # a Monday
    rule = recurrence.parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH")
    found = recurrence.occurrences(rule, start, SHANGHAI, start - timedelta(seconds=1), start + timedelta(days=27))
    assert [moment.day for moment in found] == [5, 8, 19, 22]
    ended = recurrence.occurrences(rule, start, SHANGHAI, start - timedelta(seconds=1), start + timedelta(days=27),
                                   ends_at=datetime(2026, 1, 19, tzinfo=SHANGHAI))
    assert [moment.day for moment in ended] == [5, 8]


def test_an_empty_rule_is_one_patrol_at_the_start():
    start = datetime(2026, 1, 5, 8, tzinfo=SHANGHAI)
    later = start + timedelta(days=9)
    assert recurrence.occurrences(None, start, SHANGHAI, start - timedelta(hours=1), later) == [start]
    assert recurrence.occurrences(None, start, SHANGHAI, start, start + timedelta(days=9)) == []


@pytest.mark.parametrize("text", ["FREQ=HOURLY", "FREQ=DAILY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=XX", "FREQ=DAILY;BYHOUR=24",
                                  "FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;COUNT=3", "FREQ=DAILY;FREQ=DAILY", "BYHOUR=9"])
def test_rules_outside_the_supported_forms_are_refused(text):
    with pytest.raises(Problem) as refusal:
        recurrence.parse(text)
    assert refusal.value.status == 422


# -- plans and tasks ---------------------------------------------------------------------------------------


def test_a_supervisor_at_the_site_sets_a_plan_and_others_may_not(ticketing):
    refused(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=STEWARD), 403)
    refused(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=SUPERVISOR_ELSEWHERE), 403)
    assert count(ticketing, PatrolPlan) == 0
    plan = ok(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=SUPERVISOR), 201)
    assert plan["purpose"] == "site" and plan["active"] and plan["checkpoints"][0] == "大堂"
    assert datetime.fromisoformat(plan["starts_at"]) == TOMORROW
    refused(ticketing.get(f"/v1/patrol-plans/{plan['id']}", headers=FOREIGN), 404)
    assert [item["id"] for item in ok(ticketing.get("/v1/patrol-plans", headers=STEWARD))["items"]] == [plan["id"]]
    assert ok(ticketing.get("/v1/patrol-plans", headers=FOREIGN))["items"] == []


@pytest.mark.parametrize("overrides, field", [
    ({"rrule": "FREQ=MONTHLY"}, "rrule"),
    ({"ends_at": (TOMORROW - timedelta(days=1)).isoformat()}, "ends_at"),
    ({"checkpoints": []}, "checkpoints"),
    ({"patrol_role": "technician"}, "patrol_role"),
    ({"starts_at": "2026-01-01T08:00:00"}, "starts_at"),
])
def test_a_bad_plan_is_refused_naming_the_field_and_nothing_is_kept(ticketing, overrides, field):
    refused(ticketing.post("/v1/patrol-plans", json=plan_body(**overrides), headers=SUPERVISOR), 422, field)
    assert count(ticketing, PatrolPlan) == 0 and count(ticketing, chassis.audit_log) == 0


def test_the_generator_makes_each_due_patrol_once_ahead_of_time(ticketing):
    plan = ok(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=SUPERVISOR), 201)
    assert generate(ticketing, TOMORROW + timedelta(hours=1)) == 3  # 09:00, 14:00, 20:00 within a day's lead
    assert generate(ticketing, TOMORROW + timedelta(hours=1)) == 0  # not due again until half the lead is left
    assert generate(ticketing, TOMORROW + timedelta(hours=13)) == 1  # the next morning's round
    due = [datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI) for task in tasks(ticketing)]
    assert [(moment.day - TOMORROW.day, moment.hour) for moment in due] == [(0, 9), (0, 14), (0, 20), (1, 9)]
    assert {task["plan_id"] for task in tasks(ticketing)} == {plan["id"]}
    assert tasks(ticketing, headers=FOREIGN) == []


def test_a_withdrawn_plan_cancels_its_rounds_not_yet_patrolled(ticketing):
    plan = ok(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=SUPERVISOR), 201)
    generate(ticketing, TOMORROW + timedelta(hours=1))
    refused(ticketing.post(f"/v1/patrol-plans/{plan['id']}/withdraw", json={"reason": "改为保安巡查"},
                           headers=STEWARD), 403)
    refused(ticketing.post(f"/v1/patrol-plans/{plan['id']}/withdraw", json={"reason": ""}, headers=SUPERVISOR),
            422, "reason")
    withdrawn = ok(ticketing.post(f"/v1/patrol-plans/{plan['id']}/withdraw", json={"reason": "改为保安巡查"},
                                  headers=SUPERVISOR))
    assert not withdrawn["active"] and withdrawn["withdrawn_reason"] == "改为保安巡查"
    assert {task["state"] for task in tasks(ticketing)} == {"cancelled"}
    again = ticketing.post(f"/v1/patrol-plans/{plan['id']}/withdraw", json={"reason": "again"}, headers=SUPERVISOR)
    refused(again, 409)
    assert generate(ticketing, TOMORROW + timedelta(days=3)) == 0


def test_findings_become_patrol_tickets_and_a_round_is_recorded_once(ticketing):
    ok(ticketing.post("/v1/patrol-plans", json=plan_body(), headers=SUPERVISOR), 201)
    generate(ticketing, TOMORROW + timedelta(hours=1))
    task = tasks(ticketing)[0]
    bad = {"findings": [{"checkpoint": "屋顶花园", "description": "?"}]}
    refused(ticketing.post(f"/v1/patrol-tasks/{task['id']}/record", json=bad, headers=STEWARD), 422,
            "findings.0.checkpoint")
    assert count(ticketing, Ticket) == 0 and tasks(ticketing)[0]["state"] == "due"
    refused(ticketing.post(f"/v1/patrol-tasks/{task['id']}/record", json={}, headers=FOREIGN), 404)
    round_ = {"notes": "其余正常", "findings": [{"checkpoint": "地下车库", "description": "B2 消防通道被占用"},
                                               {"checkpoint": "2号楼天台", "description": "天台门锁损坏"}]}
    recorded = ok(ticketing.post(f"/v1/patrol-tasks/{task['id']}/record", json=round_, headers=STEWARD))
    assert recorded["state"] == "done" and recorded["recorded_by"] == "steward-wu"
    assert sorted(finding["checkpoint"] for finding in recorded["findings"]) == ["2号楼天台", "地下车库"]
    ticket = ok(ticketing.get(f"/v1/tickets/{recorded['findings'][0]['ticket_id']}", headers=SUPERVISOR))
    assert (ticket["type"], ticket["channel"], ticket["owner_id"]) == ("patrol_finding", "patrol", "steward-wu")
    assert ticket["source_reference"] == f"patrol:{task['id']}"
    registered = events(ticketing, TicketRegistered)
    assert len(registered) == 2 and {event.type for event in registered} == {"patrol_finding"}
    refused(ticketing.post(f"/v1/patrol-tasks/{task['id']}/record", json=round_, headers=STEWARD), 409)
    assert count(ticketing, Ticket) == 2 and count(ticketing, PatrolFinding) == 2


# -- plans from occupants ----------------------------------------------------------------------------------


def _stamp(moment) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def decoration_plan(plan_id, rrule="FREQ=DAILY;BYHOUR=10") -> PatrolPlanPublished:
    return PatrolPlanPublished(plan_id=plan_id, purpose="decoration", reference_id=str(uuid.uuid4()), site_id=SITE,
                               unit_id=str(uuid.uuid4()), rrule=rrule, starts_at=_stamp(TOMORROW),
                               checkpoints=["承重墙", "防水层"], patrol_role="steward")


def test_occupants_plans_are_taken_once_replaced_on_republishing_and_withdrawn(ticketing):
    sessions, plan_id = _state(ticketing).sessions, str(uuid.uuid4())
    deliver(sessions, decoration_plan(plan_id))
    deliver(sessions, decoration_plan(plan_id))
    deliver(sessions, decoration_plan(plan_id, rrule="FREQ=DAILY;BYHOUR=15"), organization_id=ORG_B)
    assert count(ticketing, PatrolPlan) == 1
    plan = ok(ticketing.get(f"/v1/patrol-plans/{plan_id}", headers=STEWARD))
    assert (plan["purpose"], plan["patrol_role"], plan["rrule"]) == ("decoration", "steward", "FREQ=DAILY;BYHOUR=10")
    generate(ticketing, TOMORROW + timedelta(hours=1))
    assert [datetime.fromisoformat(t["due_at"]).astimezone(SHANGHAI).hour for t in tasks(ticketing)] == [10]
    deliver(sessions, decoration_plan(plan_id, rrule="FREQ=DAILY;BYHOUR=16"))
    assert tasks(ticketing) == []  # the rounds not yet patrolled follow the new schedule
    generate(ticketing, TOMORROW + timedelta(hours=1))
    assert [datetime.fromisoformat(t["due_at"]).astimezone(SHANGHAI).hour for t in tasks(ticketing)] == [16]
    withdrawal = PatrolPlanWithdrawn(plan_id=plan_id, site_id=SITE, reason="装修验收完成")
    deliver(sessions, withdrawal)
    deliver(sessions, withdrawal)
    plan = ok(ticketing.get(f"/v1/patrol-plans/{plan_id}", headers=STEWARD))
    assert not plan["active"] and plan["withdrawn_reason"] == "装修验收完成"
    assert {task["state"] for task in tasks(ticketing)} == {"cancelled"}


def test_an_unreadable_schedule_from_occupants_keeps_the_plan_without_tasks(ticketing):
    plan_id = str(uuid.uuid4())
    deliver(_state(ticketing).sessions, decoration_plan(plan_id, rrule="FREQ=MONTHLY;BYMONTHDAY=1"))
    plan = ok(ticketing.get(f"/v1/patrol-plans/{plan_id}", headers=STEWARD))
    assert not plan["active"] and "FREQ=MONTHLY" in plan["withdrawn_reason"]
    assert generate(ticketing, TOMORROW + timedelta(days=2)) == 0


# -- incidents ---------------------------------------------------------------------------------------------


def incident_body(**overrides):
    return {"site_id": SITE, "kind": "lift_entrapment", "title": "3号梯困人", "place": "2号楼 3号电梯", **overrides}


def a_ticket(client, site_id=SITE, headers=SUPERVISOR):
    body = {"site_id": site_id, "type": "help", "channel": "phone", "subject": "电梯停在12楼"}
    return ok(client.post("/v1/tickets", json=body, headers=headers), 201)


@pytest.mark.parametrize("kind", KINDS)
def test_each_of_the_seven_kinds_opens_an_incident_that_starts_the_emergency_chain(ticketing, kind):
    incident = ok(ticketing.post("/v1/incidents", json=incident_body(kind=kind), headers=TECHNICIAN), 201)
    assert (incident["state"], incident["kind"], incident["opened_by"]) == ("open", kind, "tech-zhao")
    [opened] = events(ticketing, IncidentOpened)
    assert (opened.incident_id, opened.kind, opened.site_id, opened.place) == (incident["id"], kind, SITE, "2号楼 3号电梯")


@pytest.mark.parametrize("overrides, field", [({"kind": "earthquake"}, "kind"), ({"title": ""}, "title"),
                                               ({"building_id": "x"}, "building_id")])
def test_a_bad_incident_is_refused_naming_the_field_and_nothing_is_published(ticketing, overrides, field):
    refused(ticketing.post("/v1/incidents", json=incident_body(**overrides), headers=TECHNICIAN), 422, field)
    assert count(ticketing, Incident) == 0 and count(ticketing, chassis.outbox) == 0


def test_an_incident_links_its_tickets_and_only_those_who_lead_close_it(ticketing):
    incident = ok(ticketing.post("/v1/incidents", json=incident_body(kind="power_failure"), headers=STEWARD), 201)
    first, second = a_ticket(ticketing), a_ticket(ticketing)
    elsewhere = a_ticket(ticketing, OTHER_SITE, headers=staff("cs-far", roles=(), sites=(),
                                                               site_roles={OTHER_SITE: ["cs_specialist"]}))
    link = f"/v1/incidents/{incident['id']}/tickets"
    refused(ticketing.post(link, json={"ticket_id": first["id"]}, headers=TECHNICIAN), 403)
    refused(ticketing.post(link, json={"ticket_id": elsewhere["id"]}, headers=STEWARD), 422, "ticket_id")
    refused(ticketing.post(link, json={"ticket_id": first["id"]}, headers=FOREIGN), 404)
    ok(ticketing.post(link, json={"ticket_id": first["id"]}, headers=STEWARD))
    refused(ticketing.post(link, json={"ticket_id": first["id"]}, headers=STEWARD), 409, "ticket_id")
    linked = ok(ticketing.post(link, json={"ticket_id": second["id"]}, headers=STEWARD))
    assert sorted(linked["ticket_ids"]) == sorted([first["id"], second["id"]])
    assert linked["allowed_actions"] == ["close"]

    close = f"/v1/incidents/{incident['id']}/close"
    refused(ticketing.post(close, json={"summary": "恢复供电"}, headers=STEWARD), 403)
    refused(ticketing.post(close, json={"summary": "恢复供电"}, headers=SUPERVISOR_ELSEWHERE), 403)
    refused(ticketing.post(close, json={"summary": ""}, headers=SITE_MANAGER), 422, "summary")
    assert events(ticketing, IncidentClosed) == []
    closed = ok(ticketing.post(close, json={"summary": "供电局抢修，19:40恢复供电"}, headers=SITE_MANAGER))
    assert (closed["state"], closed["closed_by"], closed["allowed_actions"]) == ("closed", "sm-sun", [])
    [event] = events(ticketing, IncidentClosed)
    assert sorted(event.ticket_ids) == sorted([first["id"], second["id"]]) and event.kind == "power_failure"
    body = refused(ticketing.post(close, json={"summary": "again"}, headers=SITE_MANAGER), 409)
    assert body["allowed"] == []
    refused(ticketing.post(link, json={"ticket_id": a_ticket(ticketing)["id"]}, headers=STEWARD), 409)
    assert count(ticketing, IncidentTicket) == 2 and len(events(ticketing, IncidentClosed)) == 1


def test_another_organizations_incident_is_404_and_lists_are_its_own(ticketing):
    incident = ok(ticketing.post("/v1/incidents", json=incident_body(), headers=STEWARD), 201)
    refused(ticketing.get(f"/v1/incidents/{incident['id']}", headers=FOREIGN), 404)
    refused(ticketing.post(f"/v1/incidents/{incident['id']}/close", json={"summary": "x"}, headers=FOREIGN), 404)
    assert ok(ticketing.get("/v1/incidents", headers=FOREIGN))["items"] == []
    assert [item["id"] for item in ok(ticketing.get("/v1/incidents?state=open&kind=lift_entrapment",
                                                    headers=STEWARD))["items"]] == [incident["id"]]
    assert ok(ticketing.get("/v1/incidents?kind=fire", headers=STEWARD))["items"] == []


# -- violations --------------------------------------------------------------------------------------------


def violation_body(**overrides):
    return {"site_id": SITE, "category": "public_order", "severity": "general", "description": "高空抛物 水瓶",
            "observed_at": "2026-02-28T21:30:00+08:00", **overrides}


def violation_step(client, violation, headers, **body):
    return client.post(f"/v1/violations/{violation['id']}/transitions", json=body, headers=headers)


def rung(client, violation, headers, **body):
    return client.post(f"/v1/violations/{violation['id']}/remedies", json=body, headers=headers)


@pytest.mark.parametrize("overrides, field", [
    ({"category": "littering"}, "category"), ({"severity": "minor"}, "severity"), ({"description": ""}, "description"),
    ({"observed_at": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()}, "observed_at"),
])
def test_a_bad_violation_report_is_refused_naming_the_field_and_nothing_is_kept(ticketing, overrides, field):
    refused(ticketing.post("/v1/violations", json=violation_body(**overrides), headers=STEWARD), 422, field)
    assert count(ticketing, Violation) == 0 and count(ticketing, chassis.audit_log) == 0


def test_a_general_violation_climbs_the_ladder_and_only_a_supervisor_at_the_site_penalises(ticketing):
    violation = ok(ticketing.post("/v1/violations", json=violation_body(), headers=STEWARD), 201)
    assert (violation["state"], violation["retain_until"], violation["remedy"]) == ("reported", "2027-02-28", None)
    assert ok(rung(ticketing, violation, STEWARD, step="persuasion", note="上门劝导"))["remedy"] == "persuasion"
    deadline = (datetime.now(timezone.utc) + timedelta(days=7)).date().isoformat()
    refused(rung(ticketing, violation, STEWARD, step="rectification", rectify_by=deadline), 403)
    refused(rung(ticketing, violation, SUPERVISOR_ELSEWHERE, step="rectification", rectify_by=deadline), 403)
    refused(rung(ticketing, violation, SUPERVISOR, step="rectification"), 422, "rectify_by")
    refused(rung(ticketing, violation, SUPERVISOR, step="rectification", rectify_by="2020-01-01"), 422, "rectify_by")
    rectified = ok(rung(ticketing, violation, SUPERVISOR, step="rectification", rectify_by=deadline))
    assert (rectified["remedy"], rectified["rectify_by"]) == ("rectification", deadline)
    refused(rung(ticketing, violation, SUPERVISOR, step="persuasion"), 409, "step")
    refused(rung(ticketing, violation, SUPERVISOR, step="lawsuit"), 422, "mediation_failed")

    refused(violation_step(ticketing, violation, STEWARD, action="decide", penalty="罚款"), 403)
    refused(violation_step(ticketing, violation, SUPERVISOR_ELSEWHERE, action="decide", penalty="罚款"), 403)
    refused(violation_step(ticketing, violation, SUPERVISOR, action="decide"), 422, "penalty")
    refused(violation_step(ticketing, violation, SUPERVISOR, action="assess", assessed_loss="10.00"), 403)
    refused(violation_step(ticketing, violation, SITE_MANAGER, action="assess", assessed_loss="10.00"), 409)
    refused(violation_step(ticketing, violation, SUPERVISOR, action="decide", penalty="赔偿",
                           penalty_amount="12345678901.00"), 422, "penalty_amount")
    assert ok(ticketing.get(f"/v1/violations/{violation['id']}", headers=STEWARD))["state"] == "reported"
    decided = ok(violation_step(ticketing, violation, SUPERVISOR, action="decide", penalty="赔偿车辆损失",
                                penalty_amount="300.00"))
    assert (decided["state"], decided["penalty_amount"], decided["decided_by"]) == ("decided", "300.00", "cs-li")
    assert decided["effective_at"] is not None and decided["allowed_actions"] == ["close"]
    closed = ok(violation_step(ticketing, violation, SUPERVISOR, action="close", reason="已赔偿"))
    assert closed["state"] == "closed"
    assert [entry["action"] for entry in closed["history"]] == [
        "report", "remedy", "remedy", "decide", "close"]
    body = refused(violation_step(ticketing, violation, SUPERVISOR, action="close"), 409)
    assert body["allowed"] == []
    refused(rung(ticketing, violation, SUPERVISOR, step="lawsuit", mediation_failed=True), 409)


def test_a_major_decision_takes_effect_only_when_the_general_manager_signs(ticketing):
    violation = ok(ticketing.post("/v1/violations", json=violation_body(category="fire_safety", severity="major"),
                                  headers=STEWARD), 201)
    assert violation["retain_until"] == "2031-02-28"
    refused(violation_step(ticketing, violation, SUPERVISOR, action="decide", penalty="罚款"), 409)
    refused(violation_step(ticketing, violation, SITE_MANAGER, action="assess"), 422, "assessed_loss")
    assessed = ok(violation_step(ticketing, violation, SITE_MANAGER, action="assess", assessed_loss="1200.50"))
    assert (assessed["state"], assessed["assessed_loss"]) == ("assessed", "1200.50")
    awaiting = ok(violation_step(ticketing, violation, SUPERVISOR, action="decide", penalty="赔偿消防设施损失",
                                 penalty_amount="1200.50"))
    assert (awaiting["state"], awaiting["effective_at"]) == ("awaiting_signature", None)
    refused(violation_step(ticketing, violation, SITE_MANAGER, action="sign"), 403)
    refused(violation_step(ticketing, violation, SITE_MANAGER, action="close"), 409)
    signed = ok(violation_step(ticketing, violation, GENERAL_MANAGER, action="sign"))
    assert (signed["state"], signed["signed_by"]) == ("decided", "gm-qian") and signed["effective_at"] is not None
    refused(ticketing.get(f"/v1/violations/{violation['id']}", headers=FOREIGN), 404)
    refused(violation_step(ticketing, violation, FOREIGN, action="close"), 404)
    ok(rung(ticketing, violation, SITE_MANAGER, step="lawsuit", mediation_failed=True, note="调解不成"))


def test_decoration_violations_from_occupants_are_recorded_once(ticketing):
    observed = Timestamp()
    observed.FromDatetime(datetime(2026, 6, 1, 2, tzinfo=timezone.utc))
    reported = DecorationViolationReported(
        violation_id=str(uuid.uuid4()), decoration_id=str(uuid.uuid4()), site_id=SITE, unit_id=str(uuid.uuid4()),
        category="decoration", severity="major", description="拆改承重墙", observed_at=observed,
        reported_by="steward-wu")
    deliver(_state(ticketing).sessions, reported)
    deliver(_state(ticketing).sessions, reported)
    [violation] = ok(ticketing.get("/v1/violations?category=decoration", headers=STEWARD))["items"]
    assert (violation["severity"], violation["reported_by"], violation["retain_until"]) == ("major", "steward-wu",
                                                                                          "2031-06-01")
    assert violation["source_reference"] == f"decoration:{reported.violation_id}"
    assert ok(ticketing.get("/v1/violations", headers=FOREIGN))["items"] == []


def test_the_docs_and_the_api_document_hold_the_current_diagrams(ticketing):
    doc = (Path(__file__).resolve().parents[3] / "docs" / "ticketing" / "field.md").read_text(encoding="utf-8")
    paths = ok(ticketing.get("/openapi.json"))["paths"]
    for workflow, path in ((INCIDENT, "/v1/incidents/{incident_id}/close"),
                           (VIOLATION, "/v1/violations/{violation_id}/transitions")):
        assert workflow.mermaid() in doc
        assert workflow.mermaid() in paths[path]["post"]["description"]


def test_a_supervisors_rounds_at_random_times_fall_within_their_window(ticketing):
    ok(ticketing.post("/v1/patrol-plans", json=plan_body(random_minutes=90), headers=SUPERVISOR), 201)
    refused(ticketing.post("/v1/patrol-plans", json=plan_body(random_minutes=181), headers=SUPERVISOR), 422,
            "random_minutes")
    assert generate(ticketing, TOMORROW + timedelta(hours=1)) == 3
    for task, hour in zip(tasks(ticketing), (9, 14, 20)):
        nominal = TOMORROW.replace(hour=hour)
        assert nominal <= datetime.fromisoformat(task["due_at"]) <= nominal + timedelta(minutes=90)
