"""On PostgreSQL: text it cannot hold is refused up front, and no database error the client caused is a 500."""

import json

import pytest
from sqlalchemy import text

from shared.web import db_session, read_session
from tests.conftest import bearer, create_site

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



@pytest.fixture
def read_routes(occupants_api):
    """Routes on the read session: one reads a site's code, one tries to write."""
    app = occupants_api.application

    def read_site(site_id):
        return {"code": read_session().execute(text("SELECT code FROM sites WHERE id = :id"),
                                               {"id": site_id}).scalar_one()}

    def write_through_read_session():
        read_session().execute(text(
            "INSERT INTO sites (id, organization_id, code, name) VALUES ('ro', 'org', 'C', 'N')"))

    app.add_url_rule("/probe/read-site/<site_id>", view_func=read_site)
    app.add_url_rule("/probe/read-session-write", view_func=write_through_read_session)
    return occupants_api


def test_a_read_session_reads_what_is_committed_and_cannot_write(read_routes, databases):
    """A view that only reads runs without a transaction; the database refuses a write through it, so nothing
    can be written outside the atomicity of the request's transaction."""
    site = create_site(read_routes)
    assert read_routes.get(f"/probe/read-site/{site['id']}").get_json()["code"] == site["code"]
    assert read_routes.get("/probe/read-session-write").status_code == 500
    assert databases["occupants"].scalar("SELECT count(*) FROM sites WHERE id = 'ro'") == 0
