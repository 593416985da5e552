"""Every service's published OpenAPI document, fuzzed against the service on PostgreSQL.

schemathesis generates requests from the document itself (valid and invalid ones), so endpoints added
later are covered without editing this file. Every answer must be documented (status code), match its
schema and content type, and never be a server error. The caller is authenticated with every role at
every site of the demo organization, whose demo data is seeded first (and its events handled, so read
models hold it too), and path ids are drawn from that data half the time, so requests reach real records
and their rules rather than stopping at a 404.

Sized by PSP_FUZZ_EXAMPLES (examples per operation and generation phase).
"""

from __future__ import annotations

import importlib
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from kombu import Queue
from sqlalchemy import String, func, select

from services import NAMES
from services.run import DEMO_ORGANIZATION
from shared import db
from shared.bus.connection import connect
from shared.config import Settings
from shared.service import load
from tests.conftest import bearer, running_workers, set_up_platform, wait_until

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PSP_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("general_manager", "property_manager", "site_manager", "cs_supervisor", "cs_specialist", "steward",
         "cashier", "technician", "security_guard", "night_duty", "company_office")
HEADERS = bearer(DEMO_ORGANIZATION, roles=ROLES)


@pytest.fixture(scope="module")
def seeded_platform(pg_database, bus_url):
    """Every service on fresh databases with the demo organization seeded, and the seeds' events handled
    everywhere, so read models hold the demo people too."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        urls = set_up_platform(monkeypatch, pg_database, bus_url)
        for name in NAMES:
            _seed(name, urls[name])
        with running_workers(*NAMES):
            _wait_handled(urls)
            wait_until(lambda: all(_seed_live(name, urls[name]) for name in NAMES), timeout=60, interval=1,
                       what="the live demo data seeded")
            _wait_handled(urls)
        yield urls


def _wait_handled(urls: dict[str, str]) -> None:
    try:
        wait_until(lambda: all(_waiting(name, urls[name]) == (0, 0) for name in NAMES), timeout=60,
                   interval=0.5, what="the demo data's events handled")
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; (outbox, inbox) waiting: "
                             f"{ {name: _waiting(name, urls[name]) for name in NAMES} }") from None


def _seed(name: str, url: str) -> None:
    try:
        demo = importlib.import_module(f"services.{name}.demo")
    except ModuleNotFoundError:
        return
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        demo.seed(session, DEMO_ORGANIZATION)
    engine.dispose()


def _seed_live(name: str, url: str) -> bool:
    """A service's demo data that needs other services' events (see services/run.py); True once seeded."""
    try:
        seed = importlib.import_module(f"services.{name}.demo").seed_live
    except (ModuleNotFoundError, AttributeError):
        return True
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        seeded = seed(session, DEMO_ORGANIZATION)
    engine.dispose()
    return seeded


def _waiting(name: str, url: str) -> tuple[int, int]:
    """(unpublished outbox rows, messages ready in the inbox queue)."""
    service = load(name)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        pending = connection.scalar(select(func.count()).select_from(service.tables.outbox)
                                    .where(service.tables.outbox.c.published_at.is_(None)))
    engine.dispose()
    subscription = service.subscription(Settings().bus_retry_delays)
    if subscription is None:
        return pending, 0
    with connect(Settings()) as connection:
        _, waiting, _ = Queue(subscription.inbox)(connection.default_channel).queue_declare(passive=True)
    return pending, waiting


def _record_ids(urls: dict[str, str]) -> list[str]:
    """The string primary keys of every service's own tables."""
    ids: set[str] = set()
    for name in NAMES:
        service, url = load(name), urls[name]
        chassis = {table.name for table in vars(service.tables).values()}
        engine = db.make_engine(url)
        with engine.connect() as connection:
            for table in service.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if table.name not in chassis and isinstance(column.type, String):
                        ids.update(connection.scalars(select(column).limit(100)))
        engine.dispose()
    return sorted(ids)


def _known_ids(ids: list[str]):
    """Half the path ids drawn from the seeded records, so requests get past the 404."""

    def before_generate_path_parameters(context, strategy):
        def with_known_ids(generated):
            # None (no path parameters), plain ones, or ones wrapped with how they were made.
            if generated is None:
                return st.just(generated)
            parameters = generated if isinstance(generated, dict) else generated.value
            if not parameters:
                return st.just(generated)
            replacements = st.fixed_dictionaries({
                key: st.sampled_from(ids) if key.endswith("id") else st.just(value)
                for key, value in parameters.items()
            })
            if isinstance(generated, dict):
                return replacements
            return replacements.map(lambda known: generated.map_value(lambda _: known))

        return st.one_of(strategy, strategy.flatmap(with_known_ids))

    return before_generate_path_parameters


@pytest.mark.parametrize("name", NAMES)
def test_every_answer_is_documented_and_none_is_a_server_error(name, seeded_platform):
    app = importlib.import_module(f"services.{name}.app").create_app()
    try:
        schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
        schema.hook(_known_ids(_record_ids(seeded_platform)))
        findings = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                findings += _fuzz(operation, mode, schema)
        assert not findings, "\n\n".join(findings)
    finally:
        app.extensions["psp"].engine.dispose()


def _fuzz(operation, mode, schema) -> list[str]:
    """Run one operation's generated cases; answer the failure found, with the request that causes it."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, hooks=schema.hooks))
    def run(case):
        case.call_and_validate(headers=HEADERS, checks=CHECKS)

    try:
        run()
    except Exception as failure:  # noqa: BLE001 - the shrunk failing case, with its curl command
        return [f"{operation.label} ({mode.value}): {failure}"]
    return []


@pytest.mark.parametrize("name", NAMES)
def test_the_documents_are_valid_openapi(name, seeded_platform):
    app = importlib.import_module(f"services.{name}.app").create_app()
    try:
        validate(app.test_client().get("/openapi.json").get_json())
    finally:
        app.extensions["psp"].engine.dispose()
