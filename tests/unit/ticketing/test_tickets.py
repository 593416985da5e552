"""Tickets (TKT-1 … TKT-3) on SQLite: intake of every type and channel, routing by category, the one number,
first-question responsibility, every path of the lifecycle with its illegal steps, closing rules, anonymous
complainants, comments and attachments, the lists, and the events each change records in the outbox."""

import io
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from psp.occupants.v1.movein_pb2 import RectificationRequested
from psp.occupants.v1.people_pb2 import PersonUpdated
from psp.occupants.v1.places_pb2 import UnitChanged
from psp.ticketing.v1.tickets_pb2 import (
    TicketClosed, TicketOwnerChanged, TicketRegistered, TicketTransferred, TicketTransitioned,
)
from sqlalchemy import func, select

from services.ticketing.models import chassis
from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets import categories
from services.ticketing.tickets.rules import CHANNELS, NUMBER_PREFIX, TICKET
from services.ticketing.tickets.tables import Ticket
from shared import policy
from tests.conftest import ORG_A, ORG_B
from tests.support.outbox import published
from tests.support.tickets import a_person, a_unit, deliver, staff

SITE = str(uuid.uuid4())
SITE_ZONE = ZoneInfo("Asia/Shanghai")
OTHER_SITE = str(uuid.uuid4())
CS = staff("cs-wang")
SUPERVISOR = staff("cs-li", roles=("cs_supervisor",))
TECHNICIAN = staff("tech-zhao", roles=("technician",))
MANAGER = staff("pm-chen", roles=("property_manager",))
LATER = datetime.now(timezone.utc) + timedelta(days=1)
EARLIER = datetime.now(timezone.utc) - timedelta(minutes=1)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


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


def events(client, message_cls):
    return [payload for _, payload in published(_state(client).engine, chassis, message_cls)]


def count(client, what) -> int:
    with _state(client).sessions() as session:
        return session.scalar(select(func.count()).select_from(what))


@pytest.fixture
def known(ticketing):
    """A unit and an occupant at the site, as occupants' events made them known."""
    unit, person = a_unit(SITE), a_person(SITE)
    deliver(_state(ticketing).sessions, unit, person)
    return {"unit_id": unit.unit_id, "reporter_id": person.person_id}


def category_id(client, code: str) -> str:
    page = ok(client.get("/v1/ticket-categories?limit=200", headers=CS))
    return next(c["id"] for c in page["items"] if c["code"] == code)


def repair(known, **overrides):
    return {"site_id": SITE, "type": "repair", "channel": "phone", "subject": "厨房水管漏水 Kitchen pipe leaks",
            "location": "in_unit", **known, **overrides}


def complaint(known, **overrides):
    return {"site_id": SITE, "type": "complaint", "channel": "walk_in", "subject": "楼上噪音 Noise upstairs",
            "tier": "minor", **known, **overrides}


def create(client, body, headers=CS, status=201):
    return ok(client.post("/v1/tickets", json=body, headers=headers), status)


def act(client, ticket, action, headers=CS, **fields):
    return client.post(f"/v1/tickets/{ticket['id']}/transitions", json={"action": action, **fields}, headers=headers)


def walk(client, ticket, *actions, headers=CS):
    for action in actions:
        ticket = ok(act(client, ticket, action, headers=headers, reason=f"{action} noted"))
    return ticket


def classified(client, known, **overrides):
    ticket = create(client, complaint(known, **overrides))
    return ok(client.post(f"/v1/tickets/{ticket['id']}/classification",
                          json={"category_id": category_id(client, "order.noise"), "tier": "important"}, headers=CS))


# -- intake ------------------------------------------------------------------------------------------------


def test_customer_service_registers_a_repair_routed_to_engineering_with_the_site_number(ticketing, known):
    water = category_id(ticketing, "repair.water")
    ticket = create(ticketing, repair(known, category_id=water, emergency=True))
    year = datetime.now(SITE_ZONE).year  # no calendar known for the site: the default time zone
    assert ticket["number"] == f"T-{year}-000001"
    assert (ticket["state"], ticket["department"], ticket["owner_id"]) == ("registered", "engineering", "cs-wang")
    assert ticket["emergency"] is True and ticket["reporter_id"] == known["reporter_id"]
    assert ticket["allowed_actions"] == TICKET.allowed("registered")
    assert [(h["action"], h["from_state"], h["to_state"]) for h in ticket["history"]] == [
        ("register", None, "registered")]
    assert create(ticketing, repair(known))["number"] == f"T-{year}-000002"
    # Another site keeps its own sequence.
    other = a_unit(OTHER_SITE)
    deliver(_state(ticketing).sessions, other)
    assert create(ticketing, repair({}, site_id=OTHER_SITE, unit_id=other.unit_id))["number"] == f"T-{year}-000001"

    registered = events(ticketing, TicketRegistered)
    assert len(registered) == 3
    first = registered[0]
    assert (first.ticket_id, first.number, first.type, first.state, first.department, first.owner_id) == (
        ticket["id"], ticket["number"], "repair", "registered", "engineering", "cs-wang")
    assert first.category_id == water and first.emergency and first.unit_id == known["unit_id"]
    assert first.registered_at.ToDatetime(timezone.utc) == datetime.fromisoformat(ticket["created_at"])


def _prefix(client, value):
    with _state(client).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=NUMBER_PREFIX,
                        new_value=value, actor="test")


def test_the_number_prefix_is_the_site_policy_a_years_register_keeps(ticketing, known):
    _prefix(ticketing, "hg gardens")
    refused(ticketing.post("/v1/tickets", json=repair(known), headers=CS), 409)
    assert count(ticketing, Ticket) == 0
    _prefix(ticketing, "HG")
    assert re.fullmatch(r"HG-\d{4}-000001", create(ticketing, repair(known))["number"])
    _prefix(ticketing, "XY")
    assert re.fullmatch(r"HG-\d{4}-000002", create(ticketing, repair(known))["number"])


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_intake_channel_is_recorded(ticketing, known, channel):
    ticket = create(ticketing, complaint(known, channel=channel))
    assert ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))["channel"] == channel


@pytest.mark.parametrize("body", [
    {"type": "repair", "location": "public_area", "place": "2号电梯 Lift 2"},
    {"type": "complaint", "tier": "major", "requested_resolution_at": LATER.isoformat()},
    {"type": "inquiry", "promised_reply_at": LATER.isoformat()},
    {"type": "help"},
    {"type": "suggestion"},
    {"type": "violation"},
    {"type": "patrol_finding", "channel": "patrol", "source_reference": "patrol-7"},
    {"type": "internal_complaint", "about_department": "engineering"},
    {"type": "rectification", "source_reference": "defect-42"},
    {"type": "paid_service"},
], ids=lambda body: body["type"])
def test_every_ticket_type_is_taken_with_its_own_fields(ticketing, known, body):
    ticket = create(ticketing, {"site_id": SITE, "channel": "phone", "subject": "A request", **known, **body})
    assert ticket["type"] == body["type"]
    for name, value in body.items():
        if name.endswith("_at"):
            assert datetime.fromisoformat(ticket[name]) == datetime.fromisoformat(value)
        else:
            assert ticket[name] == value


@pytest.mark.parametrize("overrides, field", [
    ({"type": "repair", "location": None}, "location"),
    ({"type": "suggestion", "location": "in_unit"}, "location"),
    ({"type": "inquiry", "promised_reply_at": EARLIER.isoformat()}, "promised_reply_at"),
    ({"type": "inquiry"}, "promised_reply_at"),
    ({"type": "suggestion", "promised_reply_at": LATER.isoformat()}, "promised_reply_at"),
    ({"type": "suggestion", "tier": "major"}, "tier"),
    ({"type": "suggestion", "emergency": True}, "emergency"),
    ({"type": "suggestion", "anonymous": True}, "anonymous"),
    ({"type": "internal_complaint"}, "about_department"),
    ({"type": "complaint", "requested_resolution_at": EARLIER.isoformat()}, "requested_resolution_at"),
    ({"type": "complaint", "unit_id": str(uuid.uuid4())}, "unit_id"),
    ({"type": "complaint", "reporter_id": str(uuid.uuid4())}, "reporter_id"),
    ({"type": "complaint", "category_id": str(uuid.uuid4())}, "category_id"),
    ({"type": "complaint", "tier": "catastrophic"}, "tier"),
    ({"type": "complaint", "channel": "pigeon"}, "channel"),
    ({"type": "complaint", "subject": "x" * 201}, "subject"),
], ids=lambda value: value if isinstance(value, str) else value["type"])
def test_bad_intake_is_refused_naming_the_field_and_nothing_is_kept(ticketing, known, overrides, field):
    body = {"site_id": SITE, "channel": "phone", "subject": "A request", **known, **overrides}
    if body["type"] == "repair" and body.get("location") is None:
        body.pop("location")
    refused(ticketing.post("/v1/tickets", json=body, headers=CS), 422, field)
    assert count(ticketing, Ticket) == 0 and count(ticketing, chassis.outbox) == 0
    assert count(ticketing, chassis.audit_log) == 0


def test_a_unit_at_another_site_or_of_another_organization_is_unknown(ticketing, known):
    elsewhere, foreign = a_unit(OTHER_SITE), a_unit(SITE)
    deliver(_state(ticketing).sessions, elsewhere)
    deliver(_state(ticketing).sessions, foreign, organization_id=ORG_B)
    for unit in (elsewhere, foreign):
        refused(ticketing.post("/v1/tickets", json=repair(known, unit_id=unit.unit_id), headers=CS), 422, "unit_id")


def test_a_site_the_caller_does_not_see_answers_404(ticketing, known):
    refused(ticketing.post("/v1/tickets", json=repair(known), headers=staff(sites=(OTHER_SITE,))), 404)


def test_read_models_follow_occupants_updates_idempotently(ticketing, known):
    sessions = _state(ticketing).sessions
    moved = UnitChanged(unit_id=known["unit_id"], site_id=SITE, building_id=str(uuid.uuid4()), floor=3,
                        number="301", kind="residence", state="vacant", previous_state="occupied")
    renamed = PersonUpdated(person_id=known["reporter_id"], kind="individual", full_name="张伟伟",
                            phone="+8613800000009", site_id=SITE)
    deliver(sessions, moved, renamed)
    deliver(sessions, moved, renamed)
    with sessions() as session:
        unit, reporter = session.get(Unit, known["unit_id"]), session.get(Reporter, known["reporter_id"])
        assert (unit.number, unit.floor, unit.state) == ("301", 3, "vacant")
        assert (reporter.full_name, reporter.phone) == ("张伟伟", "+8613800000009")
        assert session.scalar(select(func.count()).select_from(Unit)) == 1
    assert ok(ticketing.get(f"/v1/reporters/{known['reporter_id']}", headers=CS))["full_name"] == "张伟伟"


def test_a_move_in_defect_becomes_one_rectification_ticket_owned_by_whoever_registers_it(ticketing, known):
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=15)
    defect = RectificationRequested(
        rectification_id=str(uuid.uuid4()), purpose="move_in", reference_id=str(uuid.uuid4()), site_id=SITE,
        unit_id=known["unit_id"], person_id=known["reporter_id"], location="主卫 master bathroom",
        description="地漏排水不畅 floor drain drains slowly", inspection_round=1)
    defect.due_at.FromDatetime(due)
    deliver(_state(ticketing).sessions, defect)
    deliver(_state(ticketing).sessions, defect)
    [ticket] = ok(ticketing.get("/v1/tickets?type=rectification", headers=CS))["items"]
    assert (ticket["state"], ticket["owner_id"], ticket["unit_id"], ticket["place"]) == (
        "received", "platform", known["unit_id"], "主卫 master bathroom")
    assert datetime.fromisoformat(ticket["requested_resolution_at"]) == due
    assert ticket["source_reference"] == f"move_in:{defect.reference_id}"
    [registered] = events(ticketing, TicketRegistered)
    assert (registered.ticket_id, registered.state, registered.owner_id) == (ticket["id"], "received", "platform")
    refused(act(ticketing, ticket, "register", headers=TECHNICIAN), 403)
    taken = ok(act(ticketing, ticket, "register"))
    assert (taken["state"], taken["owner_id"]) == ("registered", "cs-wang")


# -- first-question responsibility ------------------------------------------------------------------------


def test_staff_outside_customer_service_record_for_customer_service_only(ticketing, known):
    noise = category_id(ticketing, "order.noise")
    ticket = create(ticketing, complaint(known, category_id=noise), headers=TECHNICIAN)
    assert (ticket["state"], ticket["department"], ticket["owner_id"]) == ("received", "customer_service", "tech-zhao")
    refused(act(ticketing, ticket, "register", headers=TECHNICIAN), 403)
    refused(ticketing.post(f"/v1/tickets/{ticket['id']}/transfer", json={"department": "security"},
                           headers=TECHNICIAN), 403)
    # Customer service registers it: routed by its category, and the technician still owns the contact.
    registered = ok(act(ticketing, ticket, "register"))
    assert (registered["state"], registered["department"], registered["owner_id"]) == (
        "registered", "security", "tech-zhao")
    refused(act(ticketing, ticket, "declare_invalid", headers=TECHNICIAN, reason="not ours"), 403)
    assert events(ticketing, TicketRegistered)[0].state == "received"


def test_authority_is_the_role_held_at_the_tickets_site(ticketing, known):
    """Customer service at another site counts for nothing here."""
    elsewhere_cs = staff("cs-zhou", roles=(), sites=(), site_roles={SITE: ["technician"], OTHER_SITE: ["cs_supervisor"]})
    ticket = create(ticketing, complaint(known), headers=elsewhere_cs)
    assert ticket["state"] == "received"
    refused(act(ticketing, ticket, "register", headers=elsewhere_cs), 403)
    here_cs = staff("cs-zhou", roles=(), sites=(), site_roles={SITE: ["cs_supervisor"]})
    assert ok(act(ticketing, ticket, "register", headers=here_cs))["state"] == "registered"
    outsider = staff("guard-x", roles=(), sites=(OTHER_SITE,), site_roles={OTHER_SITE: ["security_guard"]})
    refused(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=outsider), 404)


def test_a_transfer_changes_the_department_never_the_owner(ticketing, known):
    ticket = classified(ticketing, known)
    moved = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/transfer",
                              json={"department": "engineering", "reason": "water from the ceiling"}, headers=SUPERVISOR))
    assert (moved["department"], moved["owner_id"]) == ("engineering", "cs-wang")
    refused(ticketing.post(f"/v1/tickets/{ticket['id']}/transfer", json={"department": "engineering"}, headers=CS),
            422, "department")
    # A technician may pass it back to customer service.
    back = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/transfer", json={"department": "customer_service"},
                             headers=TECHNICIAN))
    assert back["department"] == "customer_service" and back["owner_id"] == "cs-wang"
    transfers = events(ticketing, TicketTransferred)
    assert [(t.from_department, t.to_department, t.actor) for t in transfers] == [
        ("security", "engineering", "cs-li"), ("engineering", "customer_service", "tech-zhao")]
    assert transfers[0].reason == "water from the ceiling"
    assert [h["action"] for h in moved["history"]][-1] == "transfer"


def test_handing_over_the_customer_contact_needs_a_reason(ticketing, known):
    ticket = classified(ticketing, known)
    path = f"/v1/tickets/{ticket['id']}/owner"
    refused(ticketing.post(path, json={"owner_id": "cs-li"}, headers=CS), 422, "reason")
    refused(ticketing.post(path, json={"owner_id": "cs-li", "reason": "   "}, headers=CS), 422, "reason")
    refused(ticketing.post(path, json={"owner_id": "cs-li", "reason": "leave"}, headers=TECHNICIAN), 403)
    assert count(ticketing, chassis.outbox) == 2  # registered, classified: nothing from the refusals
    handed = ok(ticketing.post(path, json={"owner_id": "cs-li", "reason": "王 on leave from tomorrow"}, headers=CS))
    assert handed["owner_id"] == "cs-li"
    [changed] = events(ticketing, TicketOwnerChanged)
    assert (changed.from_owner_id, changed.to_owner_id, changed.reason, changed.actor) == (
        "cs-wang", "cs-li", "王 on leave from tomorrow", "cs-wang")
    assert handed["history"][-1]["action"] == "hand_over" and handed["history"][-1]["reason"] == "王 on leave from tomorrow"


# -- lifecycle ---------------------------------------------------------------------------------------------


def test_the_whole_lifecycle_with_pauses_and_a_reopening(ticketing, known):
    ticket = create(ticketing, complaint(known))
    refused(ticketing.post(f"/v1/tickets/{ticket['id']}/classification",
                           json={"category_id": category_id(ticketing, "order.noise")}, headers=CS), 422, "tier")
    ticket = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification",
                               json={"category_id": category_id(ticketing, "order.noise"), "tier": "important"},
                               headers=CS))
    assert (ticket["state"], ticket["tier"], ticket["department"]) == ("classified", "important", "security")
    ticket = ok(act(ticketing, ticket, "dispatch", assignee_id="guard-sun"))
    assert ticket["assignee_id"] == "guard-sun"
    ticket = walk(ticketing, ticket, "start", "pause_for_parts", "resume", "wait_for_occupant", "resume", "resolve",
                  headers=TECHNICIAN)
    ticket = walk(ticketing, ticket, "inform", "visit")
    refused(act(ticketing, ticket, "reopen"), 422, "reason")
    ticket = ok(act(ticketing, ticket, "reopen", reason="still noisy at night"))
    assert ticket["state"] == "reopened"
    ticket = walk(ticketing, ticket, "dispatch", "start", "resolve", "inform", "visit")
    closed = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/closure",
                               json={"acceptance": "signature", "acceptance_reference": "sheet 2026-117", "rating": 4},
                               headers=CS))
    assert (closed["state"], closed["rating"], closed["acceptance"]) == ("closed", 4, "signature")
    assert closed["closed_at"] and closed["allowed_actions"] == []

    steps = [(t.from_state, t.to_state, t.action) for t in events(ticketing, TicketTransitioned)]
    assert steps[:3] == [("registered", "classified", "classify"), ("classified", "assigned", "dispatch"),
                         ("assigned", "in_progress", "start")]
    assert ("return_visit", "reopened", "reopen") in steps and len(steps) == 16
    [done] = events(ticketing, TicketClosed)
    assert (done.state, done.rating, done.acceptance, done.acceptance_reference, done.closed_by) == (
        "closed", 4, "signature", "sheet 2026-117", "cs-wang")
    history = [(h["from_state"], h["to_state"]) for h in closed["history"]]
    assert history[0] == (None, "registered") and history[-1] == ("return_visit", "closed") and len(history) == 18
    refused(act(ticketing, closed, "reopen", reason="again"), 409)


def test_a_step_out_of_order_answers_409_naming_the_allowed_ones(ticketing, known):
    ticket = create(ticketing, complaint(known))
    body = refused(act(ticketing, ticket, "resolve"), 409, "action")
    assert body["allowed"] == ["classify", "declare_invalid", "reply", "tell_plan", "escalate"]
    assert body["state"] == "registered"
    refused(ticketing.post(f"/v1/tickets/{ticket['id']}/closure", json={"acceptance": "confirmation", "rating": 5},
                           headers=CS), 409, "action")
    refused(act(ticketing, ticket, "fly"), 422, "action")
    assert ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))["state"] == "registered"
    assert count(ticketing, chassis.outbox) == 1


def test_recorded_steps_keep_the_state_and_reach_the_history(ticketing, known):
    ticket = classified(ticketing, known)
    replied = ok(act(ticketing, ticket, "reply", reason="Told 张伟 the guard will call on 1202 tonight."))
    assert replied["state"] == "classified"
    assert replied["history"][-1]["action"] == "reply" and replied["history"][-1]["from_state"] == "classified"
    last = events(ticketing, TicketTransitioned)[-1]
    assert (last.action, last.from_state, last.to_state) == ("reply", "classified", "classified")
    refused(act(ticketing, ticket, "reply", headers=TECHNICIAN), 403)


def deadlines(client, ticket) -> dict:
    with _state(client).sessions() as session:
        return {row.stage: row.state for row in session.scalars(select(Deadline).where(
            Deadline.ticket_id == ticket["id"]))}


def test_the_sla_clocks_follow_registration_steps_and_reclassification(ticketing, known):
    """The SLA engine is told of every change in the same transaction (its own tests cover its arithmetic)."""
    ticket = create(ticketing, repair(known, category_id=category_id(ticketing, "repair.water")))
    assert deadlines(ticketing, ticket)["dispatch"] == "running"
    ticket = ok(ticketing.post(f"/v1/tickets/{ticket['id']}/classification",
                               json={"category_id": category_id(ticketing, "repair.leak")}, headers=CS))
    ticket = ok(act(ticketing, ticket, "dispatch"))
    assert deadlines(ticketing, ticket)["dispatch"] == "met"
    complaint_ = classified(ticketing, known)
    assert "reach_supervisor" in deadlines(ticketing, complaint_)
    ok(ticketing.post(f"/v1/tickets/{complaint_['id']}/classification",
                      json={"category_id": category_id(ticketing, "order.noise"), "tier": "major"}, headers=CS))
    assert {"reach_manager", "answer"} <= set(deadlines(ticketing, complaint_))


def test_night_deferral_waits_for_the_morning_work_order(ticketing, known):
    ticket = ok(act(ticketing, classified(ticketing, known), "dispatch"))
    refused(act(ticketing, ticket, "defer"), 422, "reason")
    deferred = ok(act(ticketing, ticket, "defer", reason="not urgent, 23:40", headers=staff("night-1", roles=("night_duty",))))
    assert deferred["state"] == "deferred_night"
    assert ok(act(ticketing, deferred, "resume"))["state"] == "assigned"


def test_an_invalid_complaint_is_explained_and_closed(ticketing, known):
    ticket = create(ticketing, complaint(known))
    refused(act(ticketing, ticket, "declare_invalid"), 422, "reason")
    invalid = ok(act(ticketing, ticket, "declare_invalid", reason="The noise is from the street works, "
                                                                   "explained to the occupant."))
    assert invalid["state"] == "invalid" and invalid["closed_at"] and invalid["allowed_actions"] == []
    [closed] = events(ticketing, TicketClosed)
    assert (closed.state, closed.rating, closed.acceptance) == ("invalid", 0, "")
    assert closed.reason.startswith("The noise is from the street works")


def _resolved(client, known, **overrides):
    ticket = ok(act(client, classified(client, known, **overrides), "dispatch"))
    return walk(client, ticket, "start", "resolve")


def test_closing_needs_acceptance_and_a_rating_or_a_reason(ticketing, known):
    ticket = walk(ticketing, _resolved(ticketing, known), "inform")
    path = f"/v1/tickets/{ticket['id']}/closure"
    refused(ticketing.post(path, json={}, headers=CS), 422, "acceptance")
    refused(ticketing.post(path, json={"reason": "busy"}, headers=CS), 422, "acceptance")
    refused(ticketing.post(path, json={"acceptance": "confirmation"}, headers=CS), 422, "rating")
    refused(ticketing.post(path, json={"acceptance": "signature", "rating": 5}, headers=CS), 422, "acceptance_reference")
    refused(ticketing.post(path, json={"acceptance": "confirmation", "rating": 6}, headers=CS), 422, "rating")
    refused(ticketing.post(path, json={"unreachable": True}, headers=CS), 422, "reason")
    refused(ticketing.post(path, json={"acceptance": "confirmation", "rating": 5}, headers=TECHNICIAN), 403)
    assert ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))["state"] == "customer_informed"
    assert events(ticketing, TicketClosed) == []
    closed = ok(ticketing.post(path, json={"unreachable": True, "reason": "Three calls, no answer; note left."},
                               headers=CS))
    assert closed["state"] == "closed" and closed["rating"] is None and closed["close_reason"].startswith("Three")


def test_an_anonymous_complaint_closes_with_a_reason_and_hides_its_complainant(ticketing, known):
    ticket = _resolved(ticketing, known, anonymous=True, contact_phone="+8613900000000")
    shown = ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=CS))
    assert (shown["reporter_id"], shown["contact_phone"]) == (known["reporter_id"], "+8613900000000")
    for outsider in (TECHNICIAN, staff("cs-x", roles=(), sites=(),
                                       site_roles={SITE: ["technician"], OTHER_SITE: ["cs_specialist"]})):
        hidden = ok(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=outsider))
        assert (hidden["anonymous"], hidden["reporter_id"], hidden["contact_name"], hidden["contact_phone"]) == (
            True, None, None, None)
        listed = ok(ticketing.get(f"/v1/tickets?site_id={SITE}", headers=outsider))["items"]
        assert [t["reporter_id"] for t in listed] == [None]
    path = f"/v1/tickets/{ticket['id']}/closure"
    refused(ticketing.post(path, json={}, headers=CS), 422, "reason")
    closed = ok(ticketing.post(path, json={"reason": "Anonymous: result posted on the notice board."}, headers=CS))
    assert closed["state"] == "closed" and closed["acceptance"] == ""


def test_reclassifying_an_open_ticket_reroutes_it(ticketing, known):
    ticket = ok(act(ticketing, classified(ticketing, known), "dispatch"))
    lift = category_id(ticketing, "repair.lift")
    path = f"/v1/tickets/{ticket['id']}/classification"
    refused(ticketing.post(path, json={"category_id": lift, "tier": "major"}, headers=TECHNICIAN), 403)
    refused(ticketing.post(path, json={"category_id": lift, "type": "repair"}, headers=CS), 422, "type")
    moved = ok(ticketing.post(path, json={"category_id": lift, "tier": "major", "reason": "lift noise"}, headers=CS))
    assert (moved["state"], moved["tier"], moved["category_id"], moved["department"]) == (
        "assigned", "major", lift, "engineering")
    last = events(ticketing, TicketTransitioned)[-1]
    assert (last.action, last.from_state, last.to_state, last.department) == (
        "reclassify", "assigned", "assigned", "engineering")


def test_another_organizations_ticket_is_404(ticketing, known):
    ticket = create(ticketing, complaint(known))
    other = staff("cs-b", org=ORG_B)
    refused(ticketing.get(f"/v1/tickets/{ticket['id']}", headers=other), 404)
    refused(act(ticketing, ticket, "dispatch", headers=other), 404)
    refused(ticketing.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "hi"}, headers=other), 404)
    assert ok(ticketing.get("/v1/tickets", headers=other))["items"] == []


# -- comments, attachments, lists --------------------------------------------------------------------------


def test_comments_internal_or_for_the_occupant_page(ticketing, known):
    ticket = create(ticketing, complaint(known))
    path = f"/v1/tickets/{ticket['id']}/comments"
    for n, visibility in enumerate(("internal", "occupant", "internal")):
        ok(ticketing.post(path, json={"body": f"note {n}", "visibility": visibility}, headers=TECHNICIAN), 201)
    refused(ticketing.post(path, json={"body": "x", "visibility": "public"}, headers=CS), 422, "visibility")
    first = ok(ticketing.get(f"{path}?limit=2", headers=CS))
    rest = ok(ticketing.get(f"{path}?limit=2&cursor={first['next_cursor']}", headers=CS))
    assert [c["body"] for c in first["items"] + rest["items"]] == ["note 0", "note 1", "note 2"]
    assert rest["next_cursor"] is None
    assert [c["body"] for c in ok(ticketing.get(f"{path}?visibility=occupant", headers=CS))["items"]] == ["note 1"]


def test_attachments_are_stored_checked_and_served(ticketing, known):
    ticket = create(ticketing, repair(known))
    path = f"/v1/tickets/{ticket['id']}/attachments"
    refused(ticketing.post(path, data={"file": (io.BytesIO(b"not a png"), "leak.png", "image/png")},
                           headers=CS, content_type="multipart/form-data"), 422, "file")
    assert count(ticketing, chassis.audit_log) == 1
    added = ok(ticketing.post(path, data={"file": (io.BytesIO(PNG), "漏水.png", "image/png")}, headers=TECHNICIAN,
                              content_type="multipart/form-data"), 201)
    assert (added["filename"], added["size_bytes"], added["uploaded_by"]) == ("漏水.png", len(PNG), "tech-zhao")
    listed = ok(ticketing.get(path, headers=CS))["items"]
    assert [a["id"] for a in listed] == [added["id"]]
    served = ticketing.get(f"/v1/ticket-attachments/{added['id']}/file", headers=CS)
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    refused(ticketing.get(f"/v1/ticket-attachments/{added['id']}/file", headers=staff(org=ORG_B)), 404)


def test_the_list_filters_and_pages(ticketing, known):
    noise = category_id(ticketing, "order.noise")
    made = [create(ticketing, complaint(known, category_id=noise)) for _ in range(3)]
    create(ticketing, repair(known), headers=TECHNICIAN)
    page = ok(ticketing.get(f"/v1/tickets?site_id={SITE}&limit=2", headers=CS))
    more = ok(ticketing.get(f"/v1/tickets?site_id={SITE}&limit=2&cursor={page['next_cursor']}", headers=CS))
    assert len(page["items"] + more["items"]) == 4 and more["next_cursor"] is None
    assert [t["id"] for t in ok(ticketing.get("/v1/tickets?type=complaint&department=security",
                                              headers=CS))["items"]] == [t["id"] for t in made]
    assert [t["owner_id"] for t in ok(ticketing.get("/v1/tickets?owner_id=tech-zhao", headers=CS))["items"]] == [
        "tech-zhao"]
    assert [t["state"] for t in ok(ticketing.get("/v1/tickets?state=received", headers=CS))["items"]] == ["received"]
    assert [t["id"] for t in ok(ticketing.get(f"/v1/tickets?number={made[1]['number']}",
                                              headers=CS))["items"]] == [made[1]["id"]]
    assert ok(ticketing.get(f"/v1/tickets?site_id={OTHER_SITE}", headers=CS))["items"] == []
    refused(ticketing.get(f"/v1/tickets?site_id={SITE}", headers=staff(sites=(OTHER_SITE,))), 404)
    assert ok(ticketing.get("/v1/tickets", headers=staff(sites=(OTHER_SITE,))))["items"] == []
    refused(ticketing.get("/v1/tickets?cursor=nonsense", headers=CS), 422, "cursor")


# -- categories --------------------------------------------------------------------------------------------


def test_categories_start_from_the_defaults_and_managers_change_them(ticketing, known):
    listed = ok(ticketing.get("/v1/ticket-categories?limit=200", headers=CS))["items"]
    routes = {c["code"]: c["department"] for c in listed}
    assert (routes["repair.lift"], routes["order.parking"], routes["environment.cleaning"], routes["service.other"]) == (
        "engineering", "security", "environment", "customer_service")
    repair_id = next(c["id"] for c in listed if c["code"] == "repair")
    refused(ticketing.post("/v1/ticket-categories", json={"code": "repair.roof", "name": "屋面 Roof",
                                                          "parent_id": repair_id}, headers=CS), 403)
    roof = ok(ticketing.post("/v1/ticket-categories", json={"code": "repair.roof", "name": "屋面 Roof",
                                                           "parent_id": repair_id}, headers=MANAGER), 201)
    assert roof["department"] == "engineering"
    refused(ticketing.post("/v1/ticket-categories", json={"code": "repair.roof", "name": "again",
                                                         "parent_id": repair_id}, headers=MANAGER), 409, "code")
    refused(ticketing.post("/v1/ticket-categories", json={"code": "new", "name": "New"}, headers=MANAGER), 422,
            "department")
    refused(ticketing.post("/v1/ticket-categories", json={"code": "x", "name": "X", "parent_id": roof["id"]},
                           headers=MANAGER), 422, "parent_id")
    off = ok(ticketing.patch(f"/v1/ticket-categories/{roof['id']}", json={"active": False, "department": "security"},
                             headers=MANAGER))
    assert (off["active"], off["department"], off["updated_by"]) == (False, "security", "pm-chen")
    refused(ticketing.post("/v1/tickets", json=repair(known, category_id=roof["id"]), headers=CS), 422, "category_id")
    refused(ticketing.get(f"/v1/ticket-categories/{roof['id']}", headers=staff(org=ORG_B)), 404)
    # Another organization starts from its own defaults.
    theirs = ok(ticketing.get("/v1/ticket-categories?limit=200", headers=staff(org=ORG_B)))["items"]
    assert "repair.roof" not in {c["code"] for c in theirs} and len(theirs) == len(listed)
    assert categories.default_id(ORG_B, "repair") in {c["id"] for c in theirs}


# -- the docs ----------------------------------------------------------------------------------------------


def test_the_docs_and_the_api_document_hold_the_current_diagram(ticketing):
    doc = (Path(__file__).resolve().parents[3] / "docs" / "ticketing" / "tickets.md").read_text(encoding="utf-8")
    assert TICKET.mermaid() in doc
    paths = ok(ticketing.get("/openapi.json"))["paths"]
    assert TICKET.mermaid() in paths["/v1/tickets/{ticket_id}/transitions"]["post"]["description"]


def test_every_state_of_the_spec_is_in_the_workflow():
    assert TICKET.states == [
        "received", "registered", "classified", "invalid", "assigned", "reopened", "in_progress", "deferred_night",
        "waiting_parts", "waiting_occupant", "resolved", "customer_informed", "return_visit", "closed"]
