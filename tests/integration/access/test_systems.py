"""Registered access-control systems on PostgreSQL and RabbitMQ: pass.revoked committed through access's outbox,
relayed over the broker, consumed by access's own worker and pushed by its job to reference controllers
(real HTTP servers) and to a Hikvision device simulator whose events the worker reads back; failures, 429 and
410 on the way; and two pushers racing over the same changes."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from psp.access.v1.passes_pb2 import PassIssued, PassRevoked
from sqlalchemy import select

from services.access.models import chassis
from services.access.systems import rules, sync
from services.access.systems.tables import AccessSystem, DoorEvent, SyncState
from shared import db
from shared.bus import outbox
from tests.conftest import ORG_A, RETRY_DELAYS, migrate, running_workers, wait_until
from tests.support.access.controller import ReferenceController
from tests.support.access.hikvision import HikvisionDevice

pytestmark = pytest.mark.integration

SITE = str(uuid.uuid4())
FRONT_DOOR = str(uuid.uuid4())


@pytest.fixture
def access_db(monkeypatch, pg_database, bus_url):
    """Access's database on PostgreSQL and its queues on RabbitMQ; the environment its worker reads."""
    url = pg_database("access")
    migrate("access", url, bus_url)
    for name, value in (("ACCESS_DATABASE_URL", url), ("BUS_URL", bus_url), ("BUS_RETRY_DELAYS", RETRY_DELAYS)):
        monkeypatch.setenv(name, value)
    engine = db.make_engine(url)
    yield db.make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def controllers():
    started = []

    def start(count: int = 1) -> list[ReferenceController]:
        for _ in range(count):
            controller = ReferenceController()
            controller.start()
            started.append(controller)
        return started[-count:]

    yield start
    for controller in started:
        controller.stop()


def register(sessions, controller: ReferenceController) -> str:
    with sessions() as session, session.begin():
        system, controller.secret = rules.register(
            session, organization_id=ORG_A, site_id=SITE, name="Lobby controller", adapter="webhook",
            base_url=controller.url, username="", password="", time_zone="Asia/Shanghai",
            doors=[{"door_id": FRONT_DOOR, "system_door_id": "front"}], actor="test")
        return system.id


def issued(credential: str) -> PassIssued:
    event = PassIssued(pass_id=str(uuid.uuid4()), site_id=SITE, kind="resident", holder_name="张伟",
                       credential=credential, credential_kind="card", door_ids=[FRONT_DOOR])
    now = datetime.now(timezone.utc)
    event.valid_from.FromDatetime(now - timedelta(hours=1))
    event.valid_until.FromDatetime(now + timedelta(days=30))
    return event


def publish(sessions, *payloads) -> None:
    """What the passes capability does on an issue or a revocation: the event in access's outbox, committed."""
    with sessions() as session, session.begin():
        outbox.record_many(session, chassis.outbox, list(payloads), organization_id=ORG_A)


def revocation_of(grant: PassIssued) -> PassRevoked:
    return PassRevoked(pass_id=grant.pass_id, site_id=SITE, credential=grant.credential, credential_kind="card",
                       reason="moved_out")


def rows(sessions, system_id: str) -> list[SyncState]:
    with sessions() as session:
        return session.scalars(select(SyncState).where(SyncState.system_id == system_id)).all()


def test_a_revocation_reaches_every_registered_system(access_db, controllers):
    reference = controllers(3)
    systems = [register(access_db, controller) for controller in reference]
    grant = issued("CARD-1001")
    with running_workers("access"):
        publish(access_db, grant)
        wait_until(lambda: all("CARD-1001" in c.allow_list for c in reference), what="the grant on every system")
        assert all(c.allows("CARD-1001", "front") for c in reference)
        publish(access_db, revocation_of(grant))
        wait_until(lambda: all("CARD-1001" not in c.allow_list for c in reference),
                   what="the revocation on every system")
        wait_until(lambda: all(row.state == "acknowledged" and row.action == "revoke"
                               for system_id in systems for row in rows(access_db, system_id)),
                   what="every system's revocation acknowledged")
    assert not any(c.allows("CARD-1001", "front") for c in reference)
    assert [len(c.applied) for c in reference] == [2, 2, 2]
    assert [c.refused for c in reference] == [[], [], []]


def test_a_failing_system_retries_with_backoff_and_recovers(access_db, controllers):
    [healthy, failing] = controllers(2)
    register(access_db, healthy)
    failing_id = register(access_db, failing)
    failing.answers.extend([503, 503, 500])
    with running_workers("access"):
        publish(access_db, issued("CARD-2002"))
        wait_until(lambda: "CARD-2002" in healthy.allow_list, what="the healthy system served")
        wait_until(lambda: "CARD-2002" in failing.allow_list, timeout=60, what="the failing system recovered")
        wait_until(lambda: rows(access_db, failing_id)[0].state == "acknowledged", what="acknowledged")
    [row] = rows(access_db, failing_id)
    assert row.attempts == 4
    assert [status for _, status in failing.answered] == [503, 503, 500, 204]
    with access_db() as session:
        trail = session.execute(select(chassis.audit_log.c.to_state, chassis.audit_log.c.reason).where(
            chassis.audit_log.c.entity == "access_sync", chassis.audit_log.c.entity_id == row.id)
            .order_by(chassis.audit_log.c.id)).all()
    assert [tuple(entry) for entry in trail] == [("failed", "HTTP 503"), ("failed", "HTTP 503"),
                                                 ("failed", "HTTP 500"), ("acknowledged", "")]


def test_a_410_disables_the_endpoint_and_nothing_more_is_sent_to_it(access_db, controllers):
    [gone] = controllers(1)
    system_id = register(access_db, gone)
    gone.answers.append(410)
    with running_workers("access"):
        publish(access_db, issued("CARD-3003"))
        wait_until(lambda: access_db().get(AccessSystem, system_id).state == "disabled", what="the system disabled")
        publish(access_db, issued("CARD-3004"))
        wait_until(lambda: len(rows(access_db, system_id)) == 2, what="the second change recorded")
    assert [status for _, status in gone.answered] == [410]
    assert {row.state for row in rows(access_db, system_id)} == {"failed", "pending"}


def test_a_429_waits_for_retry_after_before_sending_again(access_db, controllers):
    [busy] = controllers(1)
    system_id = register(access_db, busy)
    busy.answers.append(429)
    busy.retry_after = "2"
    with running_workers("access"):
        publish(access_db, issued("CARD-4004"))
        wait_until(lambda: "CARD-4004" in busy.allow_list, what="the change taken after the wait")
    [(throttled_at, first), (taken_at, second)] = busy.answered
    assert (first, second) == (429, 204)
    assert taken_at - throttled_at >= 1.9
    assert rows(access_db, system_id)[0].attempts == 1  # a 429 is not a failed attempt


def test_two_pushers_racing_over_the_same_changes_push_each_once(access_db, controllers):
    reference = controllers(2)
    for controller in reference:
        register(access_db, controller)
    with access_db() as session, session.begin():
        rules.record_changes(session, ORG_A, [
            {"action": "grant", "pass_id": str(uuid.uuid4()), "site_id": SITE, "credential": f"RACE-{i:04d}",
             "changed_at": datetime.now(timezone.utc),
             "grant": {"credential_kind": "card", "holder_name": "", "door_ids": [FRONT_DOOR], "max_uses": 0,
                       "valid_from": datetime.now(timezone.utc).isoformat(),
                       "valid_until": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}}
            for i in range(300)])
    pushed = []
    barrier = threading.Barrier(2)

    def pusher():
        barrier.wait()
        pushed.append(sync.push_due(access_db))

    threads = [threading.Thread(target=pusher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(pushed) == 600
    for controller in reference:
        assert len(controller.applied) == 300 and controller.replays == 0
        assert len({event["id"] for _, event in controller.applied}) == 300


def test_a_hikvision_device_gets_the_card_and_its_entries_are_read_back_by_the_worker(access_db):
    device = HikvisionDevice()
    device.start()
    try:
        with access_db() as session, session.begin():
            system, _ = rules.register(
                session, organization_id=ORG_A, site_id=SITE, name="Car park terminal", adapter="hikvision",
                base_url=device.url, username=device.username, password=device.password, time_zone="Asia/Shanghai",
                doors=[{"door_id": FRONT_DOOR, "system_door_id": "1"}], actor="test")
        grant = issued("3305567890")
        with running_workers("access"):
            publish(access_db, grant)
            wait_until(lambda: "3305567890" in device.cards, what="the card on the device")
            device.swipe("3305567890", 1, reader=1)
            device.swipe("3305567890", 1, reader=2)
            wait_until(lambda: len(access_db().scalars(select(DoorEvent)).all()) == 2, timeout=20,
                       what="the device's events read back")
            publish(access_db, revocation_of(grant))
            wait_until(lambda: device.cards == {} and device.users == {}, what="the card and person deleted")
        with access_db() as session:
            events = session.scalars(select(DoorEvent).order_by(DoorEvent.serial_no)).all()
            assert [(e.pass_id, e.door_id, e.direction, e.outcome) for e in events] == [
                (grant.pass_id, FRONT_DOOR, "entry", "granted"), (grant.pass_id, FRONT_DOOR, "exit", "granted")]
            assert session.get(AccessSystem, system.id).last_event_serial == 2
    finally:
        device.stop()
