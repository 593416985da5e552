"""Customer profiles (OCC-9): key and silent customers, grades, stewards' households and the familiarity KPI."""

from datetime import date, timedelta

import pytest
from psp.occupants.v1.profile_pb2 import CustomerProfileChanged
from sqlalchemy import func, select

from services.occupants.models import chassis
from shared import auth
from shared.config import Settings
from tests.conftest import ORG_A, ORG_B, SECRET, bearer
from tests.support.outbox import published

MANAGER = bearer(roles=("site_manager",))


def as_user(subject: str, site_roles: dict, org: str = ORG_A) -> dict:
    """A token for `subject` holding `site_roles` ({site id: [roles]}) and nothing else."""
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=[], sites=[],
                      site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


def post(client, path, body, headers=MANAGER):
    response = client.post(path, json=body, headers=headers)
    return response


def created(response) -> dict:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def person(occupants, site):
    return created(post(occupants, "/v1/persons", {"site_id": site["id"], "full_name": "赵磊",
                                                   "phone": "13900000002"}))


@pytest.fixture
def towers(occupants, site):
    """Two buildings at the site: A with 3 occupied, 1 rented and 1 vacant unit; B with 2 occupied units."""
    layout = {"A": ["occupied"] * 3 + ["rented", "vacant"], "B": ["occupied"] * 2}
    answer = {}
    for code, states in layout.items():
        building = created(post(occupants, f"/v1/sites/{site['id']}/buildings", {"code": code, "name": code}))
        units = [created(post(occupants, f"/v1/buildings/{building['id']}/units",
                              {"number": f"{n + 1:02d}", "floor": 1, "kind": "residence", "state": state,
                               "floor_area_m2": "80.00"})) for n, state in enumerate(states)]
        answer[code] = (building, units)
    return answer


def profile_events(client):
    return [payload for _, payload in published(client.application.extensions["psp"].engine, chassis,
                                                 CustomerProfileChanged)]


def profile_trail(client):
    audit_log = chassis.audit_log
    with client.application.extensions["psp"].engine.connect() as connection:
        return connection.execute(select(audit_log.c.action, audit_log.c.actor, audit_log.c.reason, audit_log.c.data)
                                  .where(audit_log.c.entity == "customer_profile").order_by(audit_log.c.id)).all()


def patch(client, site, person, body, headers=MANAGER):
    return client.patch(f"/v1/sites/{site['id']}/customer-profiles/{person['id']}", json=body, headers=headers)


def test_a_blank_profile_until_someone_writes_one(occupants, site, person):
    response = occupants.get(f"/v1/sites/{site['id']}/customer-profiles/{person['id']}", headers=MANAGER)
    assert response.status_code == 200
    assert response.get_json() == {"person_id": person["id"], "site_id": site["id"], "key_customer": False,
                                   "key_customer_reason": "", "silent_customer": False, "grade": None, "notes": "",
                                   "updated_by": None, "updated_at": None}


def test_flags_and_grade_are_audited_and_published(occupants, site, person):
    response = patch(occupants, site, person, {"key_customer": True, "key_customer_reason": "一月内投诉三次",
                                               "grade": "B", "reason": "投诉台账"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["key_customer"], body["key_customer_reason"], body["grade"], body["updated_by"]) == (
        True, "一月内投诉三次", "B", "tester")
    [event] = profile_events(occupants)
    assert (event.person_id, event.site_id, event.key_customer, event.key_customer_reason, event.grade) == (
        person["id"], site["id"], True, "一月内投诉三次", "B")
    assert (list(event.changed), event.changed_by, event.reason) == (
        ["key_customer", "key_customer_reason", "grade"], "tester", "投诉台账")

    # A correction is a new entry; the first stays as it was.
    patch(occupants, site, person, {"grade": "C", "reason": "评级更正"})
    trail = profile_trail(occupants)
    assert [(action, reason) for action, _, reason, _ in trail] == [("change", "投诉台账"), ("change", "评级更正")]
    assert trail[0].data["changes"]["grade"] == {"from": None, "to": "B"}
    assert trail[1].data["changes"] == {"grade": {"from": "B", "to": "C"}}
    assert [e.grade for e in profile_events(occupants)] == ["B", "C"]

    # Nothing new to say: no entry, no event.
    assert patch(occupants, site, person, {"grade": "C"}).status_code == 200
    assert len(profile_trail(occupants)) == 2 and len(profile_events(occupants)) == 2

    # Lifting the flag clears its reason; ungrading is null.
    cleared = patch(occupants, site, person, {"key_customer": False, "grade": None}).get_json()
    assert (cleared["key_customer"], cleared["key_customer_reason"], cleared["grade"]) == (False, "", None)
    assert list(profile_events(occupants)[-1].changed) == ["key_customer", "key_customer_reason", "grade"]


@pytest.mark.parametrize("body, field", [
    ({"key_customer": True}, "key_customer_reason"),
    ({"key_customer": True, "key_customer_reason": "   "}, "key_customer_reason"),
    ({"grade": "E"}, "grade"),
    ({"notes": "x" * 2001}, "notes"),
    ({"silent_customer": "sometimes"}, "silent_customer"),
])
def test_bad_input_names_the_field_and_changes_nothing(occupants, site, person, body, field):
    response = patch(occupants, site, person, body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json" and response.get_json()["field"] == field
    assert profile_events(occupants) == [] and profile_trail(occupants) == []


def test_grades_are_site_policy(occupants, site, person):
    override = occupants.put("/v1/policies/profile.grades", json={"site_id": site["id"], "value": ["VIP", "普通"]},
                             headers=MANAGER)
    assert override.status_code == 200, override.get_json()
    assert patch(occupants, site, person, {"grade": "A"}).status_code == 422
    assert patch(occupants, site, person, {"grade": "VIP"}).get_json()["grade"] == "VIP"


def test_flags_need_a_supervisor_at_the_site_notes_any_customer_service_role(occupants, site, person):
    specialist = as_user("li", {site["id"]: ["cs_specialist"]})
    supervisor_elsewhere = as_user("wu", {site["id"]: ["steward"], "another-site": ["cs_supervisor"]})
    for headers in (specialist, supervisor_elsewhere):
        for body in ({"silent_customer": True}, {"grade": "A"}, {"key_customer": False}):
            assert patch(occupants, site, person, body, headers).status_code == 403
    assert patch(occupants, site, person, {"notes": "偏好电话联系"}, as_user("x", {"other": ["cs_supervisor"]})
                 ).status_code == 404
    assert profile_events(occupants) == []
    assert patch(occupants, site, person, {"notes": "偏好电话联系"}, specialist).get_json()["notes"] == "偏好电话联系"
    supervisor = as_user("zhou", {site["id"]: ["cs_supervisor"]})
    assert patch(occupants, site, person, {"silent_customer": True}, supervisor).get_json()["silent_customer"] is True
    assert [e.changed_by for e in profile_events(occupants)] == ["li", "zhou"]


def test_another_organizations_profiles_are_not_found(occupants, site, person):
    patch(occupants, site, person, {"silent_customer": True})
    stranger = bearer(org=ORG_B, roles=("general_manager",))
    assert occupants.get(f"/v1/sites/{site['id']}/customer-profiles/{person['id']}", headers=stranger
                         ).status_code == 404
    assert patch(occupants, site, person, {"notes": "x"}, stranger).status_code == 404
    assert occupants.get(f"/v1/sites/{site['id']}/customer-profiles", headers=stranger).status_code == 404


def test_the_list_filters_key_and_silent_customers(occupants, site, person):
    other = created(post(occupants, "/v1/persons", {"site_id": site["id"], "full_name": "钱红",
                                                    "phone": "13900000003"}))
    patch(occupants, site, person, {"key_customer": True, "key_customer_reason": "常投诉"})
    patch(occupants, site, other, {"silent_customer": True})
    key = occupants.get(f"/v1/sites/{site['id']}/customer-profiles?key_customer=true", headers=MANAGER).get_json()
    assert [p["person_id"] for p in key["items"]] == [person["id"]]
    silent = occupants.get(f"/v1/sites/{site['id']}/customer-profiles?silent_customer=true",
                           headers=MANAGER).get_json()
    assert [p["person_id"] for p in silent["items"]] == [other["id"]]
    page = occupants.get(f"/v1/sites/{site['id']}/customer-profiles?limit=1", headers=MANAGER).get_json()
    rest = occupants.get(f"/v1/sites/{site['id']}/customer-profiles?cursor={page['next_cursor']}",
                         headers=MANAGER).get_json()
    assert sorted(p["person_id"] for p in page["items"] + rest["items"]) == sorted([person["id"], other["id"]])


def assign(client, site, body, headers=MANAGER):
    return post(client, f"/v1/sites/{site['id']}/steward-assignments", body, headers)


def know(client, site, unit, headers, **extra):
    body = {"unit_id": unit["id"], "known_on": "2026-11-20", "how": "visit", **extra}
    return post(client, f"/v1/sites/{site['id']}/familiarity-records", body, headers)


def report(client, site, headers=MANAGER):
    response = client.get(f"/v1/sites/{site['id']}/familiarity", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_familiarity_per_steward_and_site(occupants, site, towers):
    (tower_a, units_a), (_, units_b) = towers["A"], towers["B"]
    created(assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]}))
    created(assign(occupants, site, {"steward": "liu", "unit_id": units_b[0]["id"]}))
    created(assign(occupants, site, {"steward": "liu", "unit_id": units_b[1]["id"]}))
    wang, liu = as_user("wang", {site["id"]: ["steward"]}), as_user("liu", {site["id"]: ["steward"]})
    for unit in units_a[:3]:
        created(know(occupants, site, unit, wang))
    created(know(occupants, site, units_a[0], wang, how="phone"))  # a second contact counts once
    for unit in units_b:
        created(know(occupants, site, unit, liu))

    figures = report(occupants, site)
    assert figures["stewards"] == [
        {"steward": "liu", "assigned": 2, "known": 2, "rate": "1.0000", "meets_target": True},
        {"steward": "wang", "assigned": 4, "known": 3, "rate": "0.7500", "meets_target": False},
    ]
    assert (figures["assigned"], figures["known"], figures["rate"], figures["meets_target"], figures["target"]) == (
        6, 5, "0.8333", False, "0.9500")

    occupants.put("/v1/policies/profile.familiarity_target", json={"site_id": site["id"], "value": "0.75"},
                  headers=MANAGER)
    assert [s["meets_target"] for s in report(occupants, site)["stewards"]] == [True, True]


def test_a_steward_records_only_their_own_occupied_households(occupants, site, towers):
    (tower_a, units_a), (_, units_b) = towers["A"], towers["B"]
    created(assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]}))
    wang = as_user("wang", {site["id"]: ["steward"]})
    vacant, not_theirs = units_a[4], units_b[0]
    for unit in (vacant, not_theirs):
        refused = know(occupants, site, unit, wang)
        assert refused.status_code == 422 and refused.get_json()["field"] == "unit_id"
    future = know(occupants, site, units_a[0], wang, known_on=(date.today() + timedelta(days=2)).isoformat())
    assert future.status_code == 422 and future.get_json()["field"] == "known_on"
    bad_way = know(occupants, site, units_a[0], wang, how="telepathy")
    assert bad_way.status_code == 422 and bad_way.get_json()["field"] == "how"
    # Another steward may not record for wang; a supervisor at the site may; wang's role elsewhere counts for naught.
    assert know(occupants, site, units_a[0], as_user("liu", {site["id"]: ["steward"]}), steward="wang"
                ).status_code == 403
    assert know(occupants, site, units_a[0], as_user("wang", {"another-site": ["steward"]})).status_code == 404
    assert know(occupants, site, units_a[0], as_user("wang", {site["id"]: ["technician"]})).status_code == 403
    assert report(occupants, site)["known"] == 0
    by_supervisor = created(know(occupants, site, units_a[0], as_user("zhou", {site["id"]: ["cs_supervisor"]}),
                                 steward="wang"))
    assert (by_supervisor["steward"], by_supervisor["recorded_by"]) == ("wang", "zhou")
    assert report(occupants, site)["known"] == 1
    listed = occupants.get(f"/v1/sites/{site['id']}/familiarity-records?steward=wang", headers=MANAGER).get_json()
    assert [r["id"] for r in listed["items"]] == [by_supervisor["id"]]


def test_assignments_are_for_supervisors_and_audited(occupants, site, towers):
    (tower_a, units_a), _ = towers["A"], towers["B"]
    steward = as_user("wang", {site["id"]: ["steward"]})
    assert assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]}, steward).status_code == 403
    supervisor_elsewhere = as_user("zhou", {site["id"]: ["cs_specialist"], "another-site": ["cs_supervisor"]})
    assert assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]},
                  supervisor_elsewhere).status_code == 403
    both = assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"], "unit_id": units_a[0]["id"]})
    assert both.status_code == 422 and both.get_json()["field"] == "building_id"
    neither = assign(occupants, site, {"steward": "wang"})
    assert neither.status_code == 422 and neither.get_json()["field"] == "building_id"

    assignment = created(assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]}))
    again = assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]})
    assert again.status_code == 409 and again.get_json()["field"] == "steward"
    assert report(occupants, site)["assigned"] == 4

    stranger = bearer(org=ORG_B, roles=("general_manager",))
    assert occupants.delete(f"/v1/steward-assignments/{assignment['id']}", headers=stranger).status_code == 404
    assert occupants.get(f"/v1/sites/{site['id']}/familiarity", headers=stranger).status_code == 404
    assert occupants.delete(f"/v1/steward-assignments/{assignment['id']}?reason=调岗", headers=steward
                            ).status_code == 403
    assert occupants.delete(f"/v1/steward-assignments/{assignment['id']}?reason=调岗", headers=MANAGER
                            ).status_code == 204
    assert report(occupants, site)["stewards"] == []
    audit_log = chassis.audit_log
    with occupants.application.extensions["psp"].engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action, audit_log.c.reason).where(
            audit_log.c.entity == "steward_assignment").order_by(audit_log.c.id)).all()
        assert actions == [("assign", ""), ("unassign", "调岗")]
        table = occupants.application.extensions["psp"].service.metadata.tables["steward_assignments"]
        assert connection.scalar(select(func.count()).select_from(table)) == 0


def test_a_new_household_is_one_the_steward_has_yet_to_know(occupants, site, towers, person):
    (tower_a, units_a), _ = towers["A"], towers["B"]
    unit = units_a[0]
    created(assign(occupants, site, {"steward": "wang", "building_id": tower_a["id"]}))
    wang = as_user("wang", {site["id"]: ["steward"]})
    created(know(occupants, site, unit, wang, known_on="2026-11-01"))
    assert report(occupants, site)["known"] == 1

    tenant = created(post(occupants, f"/v1/units/{unit['id']}/occupancies", {
        "person_id": person["id"], "role": "tenant", "start_date": "2026-11-10"}))
    assert tenant["role"] == "tenant"
    assert report(occupants, site)["known"] == 0
    before = know(occupants, site, unit, wang, known_on="2026-11-09")
    assert before.status_code == 422 and before.get_json()["field"] == "known_on"
    created(know(occupants, site, unit, wang, known_on="2026-11-10"))
    assert report(occupants, site)["known"] == 1


def test_a_steward_with_no_households_has_no_rate(occupants, site, towers):
    vacant = towers["A"][1][4]
    created(assign(occupants, site, {"steward": "sun", "unit_id": vacant["id"]}))
    figures = report(occupants, site)
    assert figures["stewards"] == [{"steward": "sun", "assigned": 0, "known": 0, "rate": None,
                                    "meets_target": None}]
    assert (figures["rate"], figures["meets_target"]) == (None, None)
