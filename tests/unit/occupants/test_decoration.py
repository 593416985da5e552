"""Decoration / renovation (OCC-8): every path of the workflow, its gate, its authority and its events."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from psp.billing.v1.events_pb2 import ChargesSettled
from psp.occupants.v1.charges_pb2 import ChargesRequested
from psp.occupants.v1.decoration_pb2 import (
    DecorationCompleted,
    DecorationDepositRefundRequested,
    DecorationOvertimeApproved,
    DecorationPermitted,
    DecorationViolationReported,
)
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn
from sqlalchemy import select

from services.occupants.decoration.rules import DECORATION, OVERTIME, SPOT_CHECKS_PER_DAY
from services.occupants.models import chassis
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
ID_NUMBER = "11010519491231002X"
BEIJING = timezone(timedelta(hours=8))
# A permit window in the future, whatever day the tests run; 2030-03-05 is a Tuesday, 2030-03-09 a Saturday.
PERMIT_FROM = datetime(2030, 3, 1, 8, tzinfo=BEIJING)
PERMIT_UNTIL = datetime(2030, 4, 30, 18, tzinfo=BEIJING)


def post(client, path, body=None, headers=CS):
    return client.post(path, json=body or {}, headers=headers)


def make_unit(client, site, number="1801", state="occupied"):
    building = post(client, f"/v1/sites/{site['id']}/buildings", {"code": f"B{number}", "name": "Tower"}, MANAGER)
    assert building.status_code == 201, building.get_json()
    unit = post(client, f"/v1/buildings/{building.get_json()['id']}/units",
                {"number": number, "floor": 18, "kind": "residence", "state": state, "floor_area_m2": "89.50"},
                MANAGER)
    assert unit.status_code == 201, unit.get_json()
    return unit.get_json()


def application(unit, **overrides):
    return {"unit_id": unit["id"], "applicant_kind": "owner", "applicant_name": "陈静",
            "applicant_phone": "13900000001", "contractor_name": "明华装饰", "works_description": "厨卫翻新",
            **overrides}


def permit_body(**overrides):
    return {"valid_from": PERMIT_FROM.isoformat(), "valid_until": PERMIT_UNTIL.isoformat(),
            "workers": [{"full_name": "王强", "phone": "13700000002", "id_number": ID_NUMBER}], **overrides}


def step(client, decoration, path, body=None, headers=SUPERVISOR):
    return post(client, f"/v1/decorations/{decoration['id']}/{path}", body, headers)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def events(client, message_cls):
    return [payload for _, payload in published(client.application.extensions["psp"].engine, chassis, message_cls)]


def trail(client, entity_id):
    audit_log = chassis.audit_log
    with client.application.extensions["psp"].engine.connect() as connection:
        return connection.execute(select(audit_log.c.action, audit_log.c.from_state, audit_log.c.to_state)
                                  .where(audit_log.c.entity_id == entity_id).order_by(audit_log.c.id)).all()


def _unit_state(client, unit):
    from services.occupants.places.tables import Unit

    with client.application.extensions["psp"].sessions() as session:
        return session.scalar(select(Unit.state).where(Unit.id == unit["id"]))


def settle(client, decoration, request_id=None, organization_id=ORG_A):
    """Billing's ChargesSettled, through occupants' registered route, in a transaction of its own."""
    route = SERVICE.handlers.routes["charges.settled.v1"]
    payload = ChargesSettled(request_id=request_id or decoration["charges_request_id"], purpose="decoration",
                             reference_id=decoration["id"], site_id=decoration["site_id"],
                             unit_id=decoration["unit_id"], amount_paid="1190.35", currency="CNY",
                             receipt_numbers=["HG-000123"])
    event = unpack(new_envelope(payload, organization_id=organization_id), ChargesSettled)
    with client.application.extensions["psp"].sessions() as session, session.begin():
        route.handler(session, event)


def get(client, decoration, headers=CS):
    return ok(client.get(f"/v1/decorations/{decoration['id']}", headers=headers))


@pytest.fixture
def unit(occupants, site):
    return make_unit(occupants, site)


@pytest.fixture
def applied(occupants, unit):
    return ok(post(occupants, "/v1/decorations", application(unit)), 201)


def to_payment(client, decoration):
    ok(step(client, decoration, "identity-check", headers=CS))
    ok(step(client, decoration, "plan-review", {"decision": "approve"}, TECHNICIAN))
    return ok(step(client, decoration, "agreement", {"agreement_reference": "ZX-2027-018"}, CS))


def to_works(client, decoration):
    signed = to_payment(client, decoration)
    settle(client, signed)
    ok(step(client, decoration, "permit", permit_body(), SUPERVISOR))
    return ok(step(client, decoration, "start", headers=CS))


def test_a_decoration_goes_from_application_to_archive(occupants, site, unit, applied):
    assert applied["state"] == "applied" and applied["allowed_steps"] == ["verify_identity"]
    signed = to_payment(occupants, applied)
    assert signed["state"] == "awaiting_payment"
    assert (signed["waste_removal_fee"], signed["deposit"]) == ("295.35", "895.00")  # 89.50 m² × 3.30 and × 10
    [charges] = events(occupants, ChargesRequested)
    assert (charges.request_id, charges.purpose, charges.reference_id, charges.unit_id) == (
        signed["charges_request_id"], "decoration", applied["id"], unit["id"])
    assert [(c.item, c.amount, c.currency) for c in charges.charges] == [
        ("decoration_waste_removal", "295.35", "CNY"), ("decoration_deposit", "895.00", "CNY")]

    refused = step(occupants, applied, "permit", permit_body())
    assert refused.status_code == 409 and refused.get_json()["allowed"] == ["settle_fees"]
    settle(occupants, signed)
    paid = get(occupants, applied)
    assert (paid["state"], paid["amount_paid"], paid["receipt_numbers"]) == ("paid", "1190.35", ["HG-000123"])

    permitted = ok(step(occupants, applied, "permit", permit_body(), MANAGER))
    assert permitted["state"] == "permitted"
    assert permitted["working_hours"] == [{"start": "08:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}]
    assert permitted["working_days"] == ["MO", "TU", "WE", "TH", "FR"]
    assert "拆除地漏盖或向地漏倾倒杂物" in permitted["prohibited_works"]
    [permit] = events(occupants, DecorationPermitted)
    assert (permit.permit_id, permit.decoration_id, permit.site_id, permit.unit_id) == (
        permitted["permit_id"], applied["id"], site["id"], unit["id"])
    assert permit.valid_from.ToDatetime(timezone.utc) == datetime.fromisoformat(permitted["valid_from"])
    assert permit.valid_until.ToDatetime(timezone.utc) == datetime.fromisoformat(permitted["valid_until"])
    assert [(w.full_name, w.phone, w.id_number) for w in permit.workers] == [("王强", "+8613700000002", ID_NUMBER)]
    assert [(h.start, h.end) for h in permit.working_hours] == [("08:00", "12:00"), ("14:00", "18:00")]
    assert list(permit.working_days) == ["MO", "TU", "WE", "TH", "FR"] and permit.contractor_name == "明华装饰"

    assert _unit_state(occupants, unit) == "occupied"
    under_way = ok(step(occupants, applied, "start", headers=CS))
    assert under_way["state"] == "under_way" and _unit_state(occupants, unit) == "renovating"
    patrol, spot_check = events(occupants, PatrolPlanPublished)
    assert (patrol.purpose, patrol.reference_id, patrol.unit_id, patrol.rrule, patrol.patrol_role) == (
        "decoration", applied["id"], unit["id"], "FREQ=DAILY", "steward")
    assert (spot_check.rrule, spot_check.patrol_role) == ("FREQ=DAILY;INTERVAL=1", "cs_supervisor")
    assert patrol.ends_at == permit.valid_until and patrol.checkpoints and spot_check.checkpoints

    failed = ok(step(occupants, applied, "inspections", {"result": "fail", "rectification_items": ["地漏盖未复原"]},
                     TECHNICIAN))
    assert (failed["state"], failed["rectification_items"]) == ("rectifying", ["地漏盖未复原"])
    again = ok(step(occupants, applied, "inspections", {"result": "fail", "rectification_items": ["墙面开槽未封"]},
                    SUPERVISOR))
    assert (again["state"], again["rectification_items"]) == ("rectifying", ["墙面开槽未封"])
    assert not events(occupants, DecorationCompleted) and _unit_state(occupants, unit) == "renovating"
    completed = ok(step(occupants, applied, "inspections", {"result": "pass"}, TECHNICIAN))
    assert (completed["state"], completed["rectification_items"]) == ("completed", [])
    assert _unit_state(occupants, unit) == "occupied"
    [done] = events(occupants, DecorationCompleted)
    assert (done.permit_id, done.decoration_id, done.unit_id) == (permit.permit_id, applied["id"], unit["id"])
    assert sorted(w.plan_id for w in events(occupants, PatrolPlanWithdrawn)) == sorted(
        [patrol.plan_id, spot_check.plan_id])

    refund = ok(step(occupants, applied, "deposit-refund",
                     {"deductions": [{"amount": "200.00", "reason": "损坏公共走廊墙面"}]}, SUPERVISOR))
    assert (refund["state"], refund["refund_amount"]) == ("refund_requested", "695.00")
    [requested] = events(occupants, DecorationDepositRefundRequested)
    assert (requested.decoration_id, requested.charges_request_id, requested.deposit, requested.refund_amount,
            requested.currency) == (applied["id"], charges.request_id, "895.00", "695.00", "CNY")
    assert [(d.amount, d.reason) for d in requested.deductions] == [("200.00", "损坏公共走廊墙面")]
    assert ok(step(occupants, applied, "archive", headers=CS))["state"] == "archived"
    finished = step(occupants, applied, "archive", headers=CS)
    assert finished.status_code == 409 and finished.get_json()["allowed"] == []

    assert [tuple(row) for row in trail(occupants, applied["id"])] == [
        ("apply", None, "applied"),
        ("verify_identity", "applied", "identity_verified"),
        ("approve_plan", "identity_verified", "plan_approved"),
        ("sign_agreement", "plan_approved", "awaiting_payment"),
        ("settle_fees", "awaiting_payment", "paid"),
        ("issue_permit", "paid", "permitted"),
        ("start_works", "permitted", "under_way"),
        ("fail_inspection", "under_way", "rectifying"),
        ("fail_inspection", "rectifying", "rectifying"),
        ("pass_inspection", "rectifying", "completed"),
        ("request_refund", "completed", "refund_requested"),
        ("archive", "refund_requested", "archived"),
    ]
    assert [tuple(row) for row in trail(occupants, unit["id"])] == [
        ("decoration", "occupied", "renovating"), ("decoration", "renovating", "occupied")]


def test_a_first_inspection_that_passes_completes_the_works(occupants, unit, applied):
    to_works(occupants, applied)
    assert ok(step(occupants, applied, "inspections", {"result": "pass"}, TECHNICIAN))["state"] == "completed"
    assert _unit_state(occupants, unit) == "occupied"


@pytest.mark.parametrize("declared", ["structural_change", "load_increase"])
def test_structural_or_load_changes_need_the_government_approval_first(occupants, unit, declared):
    decoration = ok(post(occupants, "/v1/decorations", application(unit, **{declared: True})), 201)
    ok(step(occupants, decoration, "identity-check", headers=CS))
    reviewed = ok(step(occupants, decoration, "plan-review", {"decision": "approve"}, TECHNICIAN))
    assert reviewed["state"] == "awaiting_government_approval"

    skipped = step(occupants, decoration, "agreement", {"agreement_reference": "ZX-1"}, CS)
    assert skipped.status_code == 409
    assert skipped.get_json()["allowed"] == ["record_government_approval"]
    assert "record_government_approval" in skipped.get_json()["detail"]
    assert not events(occupants, ChargesRequested)

    refused = step(occupants, decoration, "government-approval", {"reference": "建改字[2027]12号"}, CS)
    assert refused.status_code == 403
    approved = ok(step(occupants, decoration, "government-approval", {"reference": "建改字[2027]12号"}, MANAGER))
    assert (approved["state"], approved["government_approval_reference"]) == ("plan_approved", "建改字[2027]12号")
    assert ok(step(occupants, decoration, "agreement", {"agreement_reference": "ZX-1"}, CS))["state"] == \
        "awaiting_payment"


def test_without_structural_or_load_changes_there_is_no_government_approval_step(occupants, applied):
    ok(step(occupants, applied, "identity-check", headers=CS))
    assert ok(step(occupants, applied, "plan-review", {"decision": "approve"}, TECHNICIAN))["state"] == \
        "plan_approved"
    extra = step(occupants, applied, "government-approval", {"reference": "X"}, MANAGER)
    assert extra.status_code == 409 and extra.get_json()["allowed"] == ["sign_agreement"]
    assert get(occupants, applied)["government_approval_reference"] == ""


def test_a_rejected_plan_ends_the_application(occupants, unit, applied):
    ok(step(occupants, applied, "identity-check", headers=CS))
    assert ok(step(occupants, applied, "plan-review", {"decision": "reject"}, SUPERVISOR))["state"] == "rejected"
    late = step(occupants, applied, "agreement", {"agreement_reference": "ZX-1"}, CS)
    assert late.status_code == 409 and late.get_json()["allowed"] == []
    # A finished application no longer holds the unit.
    assert post(occupants, "/v1/decorations", application(unit)).status_code == 201


def test_an_agent_needs_the_letter_of_authority(occupants, unit):
    decoration = ok(post(occupants, "/v1/decorations", application(unit, applicant_kind="agent")), 201)
    missing = step(occupants, decoration, "identity-check", {"letter_of_authority_reference": " "}, CS)
    assert missing.status_code == 422 and missing.get_json()["field"] == "letter_of_authority_reference"
    assert get(occupants, decoration)["state"] == "applied"
    checked = ok(step(occupants, decoration, "identity-check", {"letter_of_authority_reference": "WT-88"}, CS))
    assert (checked["state"], checked["letter_of_authority_reference"]) == ("identity_verified", "WT-88")


def test_steps_out_of_order_name_the_allowed_steps(occupants, applied):
    early = step(occupants, applied, "inspections", {"result": "pass"}, TECHNICIAN)
    body = early.get_json()
    assert early.status_code == 409 and early.content_type == "application/problem+json"
    assert (body["state"], body["allowed"]) == ("applied", ["verify_identity"])
    assert step(occupants, applied, "start", headers=CS).status_code == 409
    assert [row.action for row in trail(occupants, applied["id"])] == ["apply"]


def test_authority_is_the_role_held_at_the_decorations_site(occupants, site, unit, applied):
    elsewhere = bearer(roles=(), site_roles={"another-site": ["technician"]}, sites=("*",))
    here = bearer(roles=(), site_roles={site["id"]: ["technician"]}, sites=())
    ok(step(occupants, applied, "identity-check", headers=CS))
    assert step(occupants, applied, "plan-review", {"decision": "approve"}, CS).status_code == 403
    assert step(occupants, applied, "plan-review", {"decision": "approve"}, elsewhere).status_code == 403
    assert get(occupants, applied)["state"] == "identity_verified"
    assert ok(step(occupants, applied, "plan-review", {"decision": "approve"}, here))["state"] == "plan_approved"

    guard = post(occupants, "/v1/decorations", application(make_unit(occupants, site, "1802")),
                 bearer(roles=("security_guard",)))
    assert guard.status_code == 403


def test_the_permit_is_issued_by_a_supervisor_or_manager_only(occupants, applied):
    settle(occupants, to_payment(occupants, applied))
    assert step(occupants, applied, "permit", permit_body(), CS).status_code == 403
    assert step(occupants, applied, "permit", permit_body(), TECHNICIAN).status_code == 403
    assert not events(occupants, DecorationPermitted)


@pytest.mark.parametrize("overrides, field", [
    ({"valid_until": PERMIT_FROM.isoformat()}, "valid_until"),
    ({"valid_until": (PERMIT_FROM - timedelta(days=1)).isoformat()}, "valid_until"),
    ({"valid_from": "2020-01-01T08:00:00+08:00", "valid_until": "2020-03-01T18:00:00+08:00"}, "valid_until"),
    ({"valid_from": "2027-01-05T08:00:00"}, "valid_from"),
    ({"working_hours": [{"start": "14:00", "end": "12:00"}]}, "working_hours"),
    ({"working_hours": [{"start": "25:00", "end": "26:00"}]}, "working_hours.0.start"),
    ({"working_days": ["XX"]}, "working_days.0"),
    ({"workers": []}, "workers"),
    ({"workers": [{"full_name": "王强", "phone": "12", "id_number": ID_NUMBER}]}, "workers.0.phone"),
    ({"workers": [{"full_name": "王强", "phone": "13700000002", "id_number": "110105194912310021"}]},
     "workers.0.id_number"),
])
def test_a_bad_permit_names_the_field_and_changes_nothing(occupants, applied, overrides, field):
    settle(occupants, to_payment(occupants, applied))
    response = step(occupants, applied, "permit", permit_body(**overrides), SUPERVISOR)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert response.get_json()["field"] == field
    current = get(occupants, applied)
    assert (current["state"], current["permit_id"]) == ("paid", None)
    assert not events(occupants, DecorationPermitted)


@pytest.mark.parametrize("overrides, field", [
    ({"unit_id": "00000000-0000-4000-8000-000000000000"}, "unit_id"),
    ({"applicant_kind": "landlord"}, "applicant_kind"),
    ({"applicant_phone": "not a phone"}, "applicant_phone"),
    ({"person_id": "00000000-0000-4000-8000-000000000000"}, "person_id"),
    ({"works_description": ""}, "works_description"),
])
def test_a_bad_application_names_the_field_and_changes_nothing(occupants, site, unit, overrides, field):
    response = post(occupants, "/v1/decorations", application(unit, **overrides))
    assert response.status_code == 422 and response.get_json()["field"] == field
    listed = ok(occupants.get(f"/v1/decorations?site_id={site['id']}", headers=CS))
    assert listed["items"] == []


def test_a_unit_holds_one_decoration_at_a_time(occupants, unit, applied):
    second = post(occupants, "/v1/decorations", application(unit))
    assert second.status_code == 409 and second.get_json()["field"] == "unit_id"


def test_another_organizations_decoration_is_not_found(occupants, unit, applied):
    other = bearer(org=ORG_B, roles=("site_manager", "cs_supervisor", "technician"))
    assert occupants.get(f"/v1/decorations/{applied['id']}", headers=other).status_code == 404
    assert step(occupants, applied, "identity-check", headers=other).status_code == 404
    assert step(occupants, applied, "violations", {"severity": "general", "description": "x"}, other).status_code \
        == 404
    assert occupants.get(f"/v1/decorations/{applied['id']}/overtime", headers=other).status_code == 404
    stolen = post(occupants, "/v1/decorations", application(unit), other)
    assert stolen.status_code == 422 and stolen.get_json()["field"] == "unit_id"
    assert get(occupants, applied)["state"] == "applied"


def test_billings_settlement_unlocks_the_permit_once(occupants, applied):
    signed = to_payment(occupants, applied)
    settle(occupants, signed, request_id="00000000-0000-4000-8000-0000000000ff")  # another request's money
    settle(occupants, signed, organization_id=ORG_B)  # another organization's event
    assert get(occupants, applied)["state"] == "awaiting_payment"
    settle(occupants, signed)
    settle(occupants, signed)
    assert get(occupants, applied)["state"] == "paid"
    assert [row.action for row in trail(occupants, applied["id"])].count("settle_fees") == 1


def test_fees_follow_the_site_policy(occupants, site, applied):
    overridden = occupants.put("/v1/policies/decoration.deposit_per_m2", json={"site_id": site["id"], "value": "12.00"},
                               headers=MANAGER)
    assert overridden.status_code == 200, overridden.get_json()
    assert to_payment(occupants, applied)["deposit"] == "1074.00"


def test_deductions_beyond_the_deposit_are_refused(occupants, applied):
    to_works(occupants, applied)
    ok(step(occupants, applied, "inspections", {"result": "pass"}, TECHNICIAN))
    too_much = step(occupants, applied, "deposit-refund",
                    {"deductions": [{"amount": "800.00", "reason": "a"}, {"amount": "95.01", "reason": "b"}]})
    assert too_much.status_code == 422 and too_much.get_json()["field"] == "deductions"
    assert not events(occupants, DecorationDepositRefundRequested)
    assert ok(step(occupants, applied, "deposit-refund", {"deductions": []}))["refund_amount"] == "895.00"


def test_a_failed_inspection_lists_what_to_rectify(occupants, applied):
    to_works(occupants, applied)
    bare = step(occupants, applied, "inspections", {"result": "fail"}, TECHNICIAN)
    assert bare.status_code == 422 and bare.get_json()["field"] == "rectification_items"
    assert step(occupants, applied, "inspections", {"result": "pass"}, CS).status_code == 403
    assert get(occupants, applied)["state"] == "under_way"


def test_spot_checks_rotate_over_the_sites_units_under_works(occupants, site):
    with occupants.application.extensions["psp"].sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=site["id"], setting=SPOT_CHECKS_PER_DAY,
                        new_value=1, actor="tester")
    first, second = (ok(post(occupants, "/v1/decorations", application(make_unit(occupants, site, n))), 201)
                     for n in ("1801", "1802"))
    to_works(occupants, first)
    to_works(occupants, second)
    spot_checks = [p for p in events(occupants, PatrolPlanPublished) if p.patrol_role == "cs_supervisor"]
    # The second start republishes both plans: each unit every other day, on alternate days.
    assert [(p.reference_id, p.rrule) for p in spot_checks] == [
        (first["id"], "FREQ=DAILY;INTERVAL=1"),
        (first["id"], "FREQ=DAILY;INTERVAL=2"), (second["id"], "FREQ=DAILY;INTERVAL=2")]
    assert spot_checks[2].starts_at.ToDatetime() - spot_checks[1].starts_at.ToDatetime() == timedelta(days=1)
    assert spot_checks[0].plan_id == spot_checks[1].plan_id


def test_violations_go_to_ticketing_while_works_go_on(occupants, site, unit, applied):
    body = {"severity": "major", "description": "擅自拆除承重墙", "observed_at": "2027-01-06T10:30:00+08:00"}
    early = step(occupants, applied, "violations", body, CS)
    assert early.status_code == 409
    to_works(occupants, applied)
    assert step(occupants, applied, "violations", body, bearer(roles=("cashier",))).status_code == 403
    bad = step(occupants, applied, "violations", {**body, "severity": "minor"}, CS)
    assert bad.status_code == 422 and bad.get_json()["field"] == "severity"
    violation = ok(step(occupants, applied, "violations", body, bearer(roles=("steward",))), 201)
    [reported] = events(occupants, DecorationViolationReported)
    assert (reported.violation_id, reported.decoration_id, reported.site_id, reported.unit_id, reported.category,
            reported.severity, reported.description) == (
        violation["id"], applied["id"], site["id"], unit["id"], "decoration", "major", "擅自拆除承重墙")
    assert reported.observed_at.ToDatetime(timezone.utc) == datetime(2027, 1, 6, 2, 30, tzinfo=timezone.utc)
    listed = ok(occupants.get(f"/v1/decorations/{applied['id']}/violations", headers=CS))
    assert [v["id"] for v in listed["items"]] == [violation["id"]]


def test_overtime_is_applied_for_inside_the_permit_and_decided_by_a_supervisor(occupants, site, applied):
    evening = {"starts_at": "2030-03-05T19:00:00+08:00", "ends_at": "2030-03-05T21:00:00+08:00",
               "works": "赶工铺贴地砖"}
    assert step(occupants, applied, "overtime", evening, CS).status_code == 409
    to_works(occupants, applied)
    backwards = step(occupants, applied, "overtime", {**evening, "ends_at": evening["starts_at"]}, CS)
    assert backwards.status_code == 422 and backwards.get_json()["field"] == "ends_at"
    before = step(occupants, applied, "overtime", {**evening, "starts_at": "2030-03-01T07:00:00+08:00"}, CS)
    assert before.status_code == 422 and before.get_json()["field"] == "starts_at"
    after = step(occupants, applied, "overtime", {**evening, "ends_at": "2030-04-30T19:00:00+08:00"}, CS)
    assert after.status_code == 422 and after.get_json()["field"] == "ends_at"
    working_hours = step(occupants, applied, "overtime", {**evening, "starts_at": "2030-03-05T09:00:00+08:00",
                                                          "ends_at": "2030-03-05T11:30:00+08:00"}, CS)
    assert working_hours.status_code == 422 and working_hours.get_json()["field"] == "starts_at"
    saturday = ok(step(occupants, applied, "overtime", {**evening, "starts_at": "2030-03-09T09:00:00+08:00",
                                                        "ends_at": "2030-03-09T11:30:00+08:00"}, CS), 201)
    assert step(occupants, applied, "overtime", evening, TECHNICIAN).status_code == 403

    first = ok(step(occupants, applied, "overtime", evening, CS), 201)
    second = ok(step(occupants, applied, "overtime", evening, CS), 201)
    assert first["state"] == "applied"
    decide = lambda overtime, decision, headers: occupants.post(  # noqa: E731
        f"/v1/decoration-overtime/{overtime['id']}/decision", json={"decision": decision}, headers=headers)
    assert decide(first, "approve", CS).status_code == 403
    elsewhere = bearer(roles=(), site_roles={"another-site": ["cs_supervisor"]}, sites=("*",))
    assert decide(first, "approve", elsewhere).status_code == 403
    assert decide(first, "approve", bearer(org=ORG_B, roles=("cs_supervisor",))).status_code == 404
    assert not events(occupants, DecorationOvertimeApproved)
    approved = ok(decide(first, "approve", SUPERVISOR))
    assert (approved["state"], approved["decided_by"]) == ("approved", "tester")
    [published_overtime] = events(occupants, DecorationOvertimeApproved)
    assert (published_overtime.overtime_id, published_overtime.decoration_id, published_overtime.permit_id,
            published_overtime.works) == (first["id"], applied["id"], get(occupants, applied)["permit_id"], "赶工铺贴地砖")
    assert published_overtime.starts_at.ToDatetime(timezone.utc) == datetime(2030, 3, 5, 11, tzinfo=timezone.utc)
    assert published_overtime.ends_at.ToDatetime(timezone.utc) == datetime(2030, 3, 5, 13, tzinfo=timezone.utc)
    twice = decide(first, "refuse", MANAGER)
    assert twice.status_code == 409 and twice.get_json()["allowed"] == []
    assert ok(decide(second, "refuse", MANAGER))["state"] == "refused"
    assert len(events(occupants, DecorationOvertimeApproved)) == 1
    assert [tuple(row) for row in trail(occupants, first["id"])] == [("apply", None, "applied"),
                                                                     ("approve", "applied", "approved")]

    page = ok(occupants.get(f"/v1/decorations/{applied['id']}/overtime?limit=2", headers=CS))
    rest = ok(occupants.get(f"/v1/decorations/{applied['id']}/overtime?limit=2&cursor={page['next_cursor']}",
                            headers=CS))
    assert {o["id"] for o in page["items"] + rest["items"]} == {first["id"], second["id"], saturday["id"]}
    assert rest["next_cursor"] is None


def test_the_list_pages_a_sites_decorations_by_state(occupants, site):
    made = [ok(post(occupants, "/v1/decorations", application(make_unit(occupants, site, n))), 201)
            for n in ("1801", "1802", "1803")]
    ok(step(occupants, made[0], "identity-check", headers=CS))
    page = ok(occupants.get(f"/v1/decorations?site_id={site['id']}&state=applied&limit=1", headers=CS))
    rest = ok(occupants.get(f"/v1/decorations?site_id={site['id']}&state=applied&cursor={page['next_cursor']}",
                            headers=CS))
    assert {d["id"] for d in page["items"] + rest["items"]} == {made[1]["id"], made[2]["id"]}
    assert occupants.get(f"/v1/decorations?site_id={site['id']}", headers=bearer(org=ORG_B)).status_code == 404


def test_worker_id_numbers_are_shown_whole_only_to_roles_that_need_them(occupants, applied):
    to_works(occupants, applied)
    assert get(occupants, applied, SUPERVISOR)["workers"][0]["id_number"] == ID_NUMBER
    assert get(occupants, applied, CS)["workers"][0]["id_number"] == "110***********002X"


def test_the_docs_hold_the_current_diagrams():
    doc = (ROOT / "docs" / "occupants" / "decoration.md").read_text()
    assert DECORATION.mermaid() in doc and OVERTIME.mermaid() in doc


def test_the_demo_site_shows_a_decoration_under_way(occupants):
    from services.occupants import demo
    from services.occupants.decoration.tables import Decoration, DecorationOvertime
    from services.occupants.places.tables import Unit

    with occupants.application.extensions["psp"].sessions() as session, session.begin():
        demo.seed(session, ORG_A)
    with occupants.application.extensions["psp"].sessions() as session:
        [decoration] = session.scalars(select(Decoration)).all()
        assert decoration.state == "under_way" and decoration.permit_id and len(decoration.workers) == 2
        assert session.get(Unit, decoration.unit_id).state == "renovating"
        [overtime] = session.scalars(select(DecorationOvertime)).all()
        assert (overtime.decoration_id, overtime.state) == (decoration.id, "applied")
