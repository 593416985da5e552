"""The fast paths of the bus keep its promises: batch handlers, one-statement read models, relay wake-up."""

import threading
from datetime import datetime, timezone

import pytest
from prometheus_client import REGISTRY
from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from services.notifications.models import Base as NotificationsBase
from services.notifications.models import Recipient
from services.ticketing.models import Base as TicketingBase
from services.ticketing.models import chassis as ticketing_chassis
from services.ticketing.people.tables import Reporter
from shared import bulk, db
from shared.bus.connection import connect
from shared.bus.consumer import Handlers, InboxConsumer
from shared.config import Settings
from shared.readmodel import upsert
from tests.conftest import running_workers, wait_until
from tests.integration.conftest import (
    PROBE, assert_exactly_once, dead_letter_count, queue_burst_with_one_failing_event,
)
from tests.support.probe import service as probe

pytestmark = pytest.mark.integration


def test_a_failing_batch_handler_is_redone_one_message_at_a_time(writer, databases, platform_env):
    """The burst reaches the batch handler in batches; when one event in them fails, the others are
    still handled exactly once and only the failing one goes on to retries and the dead letters."""
    queue_burst_with_one_failing_event(writer, databases)

    calls: list[list[str]] = []
    batched = Handlers("probe")

    @batched.on_batch(PersonRegistered)
    def count_effects(session, events):
        calls.append([event.payload.full_name for event in events])
        for event in events:
            probe.count_effect(session, event)

    settings = Settings()
    engine = db.make_engine(platform_env["probe"])
    consumer = InboxConsumer(batched, probe.SERVICE.subscription(settings.bus_retry_delays),
                             db.make_sessionmaker(engine), probe.chassis.inbox, batch_size=128, prefetch=256)
    stop = threading.Event()
    with connect(settings) as connection:
        thread = threading.Thread(target=consumer.consume, args=(connection, stop), daemon=True)
        thread.start()
        try:
            assert_exactly_once(databases, 20)
            wait_until(lambda: dead_letter_count() == 1, timeout=30, what="the failing event in the dead letters")
        finally:
            stop.set()
            thread.join(timeout=15)
    engine.dispose()
    assert max(len(call) for call in calls) > 1, "the burst should reach the handler in batches"
    # Each delivery of the failing event: tried with its batch (alone, on a retry), then redone in isolation.
    assert sum("FAIL-0" in call for call in calls) == 2 * consumer.subscription.max_attempts


@pytest.fixture(params=["postgresql", "sqlite"])
def read_model_sessions(request, platform_env, tmp_path):
    """Sessions on a service's migrated PostgreSQL database, or on a fresh SQLite file: service -> sessionmaker."""
    engines = []

    def sessions(service: str, base) -> sessionmaker:
        if request.param == "postgresql":
            engine = db.make_engine(platform_env[service])
        else:
            engine = db.make_engine(f"sqlite:///{tmp_path / service}.db")
            base.metadata.create_all(engine)
        engines.append(engine)
        return db.make_sessionmaker(engine)

    yield sessions
    for engine in engines:
        engine.dispose()


def test_a_read_model_batch_holding_one_key_twice_keeps_the_later_row(read_model_sessions):
    """One INSERT .. ON CONFLICT cannot touch a row twice, so the upsert must fold a batch by key, in order."""
    sessions = read_model_sessions("ticketing", TicketingBase)
    now = datetime.now(timezone.utc)

    def reporter(person_id: str, full_name: str) -> dict:
        return {"person_id": person_id, "organization_id": "org", "full_name": full_name, "phone": "1",
                "site_id": "site", "updated_at": now}

    with sessions() as session, session.begin():
        upsert(session, Reporter.__table__, [reporter("p1", "Old"), reporter("p2", "Other")], key=("person_id",))
    with sessions() as session, session.begin():
        upsert(session, Reporter.__table__, [reporter("p1", "First"), reporter("p3", "New"), reporter("p1", "Last")],
               key=("person_id",))
    with sessions() as session:
        names = dict(session.execute(select(Reporter.person_id, Reporter.full_name)).all())
    assert names == {"p1": "Last", "p2": "Other", "p3": "New"}


def test_a_bulk_written_row_reads_back_exactly_as_given(read_model_sessions):
    """On PostgreSQL the batch travels as JSON: text, lists, nulls and instants must survive the round trip."""
    sessions = read_model_sessions("notifications", NotificationsBase)
    rows = [
        {"person_id": "p1", "organization_id": "org", "full_name": '王小明 "Xiao\\Ming"\n', "phone": "+86 138",
         "email": "", "language": "zh-CN", "channels": ["sms", "app"],
         "updated_at": datetime(2026, 11, 22, 9, 30, 1, 123456, tzinfo=timezone.utc)},
        {"person_id": "p2", "organization_id": "org", "full_name": "Ann O'Neil", "phone": "", "email": "a@b.cn",
         "language": "en", "channels": [], "updated_at": datetime(2026, 1, 1, tzinfo=timezone.utc)},
    ]
    with sessions() as session, session.begin():
        upsert(session, Recipient.__table__, rows, key=("person_id",))
    with sessions() as session:
        stored = {r.person_id: r for r in session.scalars(select(Recipient))}
    for row in rows:
        got = stored[row["person_id"]]
        assert {name: getattr(got, name) for name in row if name != "updated_at"} == \
            {name: value for name, value in row.items() if name != "updated_at"}
        assert db.aware(got.updated_at) == row["updated_at"]


def test_an_inbox_claim_answers_only_the_ids_not_seen_before(read_model_sessions):
    """The consumer's duplicate check: one statement that writes the new ids and names them."""
    sessions = read_model_sessions("ticketing", TicketingBase)

    def rows(*ids: str) -> list[dict]:
        return [{"message_id": i, "event_type": "person.registered.v1", "handled_at": datetime.now(timezone.utc)}
                for i in ids]

    with sessions() as session, session.begin():
        assert bulk.insert_new(session, ticketing_chassis.inbox, rows("m1", "m2"), key="message_id") == {"m1", "m2"}
    with sessions() as session, session.begin():
        assert bulk.insert_new(session, ticketing_chassis.inbox, rows("m2", "m3", "m1"), key="message_id") == {"m3"}
        assert bulk.insert_new(session, ticketing_chassis.inbox, [], key="message_id") == set()
    with sessions() as session:
        stored = session.scalars(select(ticketing_chassis.inbox.c.message_id)).all()
    assert sorted(stored) == ["m1", "m2", "m3"]


def test_a_second_consumer_claiming_the_same_message_waits_for_the_first_and_sees_a_duplicate(platform_env):
    """Two replicas holding one redelivered message: the inbox lets exactly one of them handle it."""
    engine = db.make_engine(platform_env["ticketing"])
    sessions = db.make_sessionmaker(engine)
    row = [{"message_id": "contested", "event_type": "person.registered.v1", "handled_at": datetime.now(timezone.utc)}]
    second: list[set] = []
    with sessions() as first, first.begin():
        assert bulk.insert_new(first, ticketing_chassis.inbox, row, key="message_id") == {"contested"}

        def claim_again():
            with sessions() as session, session.begin():
                second.append(bulk.insert_new(session, ticketing_chassis.inbox, row, key="message_id"))

        rival = threading.Thread(target=claim_again)
        rival.start()
        rival.join(timeout=1)
        assert rival.is_alive(), "the second claim should wait for the first transaction"
    rival.join(timeout=10)
    engine.dispose()
    assert second == [set()]


def test_a_committed_event_wakes_an_idle_relay_long_before_its_next_poll(writer, databases):
    """With a ten-minute poll, only PostgreSQL's NOTIFY can get the second event published within the test."""
    def published() -> int:
        return databases["occupants"].scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL "
                                             "AND event_type = 'person.registered.v1'")

    with running_workers("occupants", OUTBOX_POLL_SECONDS="600"):
        writer(1, prefix="first")
        wait_until(lambda: published() == 1, timeout=30, what="the first event published")
        writer(1, prefix="second")  # the relay has found the outbox empty by now and is waiting
        wait_until(lambda: published() == 2, timeout=30, what="the second event published")


def test_events_published_again_after_a_relay_crash_change_nothing(writer, databases):
    """A relay that dies between publishing and marking sends its batch again: the inbox absorbs it."""
    writer(15, prefix="twice")
    with running_workers("occupants", PROBE):
        assert_exactly_once(databases, 15)
        before = handled_outcomes().get("duplicate", 0)
        with databases["occupants"].engine.begin() as connection:  # as if the marks had never committed
            connection.execute(text("UPDATE outbox SET published_at = NULL"))
        wait_until(lambda: handled_outcomes().get("duplicate", 0) >= before + 15, what="15 duplicates seen")
    assert_exactly_once(databases, 15)


def handled_outcomes() -> dict[str, float]:
    """The probe consumer's bus_events_handled_total by outcome (in-process workers share this registry)."""
    outcomes: dict[str, float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "bus_events_handled_total" and sample.labels.get("service") == "probe":
                outcomes[sample.labels["outcome"]] = outcomes.get(sample.labels["outcome"], 0) + sample.value
    return outcomes
