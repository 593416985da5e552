"""No data lost, no effect twice: broker restarts, killed consumers, outages and poison messages.

The probe consumer's `effects` table has no unique key, so handling one event twice would show as a
second row: every test counts effects, not just rows that an upsert would hide.
"""

import logging
import os
import signal
import threading
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from shared import db
from shared.bus.connection import connect
from shared.bus.parking import list_dead_letters, replay_dead_letters
from shared.config import Settings
from shared.service import load
from tests.conftest import bearer, occupants_client, running_workers, start_worker_process, wait_until
from tests.integration.conftest import (
    PROBE, assert_exactly_once, dead_letter_count, effects, queue_burst_with_one_failing_event,
)
from tests.support.scratch import rabbitmqctl
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

def test_broker_restarted_mid_stream_loses_nothing_and_doubles_nothing(writer, databases):
    count = 300
    with running_workers("occupants", PROBE):
        def restart_broker_once(i):
            if i == 100:
                rabbitmqctl("stop_app")
            if i == 140:
                rabbitmqctl("start_app")

        writer(count, on_each=restart_broker_once)
        assert_exactly_once(databases, count)


def test_idle_workers_keep_their_broker_connections_through_the_heartbeat_interval(writer, databases, caplog):
    """The broker drops a connection that stays silent for two heartbeat intervals, as an idle relay's and
    an idle consumer's would, and the worker would then log the failure and reconnect. Five intervals of
    silence; an interval of 2 s leaves room for a loaded machine's scheduling stalls."""
    with running_workers("occupants", PROBE, BUS_HEARTBEAT_SECONDS=2):
        time.sleep(10)
        writer(1)
        assert_exactly_once(databases, 1)
    dropped = [r.getMessage() for r in caplog.records if r.name.startswith("shared.") and r.levelno >= logging.WARNING]
    assert dropped == []


def test_consumer_killed_with_sigkill_mid_stream_loses_nothing_and_doubles_nothing(writer, databases):
    count = 600
    with running_workers("occupants"):
        consumer = start_worker_process(PROBE, 9301)
        try:
            feeding = threading.Thread(target=writer, args=(count,))
            feeding.start()
            wait_until(lambda: effects(databases)[0] >= 100, timeout=60, what="the consumer to get going")
            os.kill(consumer.pid, signal.SIGKILL)
            consumer.wait()
            consumer = start_worker_process(PROBE, 9301)
            feeding.join()
            assert_exactly_once(databases, count)
        finally:
            consumer.terminate()
            consumer.wait(timeout=20)


def test_writes_succeed_while_the_broker_is_down_and_their_events_flow_after(occupants_api, demo_site, databases):
    with running_workers("occupants", PROBE):
        rabbitmqctl("stop_app")
        try:
            for i in range(5):
                response = occupants_api.post("/v1/persons", headers=bearer(),
                                              json={"site_id": demo_site, "full_name": f"offline-{i}", "phone": "13800000001"})
                assert response.status_code == 201
            ready = occupants_api.get("/readyz").get_json()
            assert ready["ready"] is True and ready["checks"]["broker"]["ok"] is False
            assert databases["occupants"].scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL "
                                                 "AND event_type = 'person.registered.v1'") == 5
        finally:
            rabbitmqctl("start_app")
        assert_exactly_once(databases, 5)


def test_failing_handler_is_dead_lettered_counted_and_replayed_after_a_fix(writer, databases):
    settings = Settings()
    subscription = load(PROBE).subscription(settings.bus_retry_delays)

    def dead_lettered():
        return REGISTRY.get_sample_value("bus_dead_lettered_total",
                                         {"service": "probe", "event_type": "person.registered.v1"}) or 0

    before = dead_lettered()
    with running_workers("occupants", PROBE):
        writer(1, prefix="FAIL")
        wait_until(lambda: dead_lettered() == before + 1, timeout=30, what="the message to be dead-lettered")
        assert effects(databases) == (0, 0)
        with connect(settings) as connection:
            letters = list_dead_letters(connection, subscription)
            assert [(d.event_type, d.attempts) for d in letters] == [("person.registered.v1", 3)]
            assert "probe handler fault" in letters[0].error

            with databases["probe"].engine.begin() as fix:
                fix.execute(text("INSERT INTO switches (name, \"on\") VALUES ('fixed', true)"))
            replayed = replay_dead_letters(connection, subscription)
            assert [d.message_id for d in replayed] == [letters[0].message_id]
        assert_exactly_once(databases, 1)
        with connect(settings) as connection:
            assert list_dead_letters(connection, subscription) == []


def test_database_down_answers_503_then_recovers_without_a_restart(platform_env, monkeypatch):
    proxy = TcpProxy(5432)
    proxy.start()
    monkeypatch.setenv("OCCUPANTS_DATABASE_URL",
                       platform_env["occupants"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    try:
        with occupants_client() as client:
            assert client.get("/v1/sites", headers=bearer()).status_code == 200
            proxy.stop()
            down = client.get("/v1/sites", headers=bearer())
            assert down.status_code == 503
            assert down.mimetype == "application/problem+json"
            assert down.headers["Retry-After"]
            refused = client.post("/v1/sites", headers=bearer(roles=("property_manager",)),
                                  json={"code": "X", "name": "X"})
            assert refused.status_code == 503
            assert client.get("/readyz").status_code == 503
            assert client.get("/livez").status_code == 200
            proxy.start()
            wait_until(lambda: client.get("/v1/sites", headers=bearer()).status_code == 200, timeout=15,
                       what="recovery")
            assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()


def test_a_pooled_connection_cut_while_idle_is_replaced_before_the_next_request(platform_env, monkeypatch):
    """The database restarted while the API was quiet: the first request after it is answered, not 503."""
    proxy = TcpProxy(5432)
    proxy.start()
    monkeypatch.setenv("OCCUPANTS_DATABASE_URL",
                       platform_env["occupants"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    try:
        with occupants_client() as client:
            assert client.get("/v1/sites", headers=bearer()).status_code == 200
            proxy.stop()  # drops the pooled connection's socket
            proxy.start()
            time.sleep(db.ALIVE_BYPASS_SECONDS + 0.2)
            assert client.get("/v1/sites", headers=bearer()).status_code == 200
    finally:
        proxy.stop()


def test_worker_databases_cut_mid_stream_lose_nothing_and_double_nothing(writer, databases, platform_env,
                                                                         monkeypatch, caplog):
    """The relay's and the consumer's databases go away together while events keep being written (by a
    writer that still reaches its own), then come back: the workers recover without a restart."""
    proxies = {name: TcpProxy(5432) for name in ("occupants", "probe")}
    for name, proxy in proxies.items():
        proxy.start()
        monkeypatch.setenv(f"{name.upper()}_DATABASE_URL",
                           platform_env[name].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    count = 200

    def cut_for_a_while(i):
        if i == 60:
            for proxy in proxies.values():
                proxy.stop()
        if i == 100:
            time.sleep(3)
            for proxy in proxies.values():
                proxy.start()

    try:
        with running_workers("occupants", PROBE):
            writer(count, on_each=cut_for_a_while)
            assert_exactly_once(databases, count)
    finally:
        for proxy in proxies.values():
            proxy.stop()
    logged = {r.getMessage().split(";")[0] for r in caplog.records if r.name.startswith("shared.")}
    assert {"database unreachable", "outbox relay failed"} <= logged  # both workers met the outage


def test_one_failing_message_does_not_undo_its_batch_neighbours(writer, databases):
    queue_burst_with_one_failing_event(writer, databases)
    with running_workers(PROBE):
        assert_exactly_once(databases, 20)
        wait_until(lambda: dead_letter_count() == 1, timeout=30, what="the poison message in the dead letters")
