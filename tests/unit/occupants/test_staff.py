"""Staff directory (OCC-10): departments, members, roles per site, authority from the directory, events."""

from __future__ import annotations

import pytest
from psp.occupants.v1.staff_pb2 import StaffMemberChanged
from sqlalchemy import event, text

from psp.events.v1.envelope_pb2 import Envelope
from shared import auth
from shared.bus.envelope import unpack
from shared.config import Settings
from tests.conftest import ORG_A, ORG_B, SECRET, bearer, create_site

GM = bearer(roles=("general_manager",))
PM = bearer(roles=("property_manager",))


def as_user(subject: str, org: str = ORG_A, roles=(), sites=("*",), site_roles=None) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=list(sites), site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


def member(user_id: str, site_roles: dict | None = None, **fields) -> dict:
    return {"user_id": user_id, "full_name": fields.pop("full_name", user_id.title()),
            "department": fields.pop("department", "customer_service"),
            "site_roles": [{"site_id": s, "roles": r} for s, r in (site_roles or {}).items()], **fields}


def add(client, body: dict, headers=GM) -> dict:
    response = client.post("/v1/staff", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def scalar(client, sql: str, **params):
    with client.application.extensions["psp"].engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def member_events(client) -> list[StaffMemberChanged]:
    with client.application.extensions["psp"].engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT envelope FROM outbox WHERE event_type = 'staff.member_changed.v1' ORDER BY id")).scalars()
        return [unpack(Envelope.FromString(row), StaffMemberChanged).payload for row in rows]


@pytest.fixture
def other_site(occupants):
    return create_site(occupants, code="BK", name="Bay Keep 湾畔")


def test_departments_start_as_the_specs_and_an_organization_adds_its_own(occupants):
    first = occupants.get("/v1/departments?limit=3", headers=GM).get_json()
    second = occupants.get(f"/v1/departments?limit=3&cursor={first['next_cursor']}", headers=GM).get_json()
    codes = [d["code"] for d in first["items"] + second["items"]]
    assert sorted(codes) == ["customer_service", "engineering", "environment", "finance", "security"]
    assert second["next_cursor"] is None

    added = occupants.post("/v1/departments", json={"code": "landscaping", "name": "绿化部"}, headers=PM)
    assert added.status_code == 201
    assert occupants.post("/v1/departments", json={"code": "landscaping", "name": "again"},
                          headers=PM).status_code == 409
    assert occupants.post("/v1/departments", json={"code": "x", "name": "x"},
                          headers=bearer(roles=("site_manager",))).status_code == 403
    bad = occupants.post("/v1/departments", json={"code": "Green Team", "name": "x"}, headers=PM)
    assert bad.status_code == 422 and bad.get_json()["field"] == "code"
    other = occupants.get("/v1/departments", headers=bearer(org=ORG_B, roles=("general_manager",))).get_json()
    assert "landscaping" not in [d["code"] for d in other["items"]]
    assert add(occupants, member("gardener-1", department="landscaping"))["department"] == "landscaping"


def test_a_member_holds_different_roles_at_different_sites(occupants, site, other_site):
    created = add(occupants, member("u-wang", {site["id"]: ["cs_supervisor"], other_site["id"]: ["cs_specialist"]},
                                    full_name="王芳", phone="138 0000 0001", email="Wang.Fang@Example.CN",
                                    channels=["sms", "email"]))
    assert created["phone"] == "+8613800000001"
    assert created["email"] == "Wang.Fang@example.cn"
    assert created["active"] is True and created["version"] == 1
    assert sorted(created["site_roles"], key=lambda r: r["roles"]) == [
        {"site_id": other_site["id"], "roles": ["cs_specialist"]}, {"site_id": site["id"], "roles": ["cs_supervisor"]}]
    fetched = occupants.get(f"/v1/staff/{created['id']}", headers=bearer())
    assert fetched.status_code == 200 and fetched.get_json()["full_name"] == "王芳"
    assert occupants.get(f"/v1/staff/{created['id']}", headers=bearer(org=ORG_B)).status_code == 404
    assert occupants.post("/v1/staff", json=member("u-wang"), headers=GM).status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    (member("u-1", phone="12345"), "phone"),
    (member("u-1", email="not-an-address"), "email"),
    (member("u-1", department="catering"), "department"),
    (member("u-1", channels=["sms"]), "channels"),
    (member("u-1", channels=["fax"]), "channels.0"),
    (member("u-1", {"0b000000-0000-4000-8000-0000000000ff": ["technician"]}), "site_roles"),
    (member("u-1", full_name=""), "full_name"),
    (member("u" * 201), "user_id"),
])
def test_bad_input_names_the_field_and_changes_nothing(occupants, site, body, field):
    before = (scalar(occupants, "SELECT count(*) FROM outbox"), scalar(occupants, "SELECT count(*) FROM audit_log"))
    response = occupants.post("/v1/staff", json=body, headers=GM)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field
    assert scalar(occupants, "SELECT count(*) FROM staff_members") == 0
    assert scalar(occupants, "SELECT count(*) FROM staff_roles") == 0
    assert (scalar(occupants, "SELECT count(*) FROM outbox"), scalar(occupants, "SELECT count(*) FROM audit_log")) == before


def test_a_bad_patch_or_roles_change_changes_nothing(occupants, site):
    created = add(occupants, member("u-2", {site["id"]: ["technician"]}, phone="13800000002"))
    url = f"/v1/staff/{created['id']}"
    bad = occupants.patch(url, json={"phone": "+86 1", "full_name": "New Name"}, headers=GM)
    assert bad.status_code == 422 and bad.get_json()["field"] == "phone"
    bad = occupants.put(f"{url}/sites/{site['id']}/roles", json={"roles": ["janitor"]}, headers=GM)
    assert bad.status_code == 422 and bad.get_json()["field"] == "roles.0"
    assert occupants.put(f"{url}/sites/no-such-site/roles", json={"roles": ["technician"]},
                         headers=GM).status_code == 404
    after = occupants.get(url, headers=GM).get_json()
    assert (after["full_name"], after["version"], after["site_roles"]) == (
        created["full_name"], 1, [{"site_id": site["id"], "roles": ["technician"]}])
    assert len(member_events(occupants)) == 1


def test_a_site_manager_changes_roles_at_their_own_site_only(occupants, site, other_site):
    manager_here = bearer(roles=(), site_roles={site["id"]: ["site_manager"]}, sites=())
    created = add(occupants, member("u-3", {site["id"]: ["technician"]}))
    roles_here = f"/v1/staff/{created['id']}/sites/{site['id']}/roles"
    roles_there = f"/v1/staff/{created['id']}/sites/{other_site['id']}/roles"

    changed = occupants.put(roles_here, json={"roles": ["technician", "night_duty"]}, headers=manager_here)
    assert changed.status_code == 200
    assert changed.get_json()["site_roles"] == [{"site_id": site["id"], "roles": ["night_duty", "technician"]}]
    # Another site (invisible to this manager: 404), the organization-wide roles, the top two roles: refused.
    assert occupants.put(roles_there, json={"roles": ["technician"]}, headers=manager_here).status_code == 404
    assert occupants.put(roles_there, json={"roles": ["technician"]},
                         headers=bearer(roles=(), site_roles={site["id"]: ["site_manager"]})).status_code == 403
    assert occupants.put(f"/v1/staff/{created['id']}/sites/*/roles", json={"roles": ["technician"]},
                         headers=manager_here).status_code == 403
    assert occupants.put(roles_here, json={"roles": ["property_manager"]}, headers=manager_here).status_code == 403
    assert occupants.put(roles_here, json={"roles": []},
                         headers=bearer(roles=("cs_supervisor",))).status_code == 403
    # A general or property manager changes anything.
    assert occupants.put(roles_there, json={"roles": ["technician"]}, headers=PM).status_code == 200
    assert occupants.put(f"/v1/staff/{created['id']}/sites/*/roles", json={"roles": ["company_office"]},
                         headers=GM).status_code == 200

    # The profile of a member who also works elsewhere is for a manager of every site they work at.
    assert occupants.patch(f"/v1/staff/{created['id']}", json={"full_name": "x"},
                           headers=manager_here).status_code == 403
    only_here = add(occupants, member("u-4", {site["id"]: ["steward"]}), headers=manager_here)
    assert occupants.patch(f"/v1/staff/{only_here['id']}", json={"full_name": "Zhou Steward"},
                           headers=manager_here).get_json()["full_name"] == "Zhou Steward"
    # A site manager cannot add someone without a role at their site, nor at another's.
    assert occupants.post("/v1/staff", json=member("u-5"), headers=manager_here).status_code == 403
    assert occupants.post("/v1/staff", json=member("u-5", {other_site["id"]: ["steward"]}),
                          headers=bearer(roles=(), site_roles={site["id"]: ["site_manager"]})).status_code == 403


def test_roles_in_the_directory_are_authority_at_that_site_and_no_other(occupants, site, other_site):
    add(occupants, member("li.ming", {site["id"]: ["site_manager"]}))
    subject = add(occupants, member("u-6", {site["id"]: ["steward"], other_site["id"]: ["steward"]}))
    li_ming = as_user("li.ming", roles=("cs_specialist",))  # the token says specialist only
    manager_only = f"/v1/staff/{subject['id']}/sites/%s/roles"

    assert occupants.put(manager_only % site["id"], json={"roles": ["cs_specialist"]}, headers=li_ming).status_code == 200
    assert occupants.put(manager_only % other_site["id"], json={"roles": ["cs_specialist"]},
                         headers=li_ming).status_code == 403
    # Someone else with the same name in another organization's token gets nothing from this directory.
    assert occupants.put(manager_only % site["id"], json={"roles": ["steward"]},
                         headers=as_user("li.ming", org=ORG_B, roles=("cs_specialist",))).status_code == 404

    # Deactivated, the member holds no roles any more.
    li_ming_id = occupants.get("/v1/staff?role=site_manager", headers=GM).get_json()["items"][0]["id"]
    assert occupants.patch(f"/v1/staff/{li_ming_id}", json={"active": False, "reason": "left"},
                           headers=GM).status_code == 200
    assert occupants.put(manager_only % site["id"], json={"roles": ["steward"]}, headers=li_ming).status_code == 403


def test_a_token_without_roles_or_sites_gets_both_from_the_directory(occupants, site, other_site):
    add(occupants, member("kc-7f3a", {site["id"]: ["cs_specialist"]}))
    bare = as_user("kc-7f3a", sites=())
    assert occupants.get(f"/v1/sites/{site['id']}/escalation-chain", headers=bare).status_code == 200
    assert occupants.get(f"/v1/sites/{other_site['id']}/escalation-chain", headers=bare).status_code == 404


def test_one_directory_query_per_request_however_many_checks(occupants, site, other_site):
    add(occupants, member("li.ming", {site["id"]: ["site_manager"]}))
    subject = add(occupants, member("u-8", {site["id"]: ["steward"]}))
    statements = []
    engine = occupants.application.extensions["psp"].engine

    def count(conn, cursor, statement, *args):
        if "staff_members.user_id = " in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        # Visibility of the site and of the member, the manager check and the profile check.
        response = occupants.patch(f"/v1/staff/{subject['id']}", json={"full_name": "Steward Zhou"},
                                   headers=as_user("li.ming", sites=()))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert len(statements) == 1


def test_every_change_publishes_the_whole_member_and_is_audited(occupants, site, other_site):
    created = add(occupants, member("u-9", {site["id"]: ["cashier"]}, department="finance", phone="13800000009",
                                    channels=["sms", "app"]))
    url = f"/v1/staff/{created['id']}"
    occupants.patch(url, json={"email": "cashier@example.cn", "reason": "new address"}, headers=GM)
    occupants.patch(url, json={"email": "cashier@example.cn"}, headers=GM)  # no change: nothing recorded
    occupants.put(f"{url}/sites/{other_site['id']}/roles", json={"roles": ["cashier", "steward"]}, headers=GM)
    occupants.put(f"{url}/sites/{site['id']}/roles", json={"roles": []}, headers=GM)

    published = member_events(occupants)
    assert [e.version for e in published] == [1, 2, 3, 4]
    last = published[-1]
    assert (last.member_id, last.user_id, last.full_name, last.department) == (created["id"], "u-9", "U-9", "finance")
    assert (last.phone, last.email, list(last.channels), last.active) == (
        "+8613800000009", "cashier@example.cn", ["sms", "app"], True)
    assert [(r.site_id, list(r.roles)) for r in last.site_roles] == [(other_site["id"], ["cashier", "steward"])]
    assert [(r.site_id, list(r.roles)) for r in published[0].site_roles] == [(site["id"], ["cashier"])]

    actions = scalar(occupants, "SELECT group_concat(action, ',') FROM (SELECT action FROM audit_log "
                                "WHERE entity = 'staff_member' AND entity_id = :id ORDER BY id)", id=created["id"])
    assert actions == "created,updated,roles_set,roles_set"
    assert scalar(occupants, "SELECT reason FROM audit_log WHERE action = 'updated' AND entity_id = :id",
                  id=created["id"]) == "new address"
    assert scalar(occupants, "SELECT count(DISTINCT actor) FROM audit_log WHERE entity_id = :id",
                  id=created["id"]) == 1


def test_the_escalation_chain_names_who_holds_each_level_at_the_site(occupants, site, other_site):
    add(occupants, member("spec", {site["id"]: ["cs_specialist"]}, full_name="A Specialist"))
    add(occupants, member("sup", {site["id"]: ["cs_supervisor"], other_site["id"]: ["cs_specialist"]},
                          full_name="B Supervisor"))
    add(occupants, member("sm", {site["id"]: ["site_manager"]}, full_name="C Manager"))
    add(occupants, member("sm-elsewhere", {other_site["id"]: ["site_manager"]}, full_name="D Elsewhere"))
    add(occupants, member("pm", {"*": ["property_manager"]}, full_name="E Property"))
    add(occupants, member("gm", {"*": ["general_manager"]}, full_name="F General", phone="13800000010",
                          channels=["sms"]))
    gone = add(occupants, member("gone", {site["id"]: ["cs_specialist"]}, full_name="G Gone"))
    occupants.patch(f"/v1/staff/{gone['id']}", json={"active": False}, headers=GM)

    chain = occupants.get(f"/v1/sites/{site['id']}/escalation-chain", headers=bearer()).get_json()
    assert chain["site_id"] == site["id"]
    assert [(level["level"], level["role"], level["scope"], [m["full_name"] for m in level["members"]])
            for level in chain["levels"]] == [
        (1, "cs_specialist", "site", ["A Specialist"]),
        (2, "cs_supervisor", "site", ["B Supervisor"]),
        (3, "site_manager", "site", ["C Manager"]),
        (4, "property_manager", "organization", ["E Property"]),
        (5, "general_manager", "organization", ["F General"]),
    ]
    assert chain["levels"][4]["members"][0]["phone"] == "+8613800000010"
    elsewhere = occupants.get(f"/v1/sites/{other_site['id']}/escalation-chain", headers=bearer()).get_json()
    assert [m["full_name"] for m in elsewhere["levels"][0]["members"]] == ["B Supervisor"]
    assert occupants.get(f"/v1/sites/{site['id']}/escalation-chain", headers=bearer(org=ORG_B)).status_code == 404


def test_the_directory_lists_by_site_role_and_department_a_page_at_a_time(occupants, site, other_site):
    add(occupants, member("t1", {site["id"]: ["technician"]}, department="engineering", full_name="Tech One"))
    add(occupants, member("t2", {other_site["id"]: ["technician"]}, department="engineering", full_name="Tech Two"))
    add(occupants, member("g1", {site["id"]: ["security_guard"]}, department="security", full_name="Guard One"))
    add(occupants, member("gm", {"*": ["general_manager"]}, department="customer_service", full_name="Zhao GM"))

    def names(query: str) -> list[str]:
        response = occupants.get(f"/v1/staff?{query}", headers=bearer())
        assert response.status_code == 200, response.get_json()
        return [m["full_name"] for m in response.get_json()["items"]]

    assert names(f"site_id={site['id']}") == ["Guard One", "Tech One", "Zhao GM"]
    assert names("role=technician") == ["Tech One", "Tech Two"]
    assert names(f"role=technician&site_id={other_site['id']}") == ["Tech Two"]
    assert names("department=security") == ["Guard One"]
    seen, cursor = [], None
    while True:
        page = occupants.get("/v1/staff?limit=1" + (f"&cursor={cursor}" if cursor else ""), headers=bearer()).get_json()
        seen += [m["full_name"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Guard One", "Tech One", "Tech Two", "Zhao GM"]
    bad = occupants.get("/v1/staff?cursor=nonsense", headers=bearer())
    assert bad.status_code == 422 and bad.get_json()["field"] == "cursor"
    assert occupants.get(f"/v1/staff?site_id={site['id']}", headers=bearer(org=ORG_B)).status_code == 404
    assert occupants.get("/v1/staff", headers=bearer(org=ORG_B)).get_json()["items"] == []
