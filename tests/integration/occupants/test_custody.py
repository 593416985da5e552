"""Custody on PostgreSQL: racing requests settle on one agreement and one alert, the unique live-agreement
index holds, and every event reaches the bus through the relay."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection, Exchange, Queue
from psp.events.v1.envelope_pb2 import Envelope
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared import auth
from shared.bus.envelope import exchange_name
from shared.config import Settings
from tests.conftest import ORG_A, SECRET, running_workers, wait_until

pytestmark = pytest.mark.integration


def who(subject: str, **site_roles) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=ORG_A, roles=[],
                      sites=[], site_roles=site_roles.get("at", {}))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def site_staff(demo_site):
    manager = who("manager", at={demo_site: ["site_manager"]})
    return manager, who("clerk", at={demo_site: ["cs_specialist"]}), who("wang", at={demo_site: ["steward"]})


@pytest.fixture
def unit_and_owner(occupants_api, demo_site, site_staff):
    manager = site_staff[0]
    building = occupants_api.post(f"/v1/sites/{demo_site}/buildings", headers=manager,
                                  json={"code": "A", "name": "Tower A"}).get_json()
    units = [occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=manager, json={
        "number": number, "floor": 1, "kind": "residence", "state": state, "floor_area_m2": "89.50"}).get_json()
        for number, state in (("101", "vacant"), ("102", "occupied"), ("103", "occupied"))]
    owner = occupants_api.post("/v1/persons", headers=manager, json={
        "site_id": demo_site, "full_name": "陈静", "phone": "13900000001"}).get_json()
    return building, units, owner


@pytest.fixture
def listener(bus_url):
    """A queue bound to the custody and patrol plan events, as ticketing or billing would bind one."""
    with Connection(bus_url) as connection:
        exchange = Exchange(exchange_name("occupants"), type="topic", durable=True)
        queue = Queue("test.custody-listener", exchange=exchange, routing_key="custody.#",
                      auto_delete=False)(connection.default_channel)
        queue.declare()
        queue.bind_to(exchange, routing_key="patrol_plan.#")
        queue.purge()
        yield queue
        queue.delete()


def received(queue) -> list[str]:
    types = []
    while (message := queue.get(no_ack=True)) is not None:
        types.append(Envelope.FromString(message.body).type)
    return types


def agreement_body(unit, owner):
    return {"unit_id": unit["id"], "owner_id": owner["id"], "starts_on": "2027-01-01", "ends_on": "2027-12-31",
            "keys_held": 1, "water_start": "10.00", "electricity_start": "500.00"}


def test_racing_starts_give_one_agreement_and_racing_readings_one_alert(occupants_api, unit_and_owner,
                                                                        site_staff, databases):
    _, (unit, *_), owner = unit_and_owner
    clerk = site_staff[1]
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: occupants_api.post("/v1/custody-agreements", headers=clerk,
                                                                json=agreement_body(unit, owner)).status_code,
                                   range(4)))
    assert statuses == [201, 409, 409, 409]
    occupants = databases["occupants"]
    agreement_id = occupants.scalar("SELECT id FROM custody_agreements WHERE unit_id = :u", u=unit["id"])

    def over_limit(value):
        return occupants_api.post(f"/v1/custody-agreements/{agreement_id}/readings", headers=clerk,
                                  json={"meter": "water", "reading": value}).status_code

    with ThreadPoolExecutor(4) as pool:
        # Some may come after a higher one and be refused as lower; every one that lands is over the limit.
        outcomes = list(pool.map(over_limit, ["16.00", "17.00", "18.00", "19.00"]))
    assert set(outcomes) <= {201, 422} and 201 in outcomes
    assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = 'custody.meter_limit_exceeded.v1'") == 1
    assert occupants.scalar("SELECT count(*) FROM custody_readings WHERE agreement_id = :a",
                            a=agreement_id) == outcomes.count(201)


def test_the_database_refuses_a_second_live_agreement(occupants_api, unit_and_owner, site_staff, databases):
    _, (unit, *_), owner = unit_and_owner
    created = occupants_api.post("/v1/custody-agreements", headers=site_staff[1], json=agreement_body(unit, owner))
    assert created.status_code == 201
    with pytest.raises(IntegrityError), databases["occupants"].engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO custody_agreements SELECT gen_random_uuid()::text, organization_id, site_id, unit_id, "
            "owner_id, state, starts_on, ends_on, keys_held, water_start, electricity_start, fee_rate, NULL, NULL, "
            "NULL, created_by, created_at FROM custody_agreements"))


def test_custody_events_reach_the_bus(occupants_api, demo_site, unit_and_owner, site_staff, databases, listener):
    _, (vacant, *_), owner = unit_and_owner
    clerk = site_staff[1]
    agreement = occupants_api.post("/v1/custody-agreements", headers=clerk,
                                   json=agreement_body(vacant, owner)).get_json()
    occupants_api.post(f"/v1/custody-agreements/{agreement['id']}/readings", headers=clerk,
                       json={"meter": "electricity", "reading": "520.01"})
    start = datetime.now(timezone.utc) + timedelta(hours=3)
    rain = occupants_api.post(f"/v1/sites/{demo_site}/heavy-rain-warnings", headers=clerk, json={
        "expected_start": start.isoformat(), "expected_end": (start + timedelta(hours=5)).isoformat()})
    assert rain.get_json()["unit_ids"] == [vacant["id"]]
    ended = occupants_api.post(f"/v1/custody-agreements/{agreement['id']}/end", headers=clerk,
                               json={"ended_on": "2027-02-01", "reason": "业主回国"})
    assert ended.get_json()["state"] == "ended"
    assert databases["occupants"].scalar("SELECT state FROM units WHERE id = :u", u=vacant["id"]) == "vacant"

    occupants = databases["occupants"]
    with running_workers("occupants"):
        wait_until(lambda: occupants.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL AND "
                                            "(event_type LIKE 'custody.%' OR event_type LIKE 'patrol_plan.%')") == 0,
                   what="custody events relayed")
    assert sorted(received(listener)) == sorted([
        "custody.started.v1", "patrol_plan.published.v1", "custody.meter_limit_exceeded.v1",
        "patrol_plan.published.v1", "patrol_plan.published.v1", "custody.ended.v1", "patrol_plan.withdrawn.v1"])


def test_workers_expiring_at_once_end_each_lapsed_agreement_once(occupants_api, demo_site, site_staff, databases,
                                                                  platform_env):
    from services.occupants.custody.rules import expire_due
    from shared import db

    manager, clerk, _ = site_staff
    building = occupants_api.post(f"/v1/sites/{demo_site}/buildings", headers=manager,
                                  json={"code": "L", "name": "Lapsed"}).get_json()
    owner = occupants_api.post("/v1/persons", headers=manager, json={
        "site_id": demo_site, "full_name": "周丽", "phone": "13900000009"}).get_json()
    for number in range(5):
        unit = occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=manager, json={
            "number": f"L{number}", "floor": 1, "kind": "residence", "floor_area_m2": "70.00"}).get_json()
        body = {**agreement_body(unit, owner), "starts_on": "2026-01-01", "ends_on": "2026-03-31"}
        assert occupants_api.post("/v1/custody-agreements", headers=clerk, json=body).status_code == 201

    engine = db.make_engine(platform_env["occupants"])
    try:
        sessions = db.make_sessionmaker(engine)
        with ThreadPoolExecutor(3) as pool:
            ended = list(pool.map(lambda batch: expire_due(sessions, batch=batch), [2, 2, 2]))
        ended.append(expire_due(sessions))
    finally:
        engine.dispose()
    assert sum(ended) == 5
    occupants = databases["occupants"]
    assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = 'custody.ended.v1'") == 5
    assert occupants.scalar("SELECT count(*) FROM units WHERE building_id = :b AND state = 'vacant'",
                            b=building["id"]) == 5
