"""On PostgreSQL: text it cannot hold is refused up front, and no database error the client caused is a 500."""

import json

import pytest
from sqlalchemy import text

from shared.web import db_session
from tests.conftest import bearer

pytestmark = pytest.mark.integration


def test_nul_and_lone_surrogates_are_refused_naming_the_field(occupants_api, demo_site):
    body = {"site_id": demo_site, "full_name": "王\u0000芳", "phone": "13900000000"}
    response = occupants_api.post("/v1/persons", json=body, headers=bearer(roles=("cs_specialist",)))
    assert (response.status_code, response.get_json()["field"]) == (422, "full_name")
    body = {"site_id": demo_site, "full_name": "\ud800", "phone": "13900000000"}
    response = occupants_api.post("/v1/persons", data=json.dumps(body), content_type="application/json",
                                  headers=bearer(roles=("cs_specialist",)))
    assert (response.status_code, response.get_json()["field"]) == (422, "full_name")
    response = occupants_api.get("/v1/persons/abc%00", headers=bearer())
    assert (response.status_code, response.get_json()["field"]) == (422, "person_id")
    response = occupants_api.get("/v1/sites?code=%00", headers=bearer())
    assert (response.status_code, response.get_json()["field"]) == (422, "code")


@pytest.fixture
def failing_routes(occupants_api):
    """Routes whose statements the database refuses, as a bug or a race would make it."""
    app = occupants_api.application

    def refused_value():
        db_session().execute(text("SELECT 'not a number'::integer"))

    def duplicate_key():
        for _ in range(2):
            db_session().execute(text(
                "INSERT INTO sites (id, organization_id, code, name) VALUES ('dup', 'org', 'C', 'N')"))

    app.add_url_rule("/probe/refused-value", view_func=refused_value)
    app.add_url_rule("/probe/duplicate-key", view_func=duplicate_key)
    return occupants_api


def test_a_value_the_database_refuses_is_422_and_a_clash_409(failing_routes, databases):
    response = failing_routes.get("/probe/refused-value")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    response = failing_routes.get("/probe/duplicate-key")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert databases["occupants"].scalar("SELECT count(*) FROM sites WHERE id = 'dup'") == 0
