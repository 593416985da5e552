"""The API contract on the embedded default (SQLite): text no database can hold, UTF-8 answers, exact
decimals documented as strings, valid OpenAPI documents, and metrics series that exist from the start."""

import importlib
import json

import pytest
from marshmallow import ValidationError
from openapi_spec_validator import validate
from psp.occupants.v1.events_pb2 import PersonRegistered

from services import NAMES
from shared import metrics
from shared.bus.consumer import Handlers, InboxConsumer
from shared.fields import DecimalString
from tests.conftest import SECRET, bearer, migrate, occupants_client


def outbox_rows(client) -> int:
    state = client.application.extensions["psp"]
    with state.engine.connect() as connection:
        return len(connection.execute(state.service.tables.outbox.select()).all())


@pytest.mark.parametrize("body, field", [
    ({"full_name": "王\u0000芳"}, "full_name"),
    ({"full_name": "\ud800"}, "full_name"),
    ({"preferred_channels": ["sms", "e\u0000mail"]}, "preferred_channels.1"),
    ({"emergency_contact": {"name": "x\udfffy"}}, "emergency_contact.name"),
    ({"nick\u0000name": "x"}, "nick\u0000name"),
])
def test_text_no_database_can_hold_is_refused_naming_the_field(occupants, site, body, field):
    before = outbox_rows(occupants)
    payload = {"site_id": site["id"], "full_name": "王芳", "phone": "13900000000", **body}
    response = occupants.post("/v1/persons", data=json.dumps(payload), content_type="application/json",
                              headers=bearer())
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field
    assert response.get_json()["errors"][0]["location"] == "json"
    assert outbox_rows(occupants) == before


def test_nul_in_a_path_id_or_query_is_refused_naming_it(occupants, site):
    response = occupants.get("/v1/persons/abc%00def", headers=bearer())
    assert response.status_code == 422
    assert (response.get_json()["field"], response.get_json()["errors"][0]["location"]) == ("person_id", "path")
    response = occupants.get("/v1/sites?code=%00", headers=bearer())
    assert response.status_code == 422
    assert (response.get_json()["field"], response.get_json()["errors"][0]["location"]) == ("code", "query")
    response = occupants.post("/v1/sites", json={"code": "X", "name": "Y"},
                              headers={**bearer(), "Idempotency-Key": "k\u0000"})
    assert response.status_code == 422 and response.get_json()["field"] == "Idempotency-Key"


def test_without_a_token_bad_text_still_gets_the_401(occupants, site):
    response = occupants.get("/v1/persons/abc%00def")
    assert response.status_code == 401


def test_json_answers_carry_chinese_text_as_utf8(occupants):
    response = occupants.post("/v1/sites", json={"code": "HY", "name": "海洋花园"},
                              headers=bearer(roles=("general_manager",)))
    assert response.status_code == 201
    assert "海洋花园".encode() in response.get_data()
    assert b"\\u" not in response.get_data()


def test_decimal_strings_are_exact_and_bounded():
    area = DecimalString(places=2, max_digits=10, minimum=0, exclusive_minimum=True)
    assert str(area.deserialize("89.5")) == "89.50"
    assert str(area.deserialize(12)) == "12.00"
    assert area.serialize("a", {"a": area.deserialize("89.50")}) == "89.50"
    for bad in ("0", "0.00", "-1", "1.234", "123456789", "NaN", "Infinity", "1e400", "abc", True):
        with pytest.raises(ValidationError):
            area.deserialize(bad)


@pytest.mark.parametrize("name", NAMES)
def test_every_document_is_valid_openapi_with_errors_as_problems(name, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/{name}.sqlite3"
    migrate(name, url)
    monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    app = importlib.import_module(f"services.{name}.app").create_app()
    try:
        spec = app.test_client().get("/openapi.json").get_json()
    finally:
        app.extensions["psp"].engine.dispose()
    validate(spec)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            if operation.get("security"):
                assert {"401", "403", "404", "422"} <= set(operation["responses"]), (method, path)
    assert "number" not in set(_types(spec)), "amounts and areas are documented as decimal strings"


def _types(node):
    """Every JSON Schema `type` in a document."""
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str):
            yield kind
        elif isinstance(kind, list) and all(isinstance(k, str) for k in kind):
            yield from kind  # a nullable field: ["number", "null"]
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _types(value)


def test_a_consumer_has_a_latency_series_for_each_event_type_before_any_event():
    handlers = Handlers("contract-probe")
    handlers.on(PersonRegistered)(lambda session, event: None)
    InboxConsumer(handlers, handlers.subscription((1.0,)), sessions=None, inbox=None, batch_size=1, prefetch=1)
    exposition = metrics.render()[0].decode()
    assert ('bus_event_latency_seconds_count{event_type="person.registered.v1",service="contract-probe"} 0.0'
            in exposition)


def test_a_body_over_the_limit_is_refused_before_it_is_read(occupants, site, monkeypatch):
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "2048")
    before = outbox_rows(occupants)
    with occupants_client() as small:
        body = {"site_id": site["id"], "full_name": "王芳" * 1000, "phone": "13900000000"}
        response = small.post("/v1/persons", json=body, headers=bearer())
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert outbox_rows(occupants) == before
