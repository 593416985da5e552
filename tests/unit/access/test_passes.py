"""Passes (ACC-2, ACC-6) on SQLite: issue, scope, windows, change, revoke, visitor passes, and the events each
change records in the outbox."""

from datetime import datetime, timedelta, timezone

from psp.access.v1.passes_pb2 import PassIssued, PassRevoked

from services.access.models import chassis
from tests.conftest import ORG_B
from tests.support.outbox import published
from tests.unit.access.support import FRONT_DESK, TECHNICIAN, a_site, ok, refused, staff

NOW = datetime.now(timezone.utc)


def _pass(where, **overrides):
    body = {"site_id": where["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": where["person_id"],
            "unit_id": where["unit_id"], "credential": "CARD-0001", "credential_kind": "card",
            "valid_from": (NOW - timedelta(hours=1)).isoformat(), "valid_until": (NOW + timedelta(days=30)).isoformat(),
            "zone_ids": [where["lobby"]]}
    body.update(overrides)
    return body


def _events(client, cls):
    state = client.application.extensions["psp"]
    return [payload for _, payload in published(state.engine, chassis, cls)]


def test_issue_announces_the_pass_with_its_zones_resolved_to_doors(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    assert issued["state"] == "active" and issued["allowed_steps"] == ["change", "revoke"]
    [event] = _events(access, PassIssued)
    assert event.pass_id == issued["id"] and event.credential == "CARD-0001"
    assert sorted(event.door_ids) == sorted([where["front"], where["turnstile"]])
    assert ok(access.get(f"/v1/passes/{issued['id']}", headers=FRONT_DESK))["version"] == issued["version"]


def test_bad_windows_scope_and_credentials_are_refused_naming_the_field(access):
    where = a_site(access)
    refused(access.post("/v1/passes", json=_pass(where, valid_until=(NOW - timedelta(days=2)).isoformat()),
                        headers=FRONT_DESK), 422, "valid_until")
    refused(access.post("/v1/passes", json=_pass(where, zone_ids=[]), headers=FRONT_DESK), 422, "door_ids")
    refused(access.post("/v1/passes", json=_pass(where, door_ids=["0" * 36]), headers=FRONT_DESK), 422, "door_ids")
    ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    refused(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 409, "credential")
    refused(access.post("/v1/passes", json=_pass(where), headers=TECHNICIAN), 403)
    assert len(_events(access, PassIssued)) == 1


def test_revocation_is_final_and_announced(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    revoked = ok(access.post(f"/v1/passes/{issued['id']}/revoke", json={"reason_code": "lost"}, headers=FRONT_DESK))
    assert revoked["state"] == "revoked" and revoked["revocation_reason"] == "lost"
    assert revoked["version"] > issued["version"]
    body = refused(access.post(f"/v1/passes/{issued['id']}/revoke", json={}, headers=FRONT_DESK), 409)
    assert body["allowed"] == []
    [event] = _events(access, PassRevoked)
    assert event.reason == "lost" and event.credential == "CARD-0001"
    # The card can be issued again once its pass is revoked.
    ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    trail = ok(access.get(f"/v1/passes/{issued['id']}/audit", headers=FRONT_DESK))
    assert [e["action"] for e in trail] == ["issue", "revoke"]


def test_change_widens_the_scope_and_announces_it_again(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    changed = ok(access.post(f"/v1/passes/{issued['id']}/change",
                             json={"zone_ids": [where["lobby"], where["garage"]]}, headers=FRONT_DESK))
    assert changed["zone_ids"] == [where["lobby"], where["garage"]]
    assert len(_events(access, PassIssued)[-1].door_ids) == 3


def test_a_new_door_in_a_zone_is_announced_for_the_passes_naming_it(access):
    where = a_site(access)
    ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    manager = staff("pm-chen", roles=("property_manager",))
    door = ok(access.post("/v1/doors", json={"site_id": where["site_id"], "name": "A back door", "kind": "door",
                                             "zone_ids": [where["lobby"]]}, headers=manager), 201)
    assert door["id"] in _events(access, PassIssued)[-1].door_ids


def test_visitor_pass_by_the_host_or_the_front_desk(access):
    where = a_site(access)
    visit = {"site_id": where["site_id"], "host_person_id": where["person_id"], "holder_name": "李四",
             "valid_from": NOW.isoformat(), "valid_until": (NOW + timedelta(hours=4)).isoformat(),
             "door_ids": [where["front"]]}
    host = staff(where["person_id"], roles=())
    by_host = ok(access.post("/v1/visits", json=visit, headers=host), 201)
    assert by_host["kind"] == "visitor" and by_host["max_uses"] == 1 and by_host["credential_kind"] == "qr"
    assert len(by_host["credential"]) == 16
    stranger = staff("someone-else", roles=())
    refused(access.post("/v1/visits", json=visit, headers=stranger), 403)
    ok(access.post("/v1/visits", json={**visit, "max_uses": 0}, headers=FRONT_DESK), 201)


def test_another_organization_sees_nothing(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    other = staff("cs-other", org=ORG_B)
    refused(access.get(f"/v1/passes/{issued['id']}", headers=other), 404)
    refused(access.post("/v1/passes", json=_pass(where), headers=other), 422, "site_id")
    refused(access.get(f"/v1/doors/{where['front']}", headers=other), 404)


def test_a_pass_is_shown_to_its_holder_and_the_issuing_staff_only(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    assert ok(access.get(f"/v1/passes/{issued['id']}", headers=staff(where["person_id"], roles=())))["id"]
    refused(access.get(f"/v1/passes/{issued['id']}", headers=staff("neighbour", roles=())), 403)
    refused(access.get(f"/v1/passes?site_id={where['site_id']}", headers=TECHNICIAN), 403)
    refused(access.get(f"/v1/passes?site_id={where['site_id']}", headers=staff("cs-b", org=ORG_B)), 404)
    assert len(ok(access.get(f"/v1/passes?site_id={where['site_id']}", headers=FRONT_DESK))["items"]) == 1
