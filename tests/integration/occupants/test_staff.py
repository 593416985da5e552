"""Staff directory on PostgreSQL and RabbitMQ: authority from the directory per site, and every change
reaching the bus as a whole snapshot through the outbox."""

from __future__ import annotations

import uuid

import pytest
from kombu import Queue
from psp.occupants.v1.staff_pb2 import StaffMemberChanged

from psp.events.v1.envelope_pb2 import Envelope
from shared import auth
from shared.bus.connection import connect
from shared.bus.envelope import unpack
from shared.bus.topology import events_exchange
from shared.config import Settings
from tests.conftest import ORG_A, ORG_B, SECRET, create_site, running_workers, wait_until

pytestmark = pytest.mark.integration


def who(subject: str, org: str = ORG_A, roles=(), sites=("*",), site_roles=None) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=list(sites), site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


GM = who("gm", roles=("general_manager",))


def add(client, user_id: str, site_roles: dict, **fields) -> dict:
    body = {"user_id": user_id, "full_name": fields.pop("full_name", user_id), "department": "customer_service",
            "site_roles": [{"site_id": s, "roles": r} for s, r in site_roles.items()], **fields}
    response = client.post("/v1/staff", json=body, headers=GM)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def staff_events(platform_env):
    """A queue of our own bound to occupants' exchange for staff.member_changed.v1: what a consumer gets."""
    settings = Settings()
    queue = Queue(f"test-staff-{uuid.uuid4().hex[:8]}", events_exchange("occupants"),
                  routing_key="staff.member_changed.v1", auto_delete=False, durable=False)
    with connect(settings) as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        received: list[StaffMemberChanged] = []

        def drain() -> list[StaffMemberChanged]:
            while (message := bound.get(no_ack=True)) is not None:
                received.append(unpack(Envelope.FromString(message.body), StaffMemberChanged).payload)
            return received

        yield drain
        bound.delete()


def test_a_site_manager_per_the_directory_acts_at_that_site_only(occupants_api, demo_site):
    elsewhere = create_site(occupants_api, code="BK", name="Bay Keep")["id"]
    add(occupants_api, "li.ming", {demo_site: ["site_manager"]})
    steward = add(occupants_api, "steward", {demo_site: ["steward"], elsewhere: ["steward"]})
    li_ming = who("li.ming", roles=("cs_specialist",))

    here = occupants_api.put(f"/v1/staff/{steward['id']}/sites/{demo_site}/roles",
                             json={"roles": ["steward", "night_duty"]}, headers=li_ming)
    assert here.status_code == 200, here.get_json()
    there = occupants_api.put(f"/v1/staff/{steward['id']}/sites/{elsewhere}/roles",
                              json={"roles": ["night_duty"]}, headers=li_ming)
    assert there.status_code == 403
    assert occupants_api.get(f"/v1/staff/{steward['id']}", headers=who("li.ming", org=ORG_B)).status_code == 404
    unchanged = occupants_api.get(f"/v1/staff/{steward['id']}", headers=GM).get_json()
    assert unchanged["site_roles"] == sorted([{"site_id": demo_site, "roles": ["night_duty", "steward"]},
                                              {"site_id": elsewhere, "roles": ["steward"]}],
                                             key=lambda held: held["site_id"])


def test_bad_input_changes_nothing_on_postgresql(occupants_api, demo_site, databases):
    before = databases["occupants"].count("outbox")
    response = occupants_api.post("/v1/staff", headers=GM, json={
        "user_id": "u-1", "full_name": "x", "department": "customer_service", "phone": "999",
        "site_roles": [{"site_id": demo_site, "roles": ["technician"]}]})
    assert response.status_code == 422 and response.get_json()["field"] == "phone"
    assert databases["occupants"].count("staff_members") == 0
    assert databases["occupants"].count("staff_roles") == 0
    assert databases["occupants"].count("outbox") == before


def test_every_change_reaches_the_bus_as_the_whole_member(occupants_api, demo_site, databases, staff_events):
    created = add(occupants_api, "tech-1", {demo_site: ["technician"]}, full_name="孙磊", phone="13900000105",
                  channels=["sms", "app"])
    occupants_api.put(f"/v1/staff/{created['id']}/sites/*/roles", json={"roles": ["night_duty"]}, headers=GM)
    occupants_api.patch(f"/v1/staff/{created['id']}", json={"active": False, "reason": "left the company"},
                        headers=GM)

    with running_workers("occupants"):
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM outbox WHERE event_type = 'staff.member_changed.v1' AND published_at IS NOT NULL"
        ) == 3, what="the staff events published")
    received = wait_until(lambda: len(staff_events()) == 3 and staff_events(), what="the staff events delivered")
    assert [e.version for e in received] == [1, 2, 3]
    first, last = received[0], received[-1]
    assert (first.member_id, first.user_id, first.full_name, first.phone, list(first.channels), first.active) == (
        created["id"], "tech-1", "孙磊", "+8613900000105", ["sms", "app"], True)
    assert [(r.site_id, list(r.roles)) for r in first.site_roles] == [(demo_site, ["technician"])]
    assert sorted((r.site_id, list(r.roles)) for r in last.site_roles) == sorted(
        [("*", ["night_duty"]), (demo_site, ["technician"])])
    assert last.active is False
    assert databases["occupants"].scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'staff_member' AND entity_id = :id", id=created["id"]) == 3


def test_the_escalation_chain_on_postgresql(occupants_api, demo_site):
    add(occupants_api, "spec", {demo_site: ["cs_specialist"]}, full_name="Chen Jing")
    add(occupants_api, "sup", {demo_site: ["cs_supervisor"]}, full_name="Liu Yang")
    add(occupants_api, "gm-1", {"*": ["general_manager"]}, full_name="Zheng Hua")
    chain = occupants_api.get(f"/v1/sites/{demo_site}/escalation-chain", headers=who("desk")).get_json()
    assert {level["role"]: [m["full_name"] for m in level["members"]] for level in chain["levels"]} == {
        "cs_specialist": ["Chen Jing"], "cs_supervisor": ["Liu Yang"], "site_manager": [],
        "property_manager": [], "general_manager": ["Zheng Hua"]}
