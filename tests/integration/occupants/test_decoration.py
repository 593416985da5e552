"""Decoration on PostgreSQL and RabbitMQ: billing's settlement arrives over the bus and unlocks the permit once,
and every event the works raise is in the outbox with its payload."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from psp.billing.v1.events_pb2 import ChargesSettled
from psp.occupants.v1.charges_pb2 import ChargesRequested
from psp.occupants.v1.decoration_pb2 import (
    DecorationCompleted,
    DecorationDepositRefundRequested,
    DecorationPermitted,
    DecorationViolationReported,
)
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn
from sqlalchemy.exc import IntegrityError

from services.occupants.decoration import rules
from services.occupants.models import chassis
from services.occupants.places.tables import Unit
from shared import db
from shared.bus.outbox import record
from shared.problems import Problem
from shared.service import load
from tests.conftest import ORG_A, ORG_B, bearer, running_workers, wait_until
from tests.support.outbox import published

pytestmark = pytest.mark.integration

CS = bearer(roles=("cs_specialist",))
SUPERVISOR = bearer(roles=("cs_supervisor",))
TECHNICIAN = bearer(roles=("technician",))
START = datetime(2030, 3, 1, 8, tzinfo=timezone(timedelta(hours=8)))


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def step(client, decoration, path, body=None, headers=SUPERVISOR):
    return client.post(f"/v1/decorations/{decoration['id']}/{path}", json=body or {}, headers=headers)


def state(client, decoration):
    return ok(client.get(f"/v1/decorations/{decoration['id']}", headers=CS))["state"]


def billing_settles(platform_env, decoration, times: int) -> None:
    """Billing's side: ChargesSettled recorded in its outbox, as a retried payment run would, `times` events."""
    engine = db.make_engine(platform_env["billing"])
    payload = ChargesSettled(request_id=decoration["charges_request_id"], purpose="decoration",
                             reference_id=decoration["id"], site_id=decoration["site_id"],
                             unit_id=decoration["unit_id"], amount_paid="1190.35", currency="CNY",
                             receipt_numbers=["HG-000123"])
    with db.make_sessionmaker(engine)() as session, session.begin():
        for _ in range(times):
            record(session, load("billing").tables.outbox, payload, organization_id=ORG_A)
    engine.dispose()


@pytest.fixture
def unit(occupants_api, demo_site):
    building = ok(occupants_api.post(f"/v1/sites/{demo_site}/buildings", json={"code": "D", "name": "Tower D"},
                                     headers=SUPERVISOR), 201)
    return ok(occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=SUPERVISOR, json={
        "number": "1801", "floor": 18, "kind": "residence", "state": "occupied", "floor_area_m2": "89.50"}), 201)


def test_the_works_from_application_to_refund_over_the_bus(occupants_api, platform_env, databases, unit):
    client = occupants_api
    decoration = ok(client.post("/v1/decorations", headers=CS, json={
        "unit_id": unit["id"], "applicant_kind": "owner", "applicant_name": "陈静", "applicant_phone": "13900000001",
        "contractor_name": "明华装饰", "works_description": "厨卫翻新", "structural_change": True}), 201)
    ok(step(client, decoration, "identity-check", headers=CS))
    ok(step(client, decoration, "plan-review", {"decision": "approve"}, TECHNICIAN))
    skipped = step(client, decoration, "agreement", {"agreement_reference": "ZX-1"}, CS)
    assert skipped.status_code == 409 and skipped.get_json()["allowed"] == ["record_government_approval"]
    ok(step(client, decoration, "government-approval", {"reference": "建改字[2027]12号"}))
    signed = ok(step(client, decoration, "agreement", {"agreement_reference": "ZX-1"}, CS))
    assert (signed["waste_removal_fee"], signed["deposit"]) == ("295.35", "895.00")

    billing_settles(platform_env, signed, times=2)
    with running_workers("billing", "occupants"):
        wait_until(lambda: state(client, decoration) == "paid", what="the settlement to unlock the permit")
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM inbox WHERE event_type = 'charges.settled.v1'") == 2, what="both deliveries")
    assert databases["occupants"].scalar(
        "SELECT count(*) FROM audit_log WHERE entity_id = :id AND action = 'settle_fees'", id=decoration["id"]) == 1

    bad = step(client, decoration, "permit", {"valid_from": START.isoformat(), "valid_until": START.isoformat(),
                                              "workers": [{"full_name": "王强", "phone": "13700000002",
                                                           "id_number": "11010519491231002X"}]})
    assert bad.status_code == 422 and bad.get_json()["field"] == "valid_until"
    too_long = step(client, decoration, "permit", {"valid_from": START.isoformat(),
                                                   "valid_until": (START + timedelta(days=30)).isoformat(),
                                                   "workers": [{"full_name": "王" * 201, "phone": "13700000002",
                                                                "id_number": "11010519491231002X"}]})
    assert too_long.status_code == 422 and too_long.get_json()["field"] == "workers.0.full_name"
    assert state(client, decoration) == "paid"
    ok(step(client, decoration, "permit", {"valid_from": START.isoformat(),
                                           "valid_until": (START + timedelta(days=30)).isoformat(),
                                           "workers": [{"full_name": "王强", "phone": "13700000002",
                                                        "id_number": "11010519491231002X"}]}))
    ok(step(client, decoration, "start", headers=CS))
    assert databases["occupants"].scalar("SELECT state FROM units WHERE id = :id", id=unit["id"]) == "renovating"
    ok(step(client, decoration, "violations", {"severity": "general", "description": "超时施工"}, CS), 201)
    ok(step(client, decoration, "overtime", {"starts_at": (START + timedelta(hours=11)).isoformat(),
                                             "ends_at": (START + timedelta(hours=13)).isoformat(),
                                             "works": "铺贴地砖"}, CS), 201)
    ok(step(client, decoration, "inspections", {"result": "fail", "rectification_items": ["地漏盖未复原"]},
            TECHNICIAN))
    ok(step(client, decoration, "inspections", {"result": "pass"}, TECHNICIAN))
    ok(step(client, decoration, "deposit-refund", {"deductions": [{"amount": "100.00", "reason": "走廊污损"}]}))
    assert databases["occupants"].scalar("SELECT state FROM units WHERE id = :id", id=unit["id"]) == "occupied"

    other = bearer(org=ORG_B, roles=("cs_supervisor",))
    assert client.get(f"/v1/decorations/{decoration['id']}", headers=other).status_code == 404

    engine = databases["occupants"].engine
    [charges] = [p for _, p in published(engine, chassis, ChargesRequested)]
    assert (charges.purpose, charges.reference_id) == ("decoration", decoration["id"])
    [permit] = [p for _, p in published(engine, chassis, DecorationPermitted)]
    assert [w.id_number for w in permit.workers] == ["11010519491231002X"]
    [completed] = [p for _, p in published(engine, chassis, DecorationCompleted)]
    assert completed.permit_id == permit.permit_id
    [refund] = [p for _, p in published(engine, chassis, DecorationDepositRefundRequested)]
    assert (refund.deposit, refund.refund_amount) == ("895.00", "795.00")
    [violation] = [p for _, p in published(engine, chassis, DecorationViolationReported)]
    assert (violation.category, violation.severity) == ("decoration", "general")
    plans = {p.plan_id for _, p in published(engine, chassis, PatrolPlanPublished)}
    assert plans == {p.plan_id for _, p in published(engine, chassis, PatrolPlanWithdrawn)} and len(plans) == 2


def test_racing_applications_for_one_unit_leave_one_decoration(platform_env, databases, unit):
    """The second application's check cannot see the first one uncommitted; the unique index stops it."""
    engine = db.make_engine(platform_env["occupants"])
    sessions = db.make_sessionmaker(engine)
    fields = dict(actor="tester", applicant_kind="owner", applicant_name="陈静", applicant_phone="13900000001",
                  contractor_name="明华装饰", works_description="厨卫翻新", structural_change=False, load_increase=False)
    outcome = {}

    def second():
        try:
            with sessions() as session, session.begin():
                rules.apply(session, session.get(Unit, unit["id"]), **fields)
        except (IntegrityError, Problem) as refused:
            outcome["refused"] = refused

    with sessions() as session, session.begin():
        rules.apply(session, session.get(Unit, unit["id"]), **fields)
        racer = threading.Thread(target=second)
        racer.start()
    racer.join()
    engine.dispose()
    assert "refused" in outcome
    assert databases["occupants"].scalar("SELECT count(*) FROM decorations WHERE unit_id = :id", id=unit["id"]) == 1
