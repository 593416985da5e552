"""Every service's published OpenAPI document, fuzzed against the service on PostgreSQL.

schemathesis generates requests from the document itself (valid and invalid ones), so endpoints added
later are covered without editing this file. Every answer must be documented (status code), match its
schema and content type, and never be a server error. The caller is authenticated with every role at
every site of the demo organization, whose demo data is seeded first, and path ids are drawn from that
data half the time, so requests reach real records and their rules rather than stopping at a 404.

Sized by PSP_FUZZ_EXAMPLES (examples per operation and generation phase).
"""

from __future__ import annotations

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
from sqlalchemy import select

from services import NAMES
from services.run import DEMO_ORGANIZATION
from shared import db
from shared.service import load
from tests.conftest import bearer

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PSP_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("general_manager", "property_manager", "site_manager", "cs_supervisor", "cs_specialist", "steward",
         "cashier", "technician", "security_guard", "night_duty", "company_office")
HEADERS = bearer(DEMO_ORGANIZATION, roles=ROLES)


def _seed_and_collect_ids(name: str, url: str) -> list[str]:
    """Seed the service's demo data; answer the ids of its rows, for path parameters."""
    service = load(name)
    engine = db.make_engine(url)
    ids: list[str] = []
    with db.make_sessionmaker(engine)() as session:
        try:
            demo = __import__(f"services.{name}.demo", fromlist=["seed"])
        except ModuleNotFoundError:
            demo = None
        if demo is not None:
            with session.begin():
                demo.seed(session, DEMO_ORGANIZATION)
        for table in service.metadata.sorted_tables:
            for column_name in ("id", "person_id"):
                if column_name in table.c and str(table.c[column_name].type).startswith("VARCHAR"):
                    ids += session.scalars(select(table.c[column_name]).limit(50)).all()
    engine.dispose()
    return sorted(set(ids)) or ["00000000-0000-4000-8000-000000000000"]


def _known_ids(ids: list[str]):
    """Half the path ids drawn from the seeded records, so requests get past the 404."""

    def before_generate_path_parameters(context, strategy):
        known = strategy.flatmap(lambda parameters: st.fixed_dictionaries({
            key: st.sampled_from(ids) if key.endswith("id") else st.just(value)
            for key, value in parameters.items()
        }))
        return st.one_of(strategy, known)

    return before_generate_path_parameters


@pytest.mark.parametrize("name", NAMES)
def test_every_answer_is_documented_and_none_is_a_server_error(name, platform_env):
    ids = _seed_and_collect_ids(name, platform_env[name])
    app = __import__(f"services.{name}.app", fromlist=["create_app"]).create_app()
    try:
        schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
        schema.hook(_known_ids(ids))
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
def test_the_documents_are_valid_openapi(name, platform_env):
    app = __import__(f"services.{name}.app", fromlist=["create_app"]).create_app()
    try:
        validate(app.test_client().get("/openapi.json").get_json())
    finally:
        app.extensions["psp"].engine.dispose()
