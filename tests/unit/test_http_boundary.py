"""The HTTP boundary every service shares: auth, tenancy, problem+json, idempotency, OpenAPI."""

from datetime import timedelta
from time import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.auth import Principal, VerifiedTokens
from tests.conftest import ORG_B, bearer, token

PUBLIC = {"/livez", "/readyz", "/metrics", "/openapi.json", "/docs"}


def person(site, **overrides):
    body = {"site_id": site["id"], "full_name": "王芳", "phone": "13900000000"}
    return {**body, **overrides}


def test_every_endpoint_but_health_metrics_and_docs_requires_a_token(occupants):
    app = occupants.application
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.endpoint == "static" or rule.rule.startswith("/docs"):
            continue
        path = rule.rule.replace("<", "").replace(">", "")
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = occupants.open(path, method=method, json={})
        assert response.status_code == 401, f"{method} {rule.rule} answered {response.status_code} without a token"
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("bad_token", [
    "not-a-jwt",
    token(ttl=timedelta(seconds=-1)),
    token()[:-4] + "AAAA",
])
def test_bad_tokens_are_refused(occupants, bad_token):
    response = occupants.get("/v1/sites", headers={"Authorization": f"Bearer {bad_token}"})
    assert response.status_code == 401
    assert response.get_json()["status"] == 401


def test_bad_input_names_the_field_and_changes_nothing(occupants, site):
    response = occupants.post("/v1/persons", json=person(site, email="not-an-address"), headers=bearer())
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["field"] == "email"
    assert problem["errors"][0]["location"] == "json"
    assert problem["title"] and problem["type"].startswith("https://")
    outbox = occupants.application.extensions["psp"].service.tables.outbox
    with occupants.application.extensions["psp"].engine.connect() as connection:
        assert [row.event_type for row in connection.execute(outbox.select())] == ["site.registered.v1"]


def test_missing_required_field_is_named(occupants, site):
    body = person(site)
    del body["full_name"]
    response = occupants.post("/v1/persons", json=body, headers=bearer())
    assert response.status_code == 422
    assert response.get_json()["field"] == "full_name"


def test_another_organizations_records_are_not_found(occupants, site):
    created = occupants.post("/v1/persons", json=person(site), headers=bearer()).get_json()
    assert occupants.get(f"/v1/persons/{created['id']}", headers=bearer()).status_code == 200
    foreign = occupants.get(f"/v1/persons/{created['id']}", headers=bearer(ORG_B))
    assert foreign.status_code == 404
    assert created["id"] not in foreign.get_data(as_text=True)
    assert occupants.get("/v1/sites", headers=bearer(ORG_B)).get_json()["items"] == []
    refused = occupants.post("/v1/persons", json=person(site), headers=bearer(ORG_B))
    assert refused.status_code == 404


def test_site_scope_hides_other_sites(occupants, site):
    other = occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay"},
                           headers=bearer(roles=("property_manager",))).get_json()
    scoped = bearer(sites=(other["id"],))
    assert [s["code"] for s in occupants.get("/v1/sites", headers=scoped).get_json()["items"]] == ["NB"]
    assert occupants.post("/v1/persons", json=person(site), headers=scoped).status_code == 404


def test_idempotency_key_replays_the_first_answer(occupants, site):
    headers = {**bearer(), "Idempotency-Key": "register-wang-fang"}
    first = occupants.post("/v1/persons", json=person(site), headers=headers)
    again = occupants.post("/v1/persons", json=person(site), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    outbox = occupants.application.extensions["psp"].service.tables.outbox
    with occupants.application.extensions["psp"].engine.connect() as connection:
        assert len(connection.execute(outbox.select().where(outbox.c.event_type == "person.registered.v1")).all()) == 1

    reused = occupants.post("/v1/persons", json=person(site, full_name="李雷"), headers=headers)
    assert reused.status_code == 422
    assert reused.get_json()["field"] == "Idempotency-Key"


def test_openapi_document_describes_the_validated_schemas(occupants):
    spec = occupants.get("/openapi.json").get_json()
    assert "/v1/persons" in spec["paths"]
    person_in = spec["components"]["schemas"]["PersonIn"]
    assert set(person_in["required"]) == {"site_id", "full_name"}
    assert spec["paths"]["/v1/persons"]["post"]["security"] == [{"BearerAuth": []}]


def test_health_and_metrics_answer_without_a_token(occupants):
    assert occupants.get("/livez").status_code == 200
    ready = occupants.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"]["ok"] is True
    occupants.get("/v1/sites", headers=bearer())
    text = occupants.get("/metrics").get_data(as_text=True)
    assert 'http_request_duration_seconds_count{method="GET",route="/v1/sites",service="occupants",status="200"}' in text
    assert "service_start_time_seconds" in text


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(
    st.sampled_from(["site_id", "kind", "full_name", "phone", "email", "preferred_language",
                     "preferred_channels", "extra"]),
    _json_values,
))
def test_any_request_body_gets_a_clear_answer_never_a_crash(occupants, site, body):
    response = occupants.post("/v1/persons", json=body, headers=bearer())
    assert response.status_code in (201, 404, 422), response.get_data(as_text=True)
    if response.status_code != 201:
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"]


def test_a_verified_token_is_kept_only_until_it_expires():
    tokens = VerifiedTokens(size=2)
    live = Principal("u", "org", frozenset(), frozenset(), expires_at=time() + 60)
    tokens.remember("live", live)
    tokens.remember("expired", Principal("u", "org", frozenset(), frozenset(), expires_at=time() - 1))
    assert tokens.get("live") is live
    assert tokens.get("expired") is None
    assert tokens.get("unknown") is None
    tokens.remember("third", live)  # full: the cache starts again
    assert tokens.get("live") is None and tokens.get("third") is live


@pytest.mark.parametrize("query", ["?=%00", "?%00=1", "?=ok&name=%00"])
def test_unstorable_text_in_a_query_is_named_even_under_an_empty_key(occupants, query):
    response = occupants.get(f"/v1/persons{query}", headers=bearer())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["location"] == "query"
