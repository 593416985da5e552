"""Move-in (OCC-3) on PostgreSQL and RabbitMQ: billing's settlement arriving over the bus (twice, and once
more as a redelivery) unlocks the inspection once; racing requests take a step or a slot's last place once;
racing schedulers add each spot check once; every event reaches the outbox with its payload."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from psp.billing.v1.events_pb2 import ChargesSettled
from psp.occupants.v1.charges_pb2 import ChargesRequested
from psp.occupants.v1.movein_pb2 import MeterOpeningReadingsRecorded, MoveInAccepted, RectificationRequested
from sqlalchemy.exc import IntegrityError

from services.occupants.models import chassis
from services.occupants.movein import rules, spotchecks
from services.occupants.movein.tables import MoveIn
from services.occupants.places.tables import Unit
from shared import db
from shared.bus.connection import connect
from shared.bus.envelope import new_envelope
from shared.bus.publisher import Outgoing, Publisher
from shared.config import Settings
from shared.problems import Problem
from tests.conftest import ORG_A, ORG_B, bearer, running_workers, wait_until
from tests.support.outbox import published

pytestmark = pytest.mark.integration

CS = bearer(roles=("cs_specialist",))
SUPERVISOR = bearer(roles=("cs_supervisor",))
TECHNICIAN = bearer(roles=("technician",))
SOON = datetime.now(timezone.utc) + timedelta(days=2)
AGREEMENTS = list(rules.AGREEMENTS)
READINGS = {"water": "3.20", "electricity": "15.40"}
KEYS = {"keys": [{"kind": "unit_door", "count": 3}]}


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def step(client, move_in, path, body=None, headers=CS):
    return client.post(f"/v1/move-ins/{move_in['id']}/{path}", json=body or {}, headers=headers)


def state(client, move_in):
    return ok(client.get(f"/v1/move-ins/{move_in['id']}", headers=CS))["state"]


def payloads(databases, message_cls):
    return [p for _, p in published(databases["occupants"].engine, chassis, message_cls)]


def make_unit(client, site_id, number):
    building = ok(client.post(f"/v1/sites/{site_id}/buildings", json={"code": f"D{number}", "name": "Tower D"},
                              headers=SUPERVISOR), 201)
    return ok(client.post(f"/v1/buildings/{building['id']}/units", headers=SUPERVISOR, json={
        "number": number, "floor": 1, "kind": "residence", "floor_area_m2": "96.00"}), 201)


@pytest.fixture
def person(occupants_api, demo_site):
    return ok(occupants_api.post("/v1/persons", headers=CS, json={
        "site_id": demo_site, "full_name": "陈静", "phone": "139 0000 0001"}), 201)


def book(client, site_id, person, number="101", **fields):
    return ok(client.post("/v1/move-ins", headers=CS, json={
        "unit_id": make_unit(client, site_id, number)["id"], "person_id": person["id"], "applicant_type": "owner",
        "occupancy_role": "owner", "appointment_at": SOON.isoformat(), **fields}), 201)


def to_fees_requested(client, move_in):
    for kind in ("id_card", "move_in_notice", "purchase_contract"):
        ok(step(client, move_in, "documents", {"kind": kind}), 201)
    ok(step(client, move_in, "check-in"))
    ok(step(client, move_in, "identity-verification"))
    ok(step(client, move_in, "agreements", {"agreements": AGREEMENTS}))
    return ok(step(client, move_in, "fees-request"))


def settlement(move_in, purpose="move_in", organization_id=ORG_A):
    return new_envelope(ChargesSettled(
        request_id=move_in["fees_request_id"], purpose=purpose, reference_id=move_in["id"],
        site_id=move_in["site_id"], unit_id=move_in["unit_id"], amount_paid="4377.60", currency="CNY",
        receipt_numbers=["HG-000201"]), organization_id=organization_id)


def billing_publishes(*envelopes) -> None:
    """As billing's relay does: on billing.events with the event type as routing key, confirmed."""
    with connect(Settings()) as connection:
        outcome = Publisher(connection).publish([
            Outgoing(e.id, "billing.events", e.type, e.SerializeToString(), {}) for e in envelopes])
    assert set(outcome.values()) == {None}, outcome


def test_billings_settlement_over_the_bus_unlocks_the_inspection_once(occupants_api, databases, demo_site, person):
    client = occupants_api
    move_in = book(client, demo_site, person)
    requested = to_fees_requested(client, move_in)
    [asked] = payloads(databases, ChargesRequested)
    assert (asked.request_id, asked.purpose, asked.reference_id, asked.person_id, asked.unit_id) == (
        requested["fees_request_id"], "move_in", move_in["id"], person["id"], move_in["unit_id"])
    assert [c.item for c in asked.charges] == ["management_fee", "water_electricity_float", "property_deposit"]
    assert step(client, move_in, "inspection", READINGS, TECHNICIAN).status_code == 409

    paid = settlement(requested)
    with running_workers("occupants"):
        # Another purpose, another organization: nothing moves.
        billing_publishes(settlement(requested, purpose="decoration"), settlement(requested, organization_id=ORG_B))
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM inbox WHERE event_type = 'charges.settled.v1'") == 2, what="the stray ones")
        assert state(client, move_in) == "fees_requested"
        # The settlement, the same message delivered again, and a second settlement of the same request.
        billing_publishes(paid, paid, settlement(requested))
        wait_until(lambda: state(client, move_in) == "fees_paid", what="the settlement to unlock the inspection")
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM inbox WHERE event_type = 'charges.settled.v1'") == 4, what="every delivery")
    occupants = databases["occupants"]
    assert occupants.scalar("SELECT count(*) FROM audit_log WHERE entity_id = :id AND action = 'settle_fees'",
                            id=move_in["id"]) == 1
    assert occupants.scalar("SELECT count(*) FROM move_in_records WHERE move_in_id = :id AND kind = "
                            "'move_in_charges'", id=move_in["id"]) == 1

    ok(step(client, move_in, "inspection", READINGS, TECHNICIAN))
    ok(step(client, move_in, "inspection-failure", {"defects": [{"location": "主卫", "description": "地漏堵塞"}]},
            TECHNICIAN))
    ok(step(client, move_in, "rectification"))
    ok(step(client, move_in, "reinspection", headers=TECHNICIAN))
    accepted = ok(step(client, move_in, "acceptance", KEYS, SUPERVISOR))
    assert accepted["state"] == "accepted"
    assert client.get(f"/v1/move-ins/{move_in['id']}", headers=bearer(ORG_B, roles=("site_manager",))).status_code \
        == 404

    [readings] = payloads(databases, MeterOpeningReadingsRecorded)
    assert [(r.meter, r.reading) for r in readings.readings] == [("water", "3.20"), ("electricity", "15.40")]
    [defect] = payloads(databases, RectificationRequested)
    assert (defect.description, defect.inspection_round, defect.reference_id) == ("地漏堵塞", 1, move_in["id"])
    assert defect.due_at.ToDatetime(tzinfo=timezone.utc) > datetime.now(timezone.utc) + timedelta(days=14)
    [greeting] = payloads(databases, MoveInAccepted)
    assert (greeting.person_id, greeting.occupancy_role, [(k.kind, k.count) for k in greeting.keys]) == (
        person["id"], "owner", [("unit_door", 3)])
    assert occupants.scalar("SELECT state FROM units WHERE id = :id", id=move_in["unit_id"]) == "occupied"
    assert occupants.scalar("SELECT role FROM occupancies WHERE unit_id = :id AND person_id = :p",
                            id=move_in["unit_id"], p=person["id"]) == "owner"


def _race(sessions, attempt, hold_first: float = 0.5):
    """Run `attempt(session)` in two transactions at once; the first holds its transaction open a while
    after acting, so the second meets its uncommitted change. Answers each one's outcome."""
    outcomes: list = [None, None]
    acted = threading.Event()

    def run(i):
        try:
            with sessions() as session, session.begin():
                if i == 1:
                    acted.wait(10)
                outcomes[i] = attempt(session)
                if i == 0:
                    acted.set()
                    time.sleep(hold_first)
        except Problem as problem:
            outcomes[i] = problem.status
            acted.set()
        except IntegrityError:
            outcomes[i] = 409  # what the API answers for a constraint clash
            acted.set()

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.fixture
def sessions(platform_env):
    engine = db.make_engine(platform_env["occupants"])
    yield db.make_sessionmaker(engine)
    engine.dispose()


def test_two_requests_racing_on_one_step_take_it_once(occupants_api, databases, demo_site, person, sessions):
    client = occupants_api
    move_in = book(client, demo_site, person)
    for kind in ("id_card", "move_in_notice", "purchase_contract"):
        ok(step(client, move_in, "documents", {"kind": kind}), 201)
    ok(step(client, move_in, "check-in"))
    ok(step(client, move_in, "identity-verification"))
    ok(step(client, move_in, "agreements", {"agreements": AGREEMENTS}))

    def request_fees(session):
        row = session.get(MoveIn, move_in["id"])
        rules.request_fees(session, row, actor="racer", roles={"cs_specialist"})
        return "moved"

    assert sorted(_race(sessions, request_fees), key=str) == [409, "moved"]
    assert state(client, move_in) == "fees_requested"
    assert len(payloads(databases, ChargesRequested)) == 1


def test_two_bookings_racing_for_a_slots_last_place_get_one(occupants_api, demo_site, person, sessions):
    client = occupants_api
    batch = ok(client.post("/v1/move-in-batches", headers=SUPERVISOR, json={
        "site_id": demo_site, "name": "集中入伙", "starts_on": SOON.date().isoformat(),
        "ends_on": SOON.date().isoformat(), "slots": [{"starts_at": SOON.replace(hour=3).isoformat(),
                                                        "ends_at": SOON.replace(hour=5).isoformat(), "capacity": 1}]}),
               201)
    [slot] = batch["slots"]
    units = [make_unit(client, demo_site, n)["id"] for n in ("101", "102")]
    taken = iter(units)

    def book_in_slot(session):
        unit = session.get(Unit, next(taken))
        return rules.book(session, unit, actor="racer", person_id=person["id"], applicant_type="owner",
                          occupancy_role="owner", slot_id=slot["id"]).id

    outcomes = _race(sessions, book_in_slot)
    assert 409 in outcomes and len([o for o in outcomes if o != 409]) == 1
    assert ok(client.get(f"/v1/move-in-batches/{batch['id']}", headers=CS))["slots"][0]["booked"] == 1
    listed = ok(client.get("/v1/move-ins", query_string={"site_id": demo_site, "batch_id": batch["id"]},
                           headers=CS))["items"]
    assert len(listed) == 1


def test_two_bookings_racing_for_one_unit_leave_one_move_in_under_way(occupants_api, demo_site, person, sessions):
    unit_id = make_unit(occupants_api, demo_site, "101")["id"]

    def book_unit(session):
        return rules.book(session, session.get(Unit, unit_id), actor="racer", person_id=person["id"],
                          applicant_type="owner", occupancy_role="owner", appointment_at=SOON).id

    outcomes = _race(sessions, book_unit)
    assert 409 in outcomes and len([o for o in outcomes if o != 409]) == 1
    listed = ok(occupants_api.get("/v1/move-ins", query_string={"site_id": demo_site}, headers=CS))["items"]
    assert [m["unit_id"] for m in listed] == [unit_id]


def settle_directly(sessions, move_in):
    with sessions() as session, session.begin():
        row = session.get(MoveIn, move_in["id"])
        assert rules.settle_fees(session, row, request_id=move_in["fees_request_id"], amount_paid="1.00",
                                 currency="CNY", receipt_numbers=[])


def test_two_schedulers_at_once_add_each_spot_check_once(occupants_api, databases, demo_site, person, sessions):
    client = occupants_api
    for number in ("101", "102", "103"):
        move_in = book(client, demo_site, person, number)
        settle_directly(sessions, to_fees_requested(client, move_in))
        ok(step(client, move_in, "inspection", READINGS, TECHNICIAN))
        ok(step(client, move_in, "acceptance", KEYS, SUPERVISOR))
    now = datetime.now(timezone.utc)
    outcomes = _race(sessions, lambda session: spotchecks.schedule_site(session, demo_site, now))
    assert sorted(outcomes) == [0, 1]
    assert spotchecks.schedule(sessions) == 0
    assert databases["occupants"].count("move_in_spot_checks") == 1

