"""Move-in (OCC-3) on SQLite: every path of the workflow, the papers by applicant type, the fees unlocked by
billing's settlement, the inspection's events, acceptance into occupancy, batches and spot checks."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from psp.billing.v1.events_pb2 import ChargesSettled
from psp.occupants.v1.charges_pb2 import ChargesRequested
from psp.occupants.v1.movein_pb2 import MeterOpeningReadingsRecorded, MoveInAccepted, RectificationRequested
from sqlalchemy import func, select

from services.occupants.models import chassis
from services.occupants.movein import spotchecks
from services.occupants.movein.rules import MOVE_IN, NOTARISED_AUTHORITY, RECORD_KINDS, RECTIFICATION_DAYS
from services.occupants.movein.spotchecks import SPOT_CHECK
from services.occupants.service import SERVICE
from shared import policy
from shared.bus.envelope import new_envelope, unpack
from tests.conftest import ORG_A, ORG_B, bearer
from tests.support.outbox import published

ROOT = Path(__file__).resolve().parents[3]
CS = bearer(roles=("cs_specialist",))
SUPERVISOR = bearer(roles=("cs_supervisor",))
TECHNICIAN = bearer(roles=("technician",))
MANAGER = bearer(roles=("site_manager",))
SOON = datetime.now(timezone.utc) + timedelta(days=2)
AGREEMENTS = ["provisional_management_covenant", "decoration_agreement", "fee_collection_agreement",
              "fire_safety_responsibility_letter"]
READINGS = {"water": "3.20", "electricity": "15.40", "gas": "0.80"}
KEYS = {"keys": [{"kind": "unit_door", "count": 3}, {"kind": "mailbox", "count": 2}]}


def post(client, path, body=None, headers=CS):
    return client.post(path, json=body or {}, headers=headers)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _state(client):
    return client.application.extensions["psp"]


def events(client, message_cls):
    return [payload for _, payload in published(_state(client).engine, chassis, message_cls)]


def outbox_count(client) -> int:
    with _state(client).engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(chassis.outbox))


def make_unit(client, site, number="101"):
    building = ok(post(client, f"/v1/sites/{site['id']}/buildings", {"code": f"B{number}", "name": "Tower D"},
                       MANAGER), 201)
    return ok(post(client, f"/v1/buildings/{building['id']}/units",
                   {"number": number, "floor": 1, "kind": "residence", "floor_area_m2": "96.00"}, MANAGER), 201)


def make_person(client, site, name="陈静", phone="139 0000 0001"):
    return ok(post(client, "/v1/persons", {"site_id": site["id"], "full_name": name, "phone": phone}), 201)


def booking(unit, person, **overrides):
    return {"unit_id": unit["id"], "person_id": person["id"], "applicant_type": "owner", "occupancy_role": "owner",
            "appointment_at": SOON.isoformat(), **overrides}


def step(client, move_in, path, body=None, headers=CS):
    return post(client, f"/v1/move-ins/{move_in['id']}/{path}", body, headers)


def get(client, move_in, headers=CS):
    return ok(client.get(f"/v1/move-ins/{move_in['id']}", headers=headers))


def papers(client, move_in, kinds=("id_card", "move_in_notice", "purchase_contract"), **fields):
    for kind in kinds:
        ok(step(client, move_in, "documents", {"kind": kind, "reference": f"{kind}-001", **fields}), 201)


def settle(client, move_in, request_id=None, purpose="move_in", organization_id=ORG_A):
    """Billing's ChargesSettled through occupants' registered route, in a transaction of its own."""
    route = SERVICE.handlers.routes["charges.settled.v1"]
    payload = ChargesSettled(request_id=request_id or move_in["fees_request_id"], purpose=purpose,
                             reference_id=move_in["id"], site_id=move_in["site_id"], unit_id=move_in["unit_id"],
                             amount_paid="4377.60", currency="CNY", receipt_numbers=["HG-000201"])
    event = unpack(new_envelope(payload, organization_id=organization_id), ChargesSettled)
    with _state(client).sessions() as session, session.begin():
        route.handler(session, event)


def to_fees_requested(client, move_in):
    papers(client, move_in)
    ok(step(client, move_in, "check-in"))
    ok(step(client, move_in, "identity-verification"))
    ok(step(client, move_in, "agreements", {"agreements": AGREEMENTS}))
    return ok(step(client, move_in, "fees-request"))


def to_inspection(client, move_in):
    requested = to_fees_requested(client, move_in)
    settle(client, requested)
    return ok(step(client, move_in, "inspection", READINGS, TECHNICIAN))


def records(client, move_in, headers=CS):
    return ok(client.get(f"/v1/move-ins/{move_in['id']}/records", headers=headers))["items"]


@pytest.fixture
def unit(occupants, site):
    return make_unit(occupants, site)


@pytest.fixture
def person(occupants, site):
    return make_person(occupants, site)


@pytest.fixture
def booked(occupants, unit, person):
    return ok(post(occupants, "/v1/move-ins", booking(unit, person)), 201)


# -- the happy path -------------------------------------------------------------------------------------------


def test_a_move_in_goes_from_the_appointment_to_the_archive(occupants, site, unit, person, booked):
    assert (booked["state"], booked["allowed_actions"]) == ("booked", ["check_in", "cancel"])
    assert booked["required_documents"] == ["id_card", "move_in_notice", "purchase_contract"]
    papers(occupants, booked)
    checked = ok(step(occupants, booked, "check-in", {
        "household_members": [{"full_name": "陈小明", "relation": "son"}], "contact_phone": "139 0000 0001",
        "vehicle_plates": ["粤B12345"], "reason": "arrived on time"}))
    assert checked["state"] == "checked_in" and checked["missing_documents"] == []
    ok(step(occupants, booked, "identity-verification"))
    signed = ok(step(occupants, booked, "agreements", {
        "agreements": AGREEMENTS, "handbooks": ["owner_handbook", "fire_rules"],
        "entrusted_services": ["燃气开户 gas account opening"]}))
    assert signed["agreements"] == AGREEMENTS and signed["handbooks"] == ["owner_handbook", "fire_rules"]

    requested = ok(step(occupants, booked, "fees-request"))
    assert requested["allowed_actions"] == ["settle_fees"]
    [asked] = events(occupants, ChargesRequested)
    assert (asked.request_id, asked.purpose, asked.reference_id, asked.site_id, asked.unit_id, asked.person_id) == (
        requested["fees_request_id"], "move_in", booked["id"], site["id"], unit["id"], person["id"])
    assert [(c.item, c.amount, c.currency) for c in asked.charges] == [
        ("management_fee", "", "CNY"), ("water_electricity_float", "", "CNY"), ("property_deposit", "", "CNY")]

    settle(occupants, requested)
    assert get(occupants, booked)["state"] == "fees_paid"

    inspecting = ok(step(occupants, booked, "inspection", READINGS, TECHNICIAN))
    assert (inspecting["state"], inspecting["water_reading"], inspecting["gas_reading"]) == (
        "joint_inspection", "3.20", "0.80")
    [readings] = events(occupants, MeterOpeningReadingsRecorded)
    assert (readings.move_in_id, readings.unit_id, readings.person_id) == (booked["id"], unit["id"], person["id"])
    assert [(r.meter, r.reading) for r in readings.readings] == [
        ("water", "3.20"), ("electricity", "15.40"), ("gas", "0.80")]

    accepted = ok(step(occupants, booked, "acceptance", KEYS, SUPERVISOR))
    assert accepted["state"] == "accepted" and accepted["accepted_at"]
    [greeted] = events(occupants, MoveInAccepted)
    assert (greeted.move_in_id, greeted.unit_id, greeted.person_id, greeted.occupancy_role) == (
        booked["id"], unit["id"], person["id"], "owner")
    assert [(k.kind, k.count) for k in greeted.keys] == [("unit_door", 3), ("mailbox", 2)]
    occupancies = ok(occupants.get(f"/v1/units/{unit['id']}/occupancies", headers=CS))["items"]
    assert [(o["person_id"], o["role"], o["state"]) for o in occupancies] == [(person["id"], "owner", "current")]
    assert ok(occupants.get(f"/v1/units/{unit['id']}", headers=CS))["state"] == "occupied"

    archived = ok(step(occupants, booked, "archive", {"reason": "papers filed"}, MANAGER))
    assert (archived["state"], archived["allowed_actions"]) == ("archived", [])
    assert [(h["action"], h["from_state"], h["to_state"]) for h in archived["history"] if h["to_state"]] == [
        ("book", None, "booked"), ("check_in", "booked", "checked_in"),
        ("verify_identity", "checked_in", "identity_verified"),
        ("sign_agreements", "identity_verified", "agreements_signed"),
        ("request_fees", "agreements_signed", "fees_requested"), ("settle_fees", "fees_requested", "fees_paid"),
        ("begin_inspection", "fees_paid", "joint_inspection"), ("accept", "joint_inspection", "accepted"),
        ("archive", "accepted", "archived")]
    by_action = {h["action"]: h for h in archived["history"]}
    assert (by_action["check_in"]["actor"], by_action["check_in"]["reason"]) == ("tester", "arrived on time")
    assert by_action["settle_fees"]["actor"] == "billing"

    kept = {r["kind"]: r["details"] for r in records(occupants, booked)}
    assert sorted(kept) == sorted(RECORD_KINDS) == sorted([
        "registration_form", "materials_sign_off", "entrusted_services", "move_in_charges", "inspection_sign_off",
        "key_receipt"])
    assert kept["registration_form"]["contact_phone"] == "+8613900000001"
    assert kept["registration_form"]["household_members"] == [{"full_name": "陈小明", "relation": "son"}]
    assert kept["entrusted_services"] == {"services": ["燃气开户 gas account opening"]}
    assert kept["move_in_charges"]["receipt_numbers"] == ["HG-000201"]
    assert kept["key_receipt"]["keys"] == KEYS["keys"]
    assert kept["inspection_sign_off"]["opening_readings"] == READINGS


def test_a_failed_inspection_is_rectified_and_inspected_again_until_it_passes(occupants, unit, booked):
    to_inspection(occupants, booked)
    failed = ok(step(occupants, booked, "inspection-failure", {"defects": [
        {"location": "主卫", "description": "地漏排水不畅"}, {"location": "客厅", "description": "墙面裂缝"}]},
        TECHNICIAN))
    assert (failed["state"], failed["allowed_actions"]) == ("inspection_failed", ["open_rectification"])
    assert events(occupants, RectificationRequested) == []

    opened = ok(step(occupants, booked, "rectification"))
    assert opened["state"] == "rectification_open"
    sent = events(occupants, RectificationRequested)
    assert [(r.location, r.description, r.inspection_round, r.purpose, r.reference_id, r.unit_id) for r in sent] == [
        ("主卫", "地漏排水不畅", 1, "move_in", booked["id"], unit["id"]),
        ("客厅", "墙面裂缝", 1, "move_in", booked["id"], unit["id"])]
    due = sent[0].due_at.ToDatetime(tzinfo=timezone.utc)
    assert timedelta(days=14, hours=23) < due - datetime.now(timezone.utc) <= timedelta(days=15)
    assert {d["id"] for d in opened["defects"]} == {r.rectification_id for r in sent}

    again = ok(step(occupants, booked, "reinspection", headers=TECHNICIAN))
    assert (again["state"], again["inspection_round"], again["allowed_actions"]) == (
        "reinspection", 2, ["accept", "fail_inspection"])
    ok(step(occupants, booked, "inspection-failure", {"defects": [{"location": "客厅", "description": "补漆色差"}]},
            TECHNICIAN))
    ok(step(occupants, booked, "rectification", {"deadline_days": 3}))
    second = events(occupants, RectificationRequested)[2:]
    assert [(r.description, r.inspection_round) for r in second] == [("补漆色差", 2)]
    assert second[0].due_at.ToDatetime(tzinfo=timezone.utc) - datetime.now(timezone.utc) <= timedelta(days=3)

    ok(step(occupants, booked, "reinspection", headers=TECHNICIAN))
    accepted = ok(step(occupants, booked, "acceptance", KEYS, MANAGER))
    assert accepted["state"] == "accepted" and accepted["inspection_round"] == 3
    assert [h["to_state"] for h in accepted["history"] if h["to_state"]][-8:] == [
        "joint_inspection", "inspection_failed", "rectification_open", "reinspection", "inspection_failed",
        "rectification_open", "reinspection", "accepted"]
    [sign_off] = [r["details"] for r in records(occupants, booked) if r["kind"] == "inspection_sign_off"]
    assert (sign_off["inspection_rounds"], sign_off["defects_rectified"]) == (3, 3)


def test_the_rectification_deadline_is_the_sites_policy(occupants, site, booked):
    with _state(occupants).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site["id"], setting=RECTIFICATION_DAYS,
                        new_value=7, actor="tester")
    to_inspection(occupants, booked)
    ok(step(occupants, booked, "inspection-failure", {"defects": [{"location": "厨房", "description": "水龙头漏水"}]}))
    ok(step(occupants, booked, "rectification"))
    [sent] = events(occupants, RectificationRequested)
    left = sent.due_at.ToDatetime(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)


# -- out of order, fees, authority ---------------------------------------------------------------------------


@pytest.mark.parametrize("path, body", [
    ("identity-verification", {}), ("agreements", {"agreements": AGREEMENTS}), ("fees-request", {}),
    ("inspection", READINGS), ("inspection-failure", {"defects": [{"location": "x", "description": "y"}]}),
    ("rectification", {}), ("reinspection", {}), ("acceptance", KEYS), ("archive", {})])
def test_a_step_out_of_order_answers_409_naming_the_allowed_steps(occupants, booked, path, body):
    before = outbox_count(occupants)
    refused = step(occupants, booked, path, body, MANAGER)
    assert refused.status_code == 409 and refused.content_type == "application/problem+json"
    problem = refused.get_json()
    assert (problem["state"], problem["allowed"]) == ("booked", ["check_in", "cancel"])
    assert "check_in" in problem["detail"]
    after = get(occupants, booked)
    assert after["state"] == "booked" and len(after["history"]) == 1 and outbox_count(occupants) == before


def test_an_archived_move_in_allows_nothing(occupants, booked):
    to_inspection(occupants, booked)
    ok(step(occupants, booked, "acceptance", KEYS, SUPERVISOR))
    ok(step(occupants, booked, "archive", headers=SUPERVISOR))
    refused = step(occupants, booked, "archive", headers=SUPERVISOR)
    assert refused.status_code == 409 and refused.get_json()["allowed"] == []
    assert "nothing" in refused.get_json()["detail"]


def test_only_billings_settlement_of_this_request_unlocks_the_inspection_and_only_once(occupants, booked):
    requested = to_fees_requested(occupants, booked)
    early = step(occupants, booked, "inspection", READINGS, TECHNICIAN)
    assert early.status_code == 409 and early.get_json()["allowed"] == ["settle_fees"]

    settle(occupants, requested, purpose="decoration")
    settle(occupants, requested, request_id="00000000-0000-4000-8000-000000000000")
    settle(occupants, requested, organization_id=ORG_B)
    assert get(occupants, booked)["state"] == "fees_requested"

    settle(occupants, requested)
    settle(occupants, requested)
    paid = get(occupants, booked)
    assert paid["state"] == "fees_paid"
    assert [h["action"] for h in paid["history"]].count("settle_fees") == 1
    assert [r["kind"] for r in records(occupants, booked)].count("move_in_charges") == 1

    ok(step(occupants, booked, "inspection", READINGS, TECHNICIAN))
    settle(occupants, requested)
    assert get(occupants, booked)["state"] == "joint_inspection"


def test_the_fees_asked_may_be_given_instead_of_the_default_set(occupants, booked):
    papers(occupants, booked)
    ok(step(occupants, booked, "check-in"))
    ok(step(occupants, booked, "identity-verification"))
    ok(step(occupants, booked, "agreements", {"agreements": AGREEMENTS}))
    ok(step(occupants, booked, "fees-request", {"charges": [
        {"item": "management_fee", "amount": "4608.00", "description": "8/m² × 96 m² × 6 months"},
        {"item": "property_deposit"}]}))
    [asked] = events(occupants, ChargesRequested)
    assert [(c.item, c.amount, c.description) for c in asked.charges] == [
        ("management_fee", "4608.00", "8/m² × 96 m² × 6 months"), ("property_deposit", "", "")]


def test_authority_is_the_role_held_at_the_move_ins_site(occupants, site, booked):
    other = ok(post(occupants, "/v1/sites", {"code": "NB", "name": "North Bay"}, MANAGER), 201)
    elsewhere = bearer(roles=(), sites=(), site_roles={other["id"]: ["cs_specialist"]})
    papers(occupants, booked)
    assert step(occupants, booked, "check-in", headers=elsewhere).status_code == 404
    seen_but_not_cs = bearer(roles=(), sites=(), site_roles={site["id"]: ["cashier"], other["id"]: ["site_manager"]})
    refused = step(occupants, booked, "check-in", headers=seen_but_not_cs)
    assert refused.status_code == 403 and get(occupants, booked)["state"] == "booked"
    assert step(occupants, booked, "documents", {"kind": "lease"}, seen_but_not_cs).status_code == 403
    assert len(get(occupants, booked)["documents"]) == 3
    here = bearer(roles=(), sites=(), site_roles={site["id"]: ["cs_specialist"], other["id"]: ["cs_supervisor"]})
    ok(step(occupants, booked, "check-in", headers=here))
    ok(step(occupants, booked, "identity-verification", headers=here))
    ok(step(occupants, booked, "agreements", {"agreements": AGREEMENTS}, here))
    assert step(occupants, booked, "fees-request", headers=TECHNICIAN).status_code == 403
    settle(occupants, ok(step(occupants, booked, "fees-request", headers=here)))
    ok(step(occupants, booked, "inspection", READINGS, TECHNICIAN))
    refused = step(occupants, booked, "acceptance", KEYS, here)
    assert refused.status_code == 403 and "cs_supervisor" in refused.get_json()["detail"]
    assert step(occupants, booked, "acceptance", KEYS, TECHNICIAN).status_code == 403
    assert get(occupants, booked)["state"] == "joint_inspection" and events(occupants, MoveInAccepted) == []
    supervisor_here = bearer(roles=(), sites=(), site_roles={site["id"]: ["cs_supervisor"]})
    ok(step(occupants, booked, "acceptance", KEYS, supervisor_here))


def test_booking_needs_customer_service_at_the_units_site(occupants, site, unit, person):
    other = ok(post(occupants, "/v1/sites", {"code": "NB", "name": "North Bay"}, MANAGER), 201)
    refused = post(occupants, "/v1/move-ins", booking(unit, person),
                   bearer(roles=(), sites=(), site_roles={site["id"]: ["technician"], other["id"]: ["cs_specialist"]}))
    assert refused.status_code == 403
    assert ok(occupants.get("/v1/move-ins", query_string={"site_id": site["id"]}, headers=CS))["items"] == []


def test_another_organizations_move_in_is_not_found(occupants, site, booked):
    outsider = bearer(ORG_B, roles=("site_manager",))
    for response in (occupants.get(f"/v1/move-ins/{booked['id']}", headers=outsider),
                     occupants.get(f"/v1/move-ins/{booked['id']}/records", headers=outsider),
                     step(occupants, booked, "check-in", headers=outsider),
                     step(occupants, booked, "documents", {"kind": "id_card"}, outsider),
                     occupants.get("/v1/move-ins", query_string={"site_id": site["id"]}, headers=outsider)):
        assert response.status_code == 404, response.get_json()
        assert booked["id"] not in response.get_data(as_text=True)
    assert get(occupants, booked)["state"] == "booked" and get(occupants, booked)["documents"] == []


# -- papers and agreements -----------------------------------------------------------------------------------


@pytest.mark.parametrize("applicant_type, occupancy_role, required", [
    ("owner", "owner", ["id_card", "move_in_notice", "purchase_contract"]),
    ("owner", "tenant", ["id_card", "move_in_notice", "lease"]),
    ("agent", "owner", ["id_card", "move_in_notice", "purchase_contract", "principal_id", "letter_of_authority"]),
    ("organization", "tenant", ["id_card", "move_in_notice", "lease", "organization_proof"]),
])
def test_the_identity_check_waits_for_the_papers_the_applicant_type_requires(
        occupants, unit, person, applicant_type, occupancy_role, required):
    move_in = ok(post(occupants, "/v1/move-ins", booking(unit, person, applicant_type=applicant_type,
                                                         occupancy_role=occupancy_role, agent_name="刘洋")), 201)
    assert move_in["required_documents"] == required
    papers(occupants, move_in, required[:-1])
    ok(step(occupants, move_in, "check-in"))
    refused = step(occupants, move_in, "identity-verification")
    assert refused.status_code == 422
    problem = refused.get_json()
    assert (problem["field"], problem["missing"]) == ("documents", [required[-1]])
    assert get(occupants, move_in)["state"] == "checked_in"
    papers(occupants, move_in, required[-1:])
    assert ok(step(occupants, move_in, "identity-verification"))["state"] == "identity_verified"


def test_where_the_site_requires_it_the_letter_of_authority_is_notarised(occupants, site, unit, person):
    with _state(occupants).sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site["id"], setting=NOTARISED_AUTHORITY,
                        new_value=True, actor="tester")
    move_in = ok(post(occupants, "/v1/move-ins", booking(unit, person, applicant_type="agent",
                                                         agent_name="刘洋")), 201)
    papers(occupants, move_in, ["id_card", "move_in_notice", "purchase_contract", "principal_id",
                                "letter_of_authority"])
    ok(step(occupants, move_in, "check-in"))
    refused = step(occupants, move_in, "identity-verification")
    assert refused.status_code == 422 and refused.get_json()["missing"] == ["notarised_letter_of_authority"]
    papers(occupants, move_in, ["letter_of_authority"], notarised=True)
    ok(step(occupants, move_in, "identity-verification"))


def test_papers_are_recorded_only_until_the_identity_check(occupants, booked):
    papers(occupants, booked)
    ok(step(occupants, booked, "check-in"))
    ok(step(occupants, booked, "identity-verification"))
    late = step(occupants, booked, "documents", {"kind": "lease"})
    assert late.status_code == 409
    assert [d["kind"] for d in get(occupants, booked)["documents"]] == ["id_card", "move_in_notice",
                                                                        "purchase_contract"]


def test_the_agreements_are_signed_all_four_or_not_at_all(occupants, booked):
    papers(occupants, booked)
    ok(step(occupants, booked, "check-in"))
    ok(step(occupants, booked, "identity-verification"))
    refused = step(occupants, booked, "agreements", {"agreements": AGREEMENTS[:2], "handbooks": ["owner_handbook"]})
    assert refused.status_code == 422
    assert (refused.get_json()["field"], refused.get_json()["missing"]) == ("agreements", AGREEMENTS[2:])
    after = get(occupants, booked)
    assert (after["state"], after["agreements"], after["handbooks"]) == ("identity_verified", [], [])
    assert [r["kind"] for r in records(occupants, booked)] == ["registration_form"]


# -- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, field", [
    ({"unit_id": "00000000-0000-4000-8000-000000000000"}, "unit_id"),
    ({"person_id": "00000000-0000-4000-8000-000000000000"}, "person_id"),
    ({"applicant_type": "friend"}, "applicant_type"),
    ({"occupancy_role": "household_member"}, "occupancy_role"),
    ({"applicant_type": "agent"}, "agent_name"),
    ({"appointment_at": None}, "appointment_at"),
    ({"appointment_at": "2027-01-05T09:00:00"}, "appointment_at"),
    ({"slot_id": "00000000-0000-4000-8000-000000000000", "appointment_at": None}, "slot_id"),
    ({"agent_name": "x" * 201}, "agent_name"),
])
def test_a_bad_booking_names_the_field_and_books_nothing(occupants, site, unit, person, overrides, field):
    refused = post(occupants, "/v1/move-ins", booking(unit, person, **overrides))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert refused.get_json()["field"] == field
    assert ok(occupants.get("/v1/move-ins", query_string={"site_id": site["id"]}, headers=CS))["items"] == []


def test_a_person_of_another_site_cannot_move_in(occupants, site, unit):
    other = ok(post(occupants, "/v1/sites", {"code": "NB", "name": "North Bay"}, MANAGER), 201)
    stranger = make_person(occupants, other)
    refused = post(occupants, "/v1/move-ins", booking(unit, stranger))
    assert refused.status_code == 422 and refused.get_json()["field"] == "person_id"


def test_a_unit_has_one_move_in_under_way(occupants, unit, person, booked):
    again = post(occupants, "/v1/move-ins", booking(unit, person))
    assert again.status_code == 409 and again.get_json()["field"] == "unit_id"


@pytest.mark.parametrize("path, body, field", [
    ("check-in", {"contact_phone": "12345"}, "contact_phone"),
    ("check-in", {"household_members": [{"full_name": "", "relation": "son"}]}, "household_members.0.full_name"),
    ("documents", {"kind": "passport_photo"}, "kind"),
])
def test_bad_counter_input_names_the_field_and_changes_nothing(occupants, booked, path, body, field):
    refused = step(occupants, booked, path, body)
    assert refused.status_code == 422 and refused.get_json()["field"] == field
    after = get(occupants, booked)
    assert (after["state"], after["documents"], len(after["history"])) == ("booked", [], 1)


@pytest.mark.parametrize("path, body, field", [
    ("inspection", {**READINGS, "water": "-1"}, "water"),
    ("inspection", {**READINGS, "electricity": "15.401"}, "electricity"),
    ("inspection", {**READINGS, "gas": "10000000000.00"}, "gas"),
    ("inspection", {"water": "3.20"}, "electricity"),
])
def test_bad_readings_name_the_field_and_change_nothing(occupants, booked, path, body, field):
    settle(occupants, to_fees_requested(occupants, booked))
    refused = step(occupants, booked, path, body, TECHNICIAN)
    assert refused.status_code == 422 and refused.get_json()["field"] == field
    assert get(occupants, booked)["state"] == "fees_paid" and events(occupants, MeterOpeningReadingsRecorded) == []


@pytest.mark.parametrize("path, body, field", [
    ("inspection-failure", {"defects": []}, "defects"),
    ("inspection-failure", {"defects": [{"location": "x" * 101, "description": "y"}]}, "defects.0.location"),
    ("acceptance", {"keys": [{"kind": "unit_door", "count": 0}]}, "keys.0.count"),
    ("acceptance", {"keys": []}, "keys"),
])
def test_bad_inspection_input_names_the_field_and_changes_nothing(occupants, booked, path, body, field):
    to_inspection(occupants, booked)
    refused = step(occupants, booked, path, body, SUPERVISOR)
    assert refused.status_code == 422 and refused.get_json()["field"] == field
    after = get(occupants, booked)
    assert (after["state"], after["defects"]) == ("joint_inspection", [])
    assert events(occupants, MoveInAccepted) == []


def test_a_refused_occupancy_undoes_the_acceptance(occupants, site, unit, booked):
    """An owner set already holding the whole unit: the occupancy is refused and so is the acceptance."""
    holder = make_person(occupants, site, "林涛", "139 0000 0002")
    ok(post(occupants, f"/v1/units/{unit['id']}/occupancies",
            {"person_id": holder["id"], "role": "owner", "start_date": "2020-01-01"}), 201)
    to_inspection(occupants, booked)
    refused = step(occupants, booked, "acceptance", KEYS, SUPERVISOR)
    assert refused.status_code == 409 and refused.get_json()["field"] == "share"
    assert get(occupants, booked)["state"] == "joint_inspection" and events(occupants, MoveInAccepted) == []
    assert "key_receipt" not in [r["kind"] for r in records(occupants, booked)]


# -- lists ---------------------------------------------------------------------------------------------------


def test_move_ins_are_listed_a_page_at_a_time_and_filtered(occupants, site, person):
    booked = [ok(post(occupants, "/v1/move-ins", booking(make_unit(occupants, site, n), person)), 201)
              for n in ("101", "102", "103")]
    ok(step(occupants, booked[1], "check-in"))
    first = ok(occupants.get("/v1/move-ins", query_string={"site_id": site["id"], "limit": 2}, headers=CS))
    rest = ok(occupants.get("/v1/move-ins", headers=CS,
                            query_string={"site_id": site["id"], "limit": 2, "cursor": first["next_cursor"]}))
    assert sorted(m["id"] for m in first["items"] + rest["items"]) == sorted(m["id"] for m in booked)
    assert rest["next_cursor"] is None
    checked = ok(occupants.get("/v1/move-ins", query_string={"site_id": site["id"], "state": "checked_in"},
                               headers=CS))["items"]
    assert [(m["id"], m["allowed_actions"]) for m in checked] == [(booked[1]["id"], ["verify_identity", "cancel"])]
    bad = occupants.get("/v1/move-ins", query_string={"site_id": site["id"], "state": "moved"}, headers=CS)
    assert bad.status_code == 422 and bad.get_json()["field"] == "state"


# -- concentrated move-in ------------------------------------------------------------------------------------


def batch_body(site, capacity=1, **overrides):
    day = SOON.date()
    return {"site_id": site["id"], "name": "Tower D 集中入伙", "starts_on": day.isoformat(),
            "ends_on": (day + timedelta(days=13)).isoformat(),
            "slots": [{"starts_at": SOON.replace(hour=9).isoformat(), "ends_at": SOON.replace(hour=11).isoformat(),
                       "capacity": capacity}], **overrides}


def test_a_cancelled_appointment_gives_its_slot_place_back_and_frees_the_unit(occupants, site, person):
    batch = ok(post(occupants, "/v1/move-in-batches", batch_body(site), SUPERVISOR), 201)
    [slot] = batch["slots"]
    unit = make_unit(occupants, site, "101")
    booked = ok(post(occupants, "/v1/move-ins", booking(unit, person, appointment_at=None, slot_id=slot["id"])), 201)
    refused = step(occupants, booked, "cancellation", {})
    assert refused.status_code == 422 and refused.get_json()["field"] == "reason"
    cancelled = ok(step(occupants, booked, "cancellation", {"reason": "the buyer postponed"}))
    assert (cancelled["state"], cancelled["allowed_actions"]) == ("cancelled", [])
    assert cancelled["history"][-1]["reason"] == "the buyer postponed"
    assert ok(occupants.get(f"/v1/move-in-batches/{batch['id']}", headers=CS))["slots"][0]["booked"] == 0
    again = ok(post(occupants, "/v1/move-ins", booking(unit, person, appointment_at=None, slot_id=slot["id"])), 201)
    ok(step(occupants, again, "check-in"))
    papers(occupants, again)
    ok(step(occupants, again, "identity-verification"))
    late = step(occupants, again, "cancellation", {"reason": "too late"})
    assert late.status_code == 409 and late.get_json()["allowed"] == ["sign_agreements"]


def test_a_concentrated_move_in_books_slots_up_to_their_capacity(occupants, site, person):
    batch = ok(post(occupants, "/v1/move-in-batches", batch_body(site), SUPERVISOR), 201)
    [slot] = batch["slots"]
    assert (slot["capacity"], slot["booked"]) == (1, 0)
    first, second = make_unit(occupants, site, "101"), make_unit(occupants, site, "102")
    booked = ok(post(occupants, "/v1/move-ins", booking(first, person, appointment_at=None, slot_id=slot["id"])), 201)
    assert (booked["batch_id"], booked["slot_id"], booked["appointment_at"]) == (
        batch["id"], slot["id"], slot["starts_at"])
    full = post(occupants, "/v1/move-ins", booking(second, person, appointment_at=None, slot_id=slot["id"]))
    assert full.status_code == 409 and full.get_json()["field"] == "slot_id"
    assert ok(occupants.get(f"/v1/move-in-batches/{batch['id']}", headers=CS))["slots"][0]["booked"] == 1
    listed = ok(occupants.get("/v1/move-ins", query_string={"site_id": site["id"], "batch_id": batch["id"]},
                              headers=CS))["items"]
    assert [m["id"] for m in listed] == [booked["id"]]
    batches = ok(occupants.get("/v1/move-in-batches", query_string={"site_id": site["id"]}, headers=CS))["items"]
    assert [b["id"] for b in batches] == [batch["id"]]
    both = post(occupants, "/v1/move-ins", booking(second, person, slot_id=slot["id"]))
    assert both.status_code == 422 and both.get_json()["field"] == "appointment_at"


@pytest.mark.parametrize("overrides, field", [
    ({"ends_on": "2020-01-01"}, "ends_on"),
    ({"slots": []}, "slots"),
    ({"slots": [{"starts_at": "2020-01-01T09:00:00+08:00", "ends_at": "2020-01-01T11:00:00+08:00",
                 "capacity": 5}]}, "slots.0.starts_at"),
    ({"slots": [{"starts_at": SOON.replace(hour=11).isoformat(), "ends_at": SOON.replace(hour=9).isoformat(),
                 "capacity": 5}]}, "slots.0.ends_at"),
    ({"slots": [{"starts_at": SOON.replace(hour=9).isoformat(), "ends_at": SOON.replace(hour=11).isoformat(),
                 "capacity": 0}]}, "slots.0.capacity"),
])
def test_a_bad_batch_names_the_field_and_creates_nothing(occupants, site, overrides, field):
    refused = post(occupants, "/v1/move-in-batches", batch_body(site, **overrides), SUPERVISOR)
    assert refused.status_code == 422 and refused.get_json()["field"] == field
    assert ok(occupants.get("/v1/move-in-batches", query_string={"site_id": site["id"]}, headers=CS))["items"] == []


def test_batches_are_opened_by_a_supervisor_or_manager_of_the_site(occupants, site):
    assert post(occupants, "/v1/move-in-batches", batch_body(site), CS).status_code == 403
    outsider = bearer(ORG_B, roles=("site_manager",))
    assert post(occupants, "/v1/move-in-batches", batch_body(site), outsider).status_code == 404
    assert ok(occupants.get("/v1/move-in-batches", query_string={"site_id": site["id"]}, headers=CS))["items"] == []
    batch = ok(post(occupants, "/v1/move-in-batches", batch_body(site), MANAGER), 201)
    assert occupants.get(f"/v1/move-in-batches/{batch['id']}", headers=outsider).status_code == 404
    assert occupants.get("/v1/move-in-batches", query_string={"site_id": site["id"]}, headers=outsider).status_code \
        == 404


def test_a_slot_of_another_site_is_refused(occupants, site, unit, person):
    other = ok(post(occupants, "/v1/sites", {"code": "NB", "name": "North Bay"}, MANAGER), 201)
    [slot] = ok(post(occupants, "/v1/move-in-batches", batch_body(other), SUPERVISOR), 201)["slots"]
    refused = post(occupants, "/v1/move-ins", booking(unit, person, appointment_at=None, slot_id=slot["id"]))
    assert refused.status_code == 422 and refused.get_json()["field"] == "slot_id"


# -- spot checks ---------------------------------------------------------------------------------------------


def accepted_move_ins(client, site, person, count):
    for n in range(count):
        move_in = ok(post(client, "/v1/move-ins", booking(make_unit(client, site, f"{n + 1}01"), person,
                                                          occupancy_role="tenant")), 201)
        papers(client, move_in, ("id_card", "move_in_notice", "lease"))
        ok(step(client, move_in, "check-in"))
        ok(step(client, move_in, "identity-verification"))
        ok(step(client, move_in, "agreements", {"agreements": AGREEMENTS}))
        settle(client, ok(step(client, move_in, "fees-request")))
        ok(step(client, move_in, "inspection", READINGS))
        ok(step(client, move_in, "acceptance", KEYS, SUPERVISOR))


def spot_checks(client, site, headers=CS, **query):
    return ok(client.get("/v1/move-in-spot-checks", query_string={"site_id": site["id"], **query},
                         headers=headers))["items"]


def test_one_move_in_a_month_is_spot_checked_and_the_schedule_fires_once(occupants, site, person):
    accepted_move_ins(occupants, site, person, 3)
    sessions = _state(occupants).sessions
    assert spotchecks.schedule(sessions) == 1
    assert spotchecks.schedule(sessions) == 0
    [check] = spot_checks(occupants, site)
    assert (check["ordinal"], check["state"], check["conforming"]) == (1, "scheduled", None)
    assert check["month"] == datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")


def test_four_a_month_are_spot_checked_during_a_concentrated_move_in(occupants, site, person):
    ok(post(occupants, "/v1/move-in-batches", batch_body(site, starts_on=datetime.now(timezone.utc).date()
                                                              .isoformat()), SUPERVISOR), 201)
    accepted_move_ins(occupants, site, person, 3)
    sessions = _state(occupants).sessions
    assert spotchecks.schedule(sessions) == 3
    newcomer = make_person(occupants, site, "赵磊", "139 0000 0003")
    move_in = ok(post(occupants, "/v1/move-ins", booking(make_unit(occupants, site, "901"), newcomer)), 201)
    assert spotchecks.schedule(sessions) == 0
    to_inspection(occupants, move_in)
    ok(step(occupants, move_in, "acceptance", KEYS, SUPERVISOR))
    assert spotchecks.schedule(sessions) == 1
    assert spotchecks.schedule(sessions) == 0
    checks = spot_checks(occupants, site)
    assert [c["ordinal"] for c in checks] == [1, 2, 3, 4]
    assert len({c["move_in_id"] for c in checks}) == 4


def test_a_spot_check_is_recorded_once_by_a_manager_of_the_site(occupants, site, person):
    accepted_move_ins(occupants, site, person, 1)
    spotchecks.schedule(_state(occupants).sessions)
    [check] = spot_checks(occupants, site)
    path = f"/v1/move-in-spot-checks/{check['id']}/record"
    body = {"conforming": False, "findings": "委托代办记录缺业主签字"}
    assert post(occupants, path, body, SUPERVISOR).status_code == 403
    assert post(occupants, path, body, bearer(ORG_B, roles=("site_manager",))).status_code == 404
    assert occupants.get("/v1/move-in-spot-checks", query_string={"site_id": site["id"]},
                         headers=bearer(ORG_B, roles=("site_manager",))).status_code == 404
    assert post(occupants, path, {"conforming": "perhaps"}, MANAGER).get_json()["field"] == "conforming"
    done = ok(post(occupants, path, body, MANAGER))
    assert (done["state"], done["conforming"], done["findings"], done["done_by"]) == (
        "done", False, "委托代办记录缺业主签字", "tester")
    again = post(occupants, path, body, MANAGER)
    assert again.status_code == 409 and again.get_json()["allowed"] == []
    assert [c["id"] for c in spot_checks(occupants, site, state="done")] == [check["id"]]
    assert spot_checks(occupants, site, state="scheduled") == []


# -- the docs ------------------------------------------------------------------------------------------------


def test_the_docs_hold_the_current_diagrams():
    doc = (ROOT / "docs" / "occupants" / "move-in.md").read_text(encoding="utf-8")
    assert MOVE_IN.mermaid() in doc and SPOT_CHECK.mermaid() in doc


def test_every_state_of_the_spec_is_in_the_workflow():
    assert MOVE_IN.states == [
        "booked", "checked_in", "identity_verified", "agreements_signed", "fees_requested", "fees_paid",
        "joint_inspection", "accepted", "inspection_failed", "rectification_open", "reinspection", "archived",
        "cancelled"]
