"""Fixtures: a fresh RabbitMQ vhost and fresh PostgreSQL databases per run, apps and workers on them."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared import auth, migrations
from shared.config import Settings
from shared.service import load
from tests.support import scratch

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-with-enough-bytes-for-hs256"
ORG_A = "0a000000-0000-4000-8000-00000000000a"
ORG_B = "0b000000-0000-4000-8000-00000000000b"
RUN_ID = uuid.uuid4().hex[:8]
RETRY_DELAYS = "0.2,0.4"
# Record every span, as a deployment with an exporter does, so tests can inspect traces.
os.environ.setdefault("OTEL_TRACES_SAMPLER", "parentbased_always_on")


def token(org: str = ORG_A, roles=("cs_specialist",), sites=("*",), **kwargs) -> str:
    settings = Settings(AUTH_JWT_SECRET=SECRET)
    return auth.mint(settings, subject="tester", organization_id=org, roles=list(roles), sites=list(sites), **kwargs)


def bearer(org: str = ORG_A, **kwargs) -> dict:
    return {"Authorization": f"Bearer {token(org, **kwargs)}"}


def wait_until(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def fresh_vhost(label: str):
    """A RabbitMQ vhost of its own, deleted afterwards."""
    with scratch.vhost(f"psp_{label}_{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="session")
def bus_url():
    with fresh_vhost("test") as url:
        yield url


@pytest.fixture(scope="session")
def pg_database():
    """Factory of fresh PostgreSQL databases, all dropped at the end of the run."""
    numbers = itertools.count()
    with scratch.databases() as create:
        yield lambda label: create(f"psp_test_{RUN_ID}_{label}_{next(numbers)}")


def migrate(name: str, url: str, bus_url: str | None = None) -> None:
    """What `shared.cli migrate` does: the schema, then (given a broker) the service's queues."""
    service = load(name)
    if service.name == "probe":
        from sqlalchemy import create_engine

        engine = create_engine(url)
        service.metadata.create_all(engine)
        engine.dispose()
    else:
        migrations.upgrade(service, url)
    if bus_url:
        from shared.bus.connection import connect
        from shared.worker import declare_topology

        settings = Settings(BUS_URL=bus_url, BUS_RETRY_DELAYS=RETRY_DELAYS)
        with connect(settings) as connection:
            declare_topology(connection, [service], settings.bus_retry_delays)


@pytest.fixture
def platform_env(monkeypatch, pg_database, bus_url):
    """Fresh databases for every service and the probe, migrated; environment pointing at them."""
    return set_up_platform(monkeypatch, pg_database, bus_url)


def set_up_platform(monkeypatch, pg_database, bus_url) -> dict[str, str]:
    urls = {}
    for name in ("occupants", "ticketing", "billing", "access", "notifications", "tests.support.probe.service"):
        short = name.rsplit(".", 2)[-2] if "." in name else name
        urls[short] = pg_database(short)
        migrate(name, urls[short], bus_url)
        monkeypatch.setenv(f"{short.upper()}_DATABASE_URL", urls[short])
    _purge_queues(bus_url)
    monkeypatch.setenv("BUS_URL", bus_url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("BUS_RETRY_DELAYS", RETRY_DELAYS)
    return urls


def _purge_queues(bus_url: str) -> None:
    """The vhost lives for the whole run; each test starts with empty queues."""
    from kombu import Queue

    from shared.bus.connection import connect

    settings = Settings(BUS_URL=bus_url, BUS_RETRY_DELAYS=RETRY_DELAYS)
    with connect(settings) as connection:
        for name in ("ticketing", "billing", "access", "notifications", "tests.support.probe.service"):
            subscription = load(name).subscription(settings.bus_retry_delays)
            for queue in subscription.queues():
                Queue(queue.name)(connection.default_channel).purge()


@contextmanager
def occupants_client():
    """The occupants API, configured from the environment, as a Flask test client."""
    from services.occupants.app import create_app

    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


def create_site(client, code: str = "HG", name: str = "Harbour Gardens") -> dict:
    response = client.post("/v1/sites", json={"code": code, "name": name}, headers=bearer(roles=("property_manager",)))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@contextmanager
def running_workers(*names: str, **env_overrides):
    """Workers in-process (threads), stopped on exit."""
    from shared.worker import Worker

    settings = Settings(**env_overrides) if env_overrides else Settings()
    platform = [load(n) for n in ("occupants", "ticketing", "billing", "access", "notifications")]
    workers = [Worker(load(name), settings, platform) for name in names]
    threads = [t for w in workers for t in w.start()]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop.set()
        for thread in threads:
            thread.join(timeout=15)
        for worker in workers:
            worker.engine.dispose()


def start_worker_process(name: str, port: int) -> subprocess.Popen:
    """A real worker process, as the chart and `make run` start it."""
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "worker", name],
        env={**os.environ, "WORKER_PORT": str(port), "LOG_LEVEL": "WARNING"},
        cwd=ROOT,
    )
