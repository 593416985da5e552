"""The embedded default: SQLite files and the file bus (`shared/bus/embedded.py`), no broker server."""

import os
import secrets
import signal
import sqlite3
import threading

import pytest
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport import filesystem, virtual
from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import create_engine, text

from services import NAMES
from services.occupants.people.rules import register_person
from services.occupants.places.rules import create_site
from services.occupants.places.tables import Site
from shared import db, tracing
from shared.bus import embedded as file_bus
from shared.bus.connection import connect
from shared.bus.consumer import Handlers, InboxConsumer
from shared.bus.envelope import exchange_name, new_envelope
from shared.bus.publisher import Outgoing, Publisher
from shared.cli import migrate
from shared.config import Settings
from shared.worker import declare_topology
from shared.service import load
from tests.conftest import ORG_A, migrate as migrate_probe, running_workers, start_worker_process, wait_until

PROBE = "tests.support.probe.service"


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    # kombu's file transport remembers declared bindings per process, not per folder; each test has a
    # folder of its own, so each gets a fresh memory (a real process only ever uses one folder).
    monkeypatch.setattr(filesystem.Transport, "global_state", virtual.BrokerState())
    monkeypatch.delenv("BUS_URL", raising=False)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BUS_RETRY_DELAYS", "0.2,0.4")
    monkeypatch.setenv("PROBE_DATABASE_URL", f"sqlite:///{tmp_path}/probe.sqlite3")
    settings = Settings()
    for name in NAMES:
        migrate(load(name), settings)
    migrate_probe(PROBE, settings.database_url_for("probe"))
    with connect(settings) as connection:
        declare_topology(connection, [load(PROBE)], settings.bus_retry_delays)
    return settings


def register(settings: Settings, *names: str) -> None:
    engine = db.make_engine(settings.database_url_for("occupants"))
    with db.make_sessionmaker(engine)() as session, session.begin():
        site = session.query(Site).first() or create_site(session, ORG_A, code="E", name="Embedded")
        for name in names:
            register_person(session, site, registered_by="test", kind="individual", full_name=name,
                                   phone="13800000001")
    engine.dispose()


def rows(settings: Settings, service: str, sql: str):
    engine = create_engine(settings.database_url_for(service))
    with engine.connect() as connection:
        result = connection.execute(text(sql)).all()
    engine.dispose()
    return result


def test_committed_events_survive_a_restart_and_reach_every_read_model(embedded):
    register(embedded, "before-start")  # committed while nothing runs, as after Ctrl-C
    with running_workers("occupants", "ticketing", "notifications", PROBE):
        register(embedded, "while-running")
        wait_until(lambda: len(rows(embedded, "probe", "SELECT person_id FROM effects")) == 2, what="two effects")
        wait_until(lambda: len(rows(embedded, "ticketing", "SELECT person_id FROM reporters")) == 2,
                   what="ticketing's read model")
    register(embedded, "between-runs")
    with running_workers("occupants", "ticketing", PROBE):
        wait_until(lambda: len(rows(embedded, "probe", "SELECT person_id FROM effects")) == 3, what="third effect")
    names = sorted(r.full_name for r in rows(embedded, "probe", "SELECT full_name FROM effects"))
    assert names == ["before-start", "between-runs", "while-running"]


def test_a_delivered_message_stays_on_disk_until_its_ack(tmp_path, monkeypatch):
    monkeypatch.setattr(filesystem.Transport, "global_state", virtual.BrokerState())
    options = file_bus.transport_options(tmp_path)

    def queued() -> list[str]:
        return os.listdir(tmp_path / "queues")

    def held() -> list[str]:
        return [path.name for path in (tmp_path / "held").rglob("*.msg")]

    def take(connection, **kwargs):
        return Queue("q.inbox")(connection.channel()).get(**kwargs)

    with Connection(transport=file_bus.Transport, transport_options=options) as reader:
        Queue("q.inbox", Exchange("x", "topic"), routing_key="k")(reader.channel()).declare()
        for body in ("one", "two", "three"):
            Producer(reader.channel()).publish(body, exchange="x", routing_key="k")
        first = take(reader)
        assert len(held()) == 1 and len(queued()) == 2
        first.requeue()
        assert held() == [] and len(queued()) == 3
        taken = [take(reader) for _ in range(3)]
        assert sorted(message.payload for message in taken) == ["one", "three", "two"]
        for message in taken:
            message.ack()
        assert held() == queued() == []

        Producer(reader.channel()).publish("four", exchange="x", routing_key="k")
        assert take(reader, no_ack=True).payload == "four" and held() == []

        Producer(reader.channel()).publish("five", exchange="x", routing_key="k")
        assert take(reader).payload == "five" and len(held()) == 1
        with Connection(transport=file_bus.Transport, transport_options=options) as other:
            assert take(other) is None  # held by a live process (this one): not put back
    assert len(queued()) == 1 and held() == []  # a clean close put it back


def test_a_worker_killed_with_sigkill_loses_none_of_the_deliveries_it_held(embedded):
    """The probe's worker takes deliveries, cannot commit them (the test holds its database's write lock),
    and is killed; the next one to start handles every event once."""
    register(embedded, *[f"held-{i}" for i in range(20)])
    queued = embedded.var_dir / "bus" / "queues"

    def waiting() -> int:
        return sum(name.endswith(".probe.inbox.msg") for name in os.listdir(queued))

    lock = sqlite3.connect(embedded.database_url_for("probe").removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    with running_workers("occupants"):
        wait_until(lambda: waiting() == 20, what="the relay to publish every event")
        worker = start_worker_process(PROBE, 9302)
        try:
            wait_until(lambda: waiting() < 20, what="the probe's worker to take deliveries")
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        lock.execute("ROLLBACK")
        lock.close()
        worker = start_worker_process(PROBE, 9302)
        try:
            wait_until(lambda: rows(embedded, "probe", "SELECT count(*) FROM effects")[0][0] >= 20, timeout=60,
                       what="20 effects")
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    assert rows(embedded, "probe", "SELECT count(*), count(DISTINCT person_id) FROM effects") == [(20, 20)]


def test_retries_wait_their_delay_without_a_broker_ttl_then_dead_letter(embedded):
    with running_workers("occupants", PROBE):
        register(embedded, "FAIL-embedded")
        wait_until(lambda: rows(embedded, "probe", "SELECT count(*) FROM inbox")[0][0] == 0 and _dead(embedded),
                   timeout=20, what="the message to reach the embedded dead letters")
    assert rows(embedded, "probe", "SELECT count(*) FROM effects")[0][0] == 0


def _dead(settings: Settings) -> bool:
    from shared.bus.parking import list_dead_letters

    with connect(settings) as connection:
        letters = list_dead_letters(connection, load(PROBE).subscription(settings.bus_retry_delays))
    return [letter.attempts for letter in letters] == [3]


def test_where_nothing_records_spans_a_batch_handler_runs_in_the_trace_of_its_last_event(embedded, monkeypatch):
    """Only the last event's context is made current then, which is what nesting all of them gave."""
    monkeypatch.setattr(tracing, "recording", lambda: False)
    calls = []
    handlers = Handlers("probe")

    @handlers.on_batch(PersonRegistered)
    def remember(session, events):
        calls.append(([e.payload.full_name for e in events], tracing.current_trace_headers()["traceparent"],
                      tracing.correlation_id()))

    probe = load(PROBE)
    engine = db.make_engine(embedded.database_url_for("probe"))
    consumer = InboxConsumer(handlers, probe.subscription(embedded.bus_retry_delays), db.make_sessionmaker(engine),
                             probe.tables.inbox, batch_size=10, prefetch=10, linger_seconds=0.5)
    writers = {f"p{i}": (f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00", f"c{i}") for i in range(4)}
    envelopes = [new_envelope(PersonRegistered(person_id=name, full_name=name), organization_id=ORG_A,
                              correlation_id=correlation) for name, (_, correlation) in writers.items()]
    stop = threading.Event()
    with connect(embedded) as connection:
        Publisher(connection).publish([
            Outgoing(e.id, exchange_name("occupants"), e.type, e.SerializeToString(), {"traceparent": writers[name][0]})
            for e, name in zip(envelopes, writers)])
        thread = threading.Thread(target=consumer.consume, args=(connection, stop), daemon=True)
        thread.start()
        try:
            wait_until(lambda: sum(len(names) for names, _, _ in calls) == len(writers), what="every event handled")
        finally:
            stop.set()
            thread.join(timeout=10)
    engine.dispose()
    assert sorted(name for names, _, _ in calls for name in names) == list(writers)  # the file bus keeps no order
    assert [(traceparent, correlation) for _, traceparent, correlation in calls] == [
        writers[names[-1]] for names, _, _ in calls]
