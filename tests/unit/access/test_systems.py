"""Registered access-control systems on SQLite: registration and door mapping, grants and revocations pushed
to the reference controller and to the Hikvision simulator, sync state through failures, 429 and 410, and the
entries the systems report, kept once per serial number."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from psp.access.v1.passes_pb2 import PassIssued, PassRevoked
from sqlalchemy import select

from services.access.models import chassis
from services.access.systems import demo, hikvision, sync
from services.access.systems.tables import AccessSystem, DoorEvent, SyncState
from tests.conftest import ORG_A, ORG_B
from tests.support.access.controller import ReferenceController
from tests.support.access.hikvision import HikvisionDevice
from tests.support.outbox import published
from tests.support.tickets import staff
from tests.unit.access.support import FRONT_DESK, a_site, deliver, ok, refused, sessions_of

MANAGER = staff("sm-zhou", roles=("site_manager",))


@pytest.fixture
def site(access):
    return a_site(access)


def _started():
    controller = ReferenceController()
    controller.start()
    yield controller
    controller.stop()


controller = pytest.fixture(_started, name="controller")
garage_controller = pytest.fixture(_started, name="garage_controller")


@pytest.fixture
def garage(access, site, garage_controller) -> dict:
    """A second system at the site, with the car park barrier only."""
    return register_webhook(access, site, garage_controller,
                            doors=[{"door_id": site["barrier"], "system_door_id": "b"}])


@pytest.fixture
def device():
    device = HikvisionDevice()
    device.start()
    yield device
    device.stop()


def register_webhook(access, site, controller, doors=None) -> dict:
    doors = doors if doors is not None else [{"door_id": site["front"], "system_door_id": "front-1"},
                                             {"door_id": site["turnstile"], "system_door_id": "gate-2"}]
    system = ok(access.post("/v1/access-systems", headers=MANAGER, json={
        "site_id": site["site_id"], "name": "Lobby controller", "adapter": "webhook", "base_url": controller.url,
        "doors": doors}), 201)
    controller.secret = system["secret"]
    return system


def register_hikvision(access, site, device) -> dict:
    return ok(access.post("/v1/access-systems", headers=MANAGER, json={
        "site_id": site["site_id"], "name": "Car park terminal", "adapter": "hikvision", "base_url": device.url,
        "username": device.username, "password": device.password, "time_zone": "Asia/Shanghai",
        "doors": [{"door_id": site["barrier"], "system_door_id": "1"},
                  {"door_id": site["front"], "system_door_id": "2"}]}), 201)


def issued(site, doors, credential="CARD-0001", pass_id=None, kind="card", hours=8) -> PassIssued:
    event = PassIssued(pass_id=pass_id or str(uuid.uuid4()), site_id=site["site_id"], kind="resident",
                       person_id=site["person_id"], holder_name="张伟", credential=credential,
                       credential_kind=kind, door_ids=doors)
    start = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    event.valid_from.FromDatetime(start)
    event.valid_until.FromDatetime(start + timedelta(days=365, hours=hours))
    return event


def revoked(grant: PassIssued, reason="moved_out") -> PassRevoked:
    return PassRevoked(pass_id=grant.pass_id, site_id=grant.site_id, credential=grant.credential,
                       credential_kind=grant.credential_kind, reason=reason)


def states(access, system_id) -> list[dict]:
    return ok(access.get(f"/v1/access-systems/{system_id}/sync-states", headers=FRONT_DESK))["items"]


def push(access) -> int:
    return sync.push_due(sessions_of(access))


def make_due(access) -> None:
    """Bring every scheduled retry to now, as time passing would."""
    with sessions_of(access)() as session, session.begin():
        for row in session.scalars(select(SyncState).where(SyncState.next_attempt_at.is_not(None))):
            row.next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)


# -- registration ------------------------------------------------------------------------------------------

def test_a_registered_system_shows_its_secret_once_and_its_door_mapping(access, site, controller):
    system = register_webhook(access, site, controller)
    assert system["secret"].startswith("whsec_")
    shown = ok(access.get(f"/v1/access-systems/{system['id']}", headers=FRONT_DESK))
    assert "secret" not in shown and "password" not in shown
    assert {door["system_door_id"] for door in shown["doors"]} == {"front-1", "gate-2"}
    listed = ok(access.get(f"/v1/access-systems?site_id={site['site_id']}", headers=FRONT_DESK))["items"]
    assert [item["id"] for item in listed] == [system["id"]]
    trail = ok(access.get(f"/v1/access-systems/{system['id']}/audit", headers=FRONT_DESK))
    assert [entry["action"] for entry in trail] == ["register"]


def test_registration_refuses_bad_input_naming_the_field_and_changes_nothing(access, site, controller):
    body = {"site_id": site["site_id"], "name": "X", "adapter": "webhook", "base_url": controller.url}
    refused(access.post("/v1/access-systems", headers=MANAGER, json={**body, "adapter": "zkteco"}), 422, "adapter")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={**body, "base_url": "ftp://x"}), 422,
            "base_url")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={**body, "time_zone": "Mars/Olympus"}), 422,
            "time_zone")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={
        **body, "doors": [{"door_id": str(uuid.uuid4()), "system_door_id": "1"}]}), 422, "doors.0.door_id")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={
        **body, "doors": [{"door_id": site["front"], "system_door_id": "1"},
                          {"door_id": site["turnstile"], "system_door_id": "1"}]}), 422, "doors.1.system_door_id")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={
        **body, "adapter": "hikvision", "username": "admin"}), 422, "password")
    refused(access.post("/v1/access-systems", headers=MANAGER, json={
        **body, "adapter": "hikvision", "username": "admin", "password": "p",
        "doors": [{"door_id": site["front"], "system_door_id": "front"}]}), 422, "doors.0.system_door_id")
    refused(access.post("/v1/access-systems", headers=FRONT_DESK, json=body), 403)
    assert ok(access.get(f"/v1/access-systems?site_id={site['site_id']}", headers=FRONT_DESK))["items"] == []


def test_another_organization_sees_no_system_and_cannot_touch_one(access, site, controller):
    system = register_webhook(access, site, controller)
    other = staff("gm-b", roles=("general_manager",), org=ORG_B)
    refused(access.get(f"/v1/access-systems/{system['id']}", headers=other), 404)
    refused(access.post(f"/v1/access-systems/{system['id']}/resync", headers=other, json={}), 404)
    refused(access.get(f"/v1/access-systems/{system['id']}/sync-states", headers=other), 404)


# -- grants and revocations to the reference controller --------------------------------------------------

def test_a_grant_reaches_the_controller_with_its_own_door_ids_and_the_revocation_removes_it(access, site,
                                                                                           controller):
    system = register_webhook(access, site, controller)
    grant = issued(site, [site["front"], site["barrier"]])
    deliver(access, grant)
    assert [(row["credential"], row["state"]) for row in states(access, system["id"])] == [("CARD-0001", "pending")]
    assert push(access) == 1
    held = controller.allow_list["CARD-0001"]
    assert held["doors"] == ["front-1"] and held["pass_id"] == grant.pass_id
    assert controller.allows("CARD-0001", "front-1") and not controller.allows("CARD-0001", "gate-2")
    [row] = states(access, system["id"])
    assert (row["state"], row["action"], row["attempts"]) == ("acknowledged", "grant", 1)

    deliver(access, revoked(grant))
    assert push(access) == 1
    assert "CARD-0001" not in controller.allow_list
    [row] = states(access, system["id"])
    assert (row["state"], row["action"]) == ("acknowledged", "revoke")
    assert controller.refused == [] and controller.replays == 0


def test_a_grant_goes_only_where_its_doors_are_mapped_and_a_revocation_goes_everywhere(access, site, controller,
                                                                                         garage, garage_controller):
    lobby = register_webhook(access, site, controller)
    grant = issued(site, [site["front"]])
    deliver(access, grant)
    assert len(states(access, lobby["id"])) == 1 and states(access, garage["id"]) == []
    deliver(access, revoked(grant))
    assert [row["action"] for row in states(access, garage["id"])] == ["revoke"]
    push(access)
    assert garage_controller.applied[0][1]["type"] == "psp.access.revoke.v1"


def test_a_change_older_than_the_one_held_is_dropped(access, site, controller):
    system = register_webhook(access, site, controller)
    grant = issued(site, [site["front"]])
    deliver(access, revoked(grant))
    with sessions_of(access)() as session, session.begin():
        row = session.scalar(select(SyncState))
        row.changed_at = datetime.now(timezone.utc) + timedelta(minutes=5)  # the revocation is the newer change
    deliver(access, grant)
    assert [row["action"] for row in states(access, system["id"])] == ["revoke"]


def test_a_pass_issued_again_with_another_card_revokes_the_old_card(access, site, controller):
    register_webhook(access, site, controller)
    first = issued(site, [site["front"]], credential="CARD-OLD")
    deliver(access, first)
    push(access)
    deliver(access, issued(site, [site["front"]], credential="CARD-NEW", pass_id=first.pass_id))
    push(access)
    assert set(controller.allow_list) == {"CARD-NEW"}


def test_a_failing_system_is_retried_with_backoff_and_recovers(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.answers.extend([503, 503])
    deliver(access, issued(site, [site["front"]]))
    push(access)
    [row] = states(access, system["id"])
    assert (row["state"], row["reason"], row["attempts"]) == ("failed", "HTTP 503", 1)
    assert datetime.fromisoformat(row["next_attempt_at"]) > datetime.now(timezone.utc)
    assert push(access) == 0  # not due before its backoff
    make_due(access)
    push(access)
    first_wait = datetime.fromisoformat(states(access, system["id"])[0]["next_attempt_at"])
    assert states(access, system["id"])[0]["attempts"] == 2
    assert first_wait > datetime.now(timezone.utc)
    make_due(access)
    push(access)
    [row] = states(access, system["id"])
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("acknowledged", 3, None)
    assert "CARD-0001" in controller.allow_list


def test_backoff_doubles_up_to_the_longest_wait():
    for attempts, ceiling in ((1, 1), (2, 2), (5, 16), (30, 300)):
        wait = sync.backoff(attempts, 1, 300)
        assert ceiling / 2 <= wait <= ceiling


def test_a_429_waits_as_long_as_the_system_asks(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.answers.extend([429, 429])
    controller.retry_after = "120"
    deliver(access, issued(site, [site["front"]], credential="C-1"), issued(site, [site["front"]], credential="C-2"))
    push(access)
    rows = states(access, system["id"])
    assert [row["state"] for row in rows] == ["pending", "pending"]
    for row in rows:
        wait = datetime.fromisoformat(row["next_attempt_at"]) - datetime.now(timezone.utc)
        assert timedelta(seconds=100) < wait <= timedelta(seconds=120)
        assert "429" in row["reason"]
    assert controller.applied == []
    assert push(access) == 0
    make_due(access)
    push(access)
    assert set(controller.allow_list) == {"C-1", "C-2"}


def test_after_a_429_the_systems_changes_not_sent_yet_wait_unsent(access, site, controller, monkeypatch):
    monkeypatch.setattr(sync, "PUSHERS", 1)  # one at a time, so the second is not on its way already
    system = register_webhook(access, site, controller)
    controller.answers.append(429)
    controller.retry_after = "60"
    deliver(access, issued(site, [site["front"]], credential="C-1"), issued(site, [site["front"]], credential="C-2"))
    push(access)
    assert [status for _, status in controller.answered] == [429]
    rows = states(access, system["id"])
    assert [row["state"] for row in rows] == ["pending", "pending"]
    assert [row["attempts"] for row in rows] == [0, 0]
    assert all("429" in row["reason"] for row in rows)


def test_a_410_disables_the_system_and_enabling_it_pushes_everything_again(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.answers.append(410)
    deliver(access, issued(site, [site["front"]]))
    push(access)
    shown = ok(access.get(f"/v1/access-systems/{system['id']}", headers=FRONT_DESK))
    assert shown["state"] == "disabled" and "410" in shown["disabled_reason"]
    [row] = states(access, system["id"])
    assert (row["state"], row["next_attempt_at"]) == ("failed", None)
    refused(access.put(f"/v1/access-systems/{system['id']}/state", headers=MANAGER, json={"state": "disabled"}), 409)
    refused(access.put(f"/v1/access-systems/{system['id']}/state", headers=MANAGER, json={"state": "on"}), 422,
            "state")
    ok(access.put(f"/v1/access-systems/{system['id']}/state", headers=MANAGER,
                  json={"state": "active", "reason": "endpoint back"}))
    push(access)
    assert "CARD-0001" in controller.allow_list
    actions = [entry["action"] for entry in ok(access.get(f"/v1/access-systems/{system['id']}/audit",
                                                          headers=FRONT_DESK))]
    assert actions == ["register", "disable", "enable", "resync"]


def test_a_refused_change_waits_for_a_resync(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.answers.append(400)
    deliver(access, issued(site, [site["front"]]))
    push(access)
    [row] = states(access, system["id"])
    assert (row["state"], row["next_attempt_at"]) == ("failed", None) and row["reason"].startswith("refused: HTTP 400")
    assert ok(access.post(f"/v1/access-systems/{system['id']}/resync", headers=MANAGER,
                          json={"reason": "controller reset"})) == {"queued": 1}
    push(access)
    assert states(access, system["id"])[0]["state"] == "acknowledged"
    refused(access.post(f"/v1/access-systems/{system['id']}/resync", headers=FRONT_DESK, json={}), 403)


def test_mapping_the_doors_again_pushes_the_new_door_ids_and_revokes_where_none_is_left(access, site, controller):
    system = register_webhook(access, site, controller)
    deliver(access, issued(site, [site["front"]]))
    push(access)
    ok(access.put(f"/v1/access-systems/{system['id']}/doors", headers=MANAGER,
                  json={"doors": [{"door_id": site["front"], "system_door_id": "front-renamed"}]}))
    push(access)
    assert controller.allow_list["CARD-0001"]["doors"] == ["front-renamed"]
    ok(access.put(f"/v1/access-systems/{system['id']}/doors", headers=MANAGER,
                  json={"doors": [{"door_id": site["turnstile"], "system_door_id": "gate-2"}]}))
    push(access)
    assert "CARD-0001" not in controller.allow_list


def test_a_change_accepted_for_later_is_sent_until_the_system_acknowledges_it(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.accept_later = True
    deliver(access, issued(site, [site["front"]]))
    push(access)
    assert states(access, system["id"])[0]["state"] == "sent"
    body, headers = controller.acknowledge_pending()
    answer = ok(access.post(f"/v1/access-systems/{system['id']}/events", data=body, headers=headers))
    assert answer == {"result": "acknowledged", "acknowledged": 1}
    assert states(access, system["id"])[0]["state"] == "acknowledged"


def test_a_change_not_acknowledged_in_time_is_sent_again_under_the_same_webhook_id(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.accept_later = True
    deliver(access, issued(site, [site["front"]]))
    push(access)
    [row] = states(access, system["id"])
    assert row["state"] == "sent"
    assert datetime.fromisoformat(row["next_attempt_at"]) - datetime.now(timezone.utc) > timedelta(seconds=50)
    controller.accept_later = False
    make_due(access)  # the acknowledgement timeout passed
    push(access)
    assert states(access, system["id"])[0]["state"] == "acknowledged"
    assert controller.replays == 1 and len(controller.applied) == 1  # the same change, applied once


def test_two_pushers_never_push_the_same_change_twice(access, site, controller):
    """On SQLite the second finds nothing due once the first has written; on PostgreSQL SKIP LOCKED keeps
    them apart while both run (tests/integration/access)."""
    register_webhook(access, site, controller)
    deliver(access, issued(site, [site["front"]]))
    assert push(access) == 1 and push(access) == 0
    assert len(controller.applied) == 1


# -- what the systems report -------------------------------------------------------------------------------

def test_entries_reported_by_webhook_are_kept_once_per_serial_number_with_their_pass(access, site, controller):
    system = register_webhook(access, site, controller)
    grant = issued(site, [site["front"]])
    deliver(access, grant)
    push(access)
    path = f"/v1/access-systems/{system['id']}/events"
    body, headers = controller.swipe("CARD-0001", "front-1", serial_no="42")
    assert ok(access.post(path, data=body, headers=headers))["result"] == "kept"
    body, headers = controller.swipe("CARD-0001", "front-1", serial_no="42")
    assert ok(access.post(path, data=body, headers=headers))["result"] == "duplicate"
    body, headers = controller.swipe("CARD-0001", "front-1", direction="exit", serial_no="43")
    ok(access.post(path, data=body, headers=headers))
    events = ok(access.get(f"/v1/door-events?pass_id={grant.pass_id}", headers=FRONT_DESK))["items"]
    assert [(e["serial_no"], e["direction"], e["outcome"], e["door_id"]) for e in events] == [
        ("42", "entry", "granted", site["front"]), ("43", "exit", "granted", site["front"])]
    assert ok(access.get(f"/v1/door-events?pass_id={grant.pass_id}",
                         headers=staff("x", org=ORG_B)))["items"] == []


def test_forged_replayed_and_unmapped_reports_are_refused_and_nothing_is_kept(access, site, controller):
    system = register_webhook(access, site, controller)
    path = f"/v1/access-systems/{system['id']}/events"
    body, headers = controller.swipe("CARD-0001", "front-1", serial_no="1")
    body_forged = body.replace(b"front-1", b"gate-2")
    assert refused(access.post(path, data=body_forged, headers=headers), 401)["reason"] == "bad_signature"
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    body, headers = controller.signed("psp.access.door_passed.v1", {"serial_no": "2", "door": "front-1",
                                                                    "occurred_at": old.isoformat()}, at=old)
    assert refused(access.post(path, data=body, headers=headers), 401)["reason"] == "replayed"
    body, headers = controller.swipe("CARD-0001", "back-door-9", serial_no="3")
    problem = refused(access.post(path, data=body, headers=headers), 422, "data.door")
    assert problem["reason"] == "door_not_mapped"
    body, headers = controller.signed("psp.access.door_passed.v1", {"serial_no": "4", "door": "front-1"})
    refused(access.post(path, data=body, headers=headers), 422, "data.occurred_at")
    body, headers = controller.signed("psp.access.alarm.v1", {})
    refused(access.post(path, data=body, headers=headers), 422, "type")
    body, headers = controller.swipe("CARD-0001", "front-1", serial_no="5")
    assert refused(access.post(path, data=body, headers={**headers, "webhook-timestamp": "soon"}), 401)["reason"] \
        == "bad_signature"
    refused(access.post(f"/v1/access-systems/{uuid.uuid4()}/events", data=body, headers=headers), 404)
    with sessions_of(access)() as session:
        assert session.scalar(select(chassis.audit_log.c.reason).where(
            chassis.audit_log.c.action == "refuse_door_event")) == "door_not_mapped"
        assert session.scalars(select(DoorEvent)).all() == []


# -- Hikvision ---------------------------------------------------------------------------------------------

def test_a_hikvision_device_gets_the_person_and_card_in_its_own_time_and_loses_both_on_revocation(access, site,
                                                                                                  device):
    system = register_hikvision(access, site, device)
    grant = issued(site, [site["barrier"], site["front"], site["turnstile"]], credential="3305567890")
    deliver(access, grant)
    push(access)
    employee = grant.pass_id.replace("-", "")
    user = device.users[employee]
    # 2026-12-01T00:00Z is 08:00 in Shanghai.
    assert user["Valid"]["beginTime"] == "2026-12-01T08:00:00" and user["Valid"]["timeType"] == "local"
    assert user["doorRight"] == "1,2" and device.cards == {"3305567890": employee}
    assert device.unauthorized >= 1  # digest auth: challenged first, then answered
    assert states(access, system["id"])[0]["state"] == "acknowledged"

    deliver(access, issued(site, [site["barrier"]], credential="3305567890", pass_id=grant.pass_id, hours=9))
    push(access)
    assert device.users[employee]["doorRight"] == "1"
    assert [path for _, path, _ in device.calls].count("UserInfo/Modify") == 1

    deliver(access, revoked(grant))
    push(access)
    assert device.users == {} and device.cards == {}
    assert states(access, system["id"])[0]["state"] == "acknowledged"


def test_a_hikvision_revocation_of_what_the_device_never_held_is_done(access, site, device):
    system = register_hikvision(access, site, device)
    deliver(access, revoked(issued(site, [site["barrier"]], credential="999")))
    push(access)
    assert states(access, system["id"])[0]["state"] == "acknowledged"


def test_wrong_device_credentials_fail_with_the_reason_and_are_retried(access, site, device):
    system = register_hikvision(access, site, device)
    device.password = "changed-on-the-device"
    deliver(access, issued(site, [site["barrier"]]))
    push(access)
    [row] = states(access, system["id"])
    assert row["state"] == "failed" and "401" in row["reason"] and row["next_attempt_at"]


def test_hikvision_events_are_read_back_by_serial_number_none_missed_none_twice(access, site, device):
    system = register_hikvision(access, site, device)
    grant = issued(site, [site["barrier"]], credential="3305567890")
    deliver(access, grant)
    push(access)
    for _ in range(35):  # more than one page
        device.swipe("3305567890", 1, reader=1)
    device.swipe("3305567890", 1, reader=2)
    device.swipe("3305567890", 7)  # a door not mapped
    assert sync.poll_devices(sessions_of(access)) == 36
    device.swipe("3305567890", 2, reader=2)
    assert sync.poll_devices(sessions_of(access)) == 1
    assert sync.poll_devices(sessions_of(access)) == 0
    events = []
    cursor = ""
    while True:
        page = ok(access.get(f"/v1/door-events?pass_id={grant.pass_id}&limit=200{cursor}", headers=FRONT_DESK))
        events += page["items"]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(int(e["serial_no"]) for e in events) == [*range(1, 37), 38]
    assert [e["direction"] for e in events if e["serial_no"] in ("36", "38")] == ["exit", "exit"]
    # The pass opens the barrier (door 1) only: the device itself refused it at door 2.
    assert {e["serial_no"] for e in events if e["outcome"] == "denied"} == {"38"}
    with sessions_of(access)() as session:
        assert session.get(AccessSystem, system["id"]).last_event_serial == 38


# -- metrics -----------------------------------------------------------------------------------------------

def test_the_backlog_and_the_oldest_unacknowledged_change_are_measured_per_system(access, site, controller):
    system = register_webhook(access, site, controller)
    controller.answers.extend([503])
    deliver(access, issued(site, [site["front"]]))
    push(access)
    sync.observe_backlog(sessions_of(access))
    assert sync.SYNC_BACKLOG.labels("access", system["id"])._value.get() == 1
    assert sync.SYNC_OLDEST.labels("access", system["id"])._value.get() > 0
    make_due(access)
    push(access)
    sync.observe_backlog(sessions_of(access))
    assert sync.SYNC_BACKLOG.labels("access", system["id"])._value.get() == 0
    assert sync.SYNC_OLDEST.labels("access", system["id"])._value.get() == 0


# -- demo --------------------------------------------------------------------------------------------------

def test_the_demo_registers_the_reference_controller_once_the_site_is_known(access, controller):
    with sessions_of(access)() as session, session.begin():
        assert demo.seed_live(session, ORG_A) is False
    site = a_site(access)
    for _ in range(2):
        with sessions_of(access)() as session, session.begin():
            assert demo.seed_live(session, ORG_A) is True
    [system] = ok(access.get(f"/v1/access-systems?site_id={site['site_id']}", headers=FRONT_DESK))["items"]
    assert (system["name"], system["base_url"], system["state"]) == (demo.DEMO_NAME, demo.DEMO_URL, "active")
    assert {door["door_id"] for door in system["doors"]} == {site["front"], site["turnstile"], site["barrier"]}
    # The README's walk-through: the controller started with the demo secret takes what is pushed.
    controller.secret = demo.DEMO_SECRET
    with sessions_of(access)() as session, session.begin():
        session.get(AccessSystem, system["id"]).base_url = controller.url
    deliver(access, issued(site, [site["front"]]))
    push(access)
    assert "CARD-0001" in controller.allow_list


def test_the_controller_checks_a_qr_pass_offline_and_stops_opening_once_the_revocation_reaches_it(access, site,
                                                                                                 controller):
    register_webhook(access, site, controller)
    manager = staff("pm-chen", roles=("property_manager",))
    now = datetime.now(timezone.utc)
    issued_pass = ok(access.post("/v1/passes", headers=manager, json={
        "site_id": site["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": site["person_id"],
        "credential_kind": "qr", "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(), "door_ids": [site["front"]]}), 201)
    deliver_published(access, PassIssued)
    push(access)
    token = ok(access.get(f"/v1/passes/{issued_pass['id']}/token", headers=manager))["token"]
    controller.trust(ok(access.get("/v1/token-keys", headers=manager)))
    assert controller.scan(token, "front-1") == (True, "granted")
    assert controller.scan(token, "gate-2") == (False, "not_in_scope")
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert controller.scan(forged, "front-1")[0] is False
    assert controller.scan(token, "front-1", at=now + timedelta(days=3)) == (False, "expired")

    ok(access.post(f"/v1/passes/{issued_pass['id']}/revoke", headers=manager, json={"reason_code": "lost"}))
    deliver_published(access, PassRevoked)
    push(access)
    assert controller.scan(token, "front-1") == (False, "not_granted")


def deliver_published(access, message_cls) -> None:
    """What access's passes recorded in the outbox, handed to its own handlers as the consumer would."""
    engine = access.application.extensions["psp"].engine
    deliver(access, *[payload for _, payload in published(engine, chassis, message_cls)])


def test_a_pass_moved_to_another_systems_doors_is_revoked_where_it_was(access, site, controller, garage,
                                                                       garage_controller):
    lobby = register_webhook(access, site, controller)
    grant = issued(site, [site["front"]])
    deliver(access, grant)
    push(access)
    deliver(access, issued(site, [site["barrier"]], pass_id=grant.pass_id))
    push(access)
    assert "CARD-0001" not in controller.allow_list and garage_controller.allow_list["CARD-0001"]["doors"] == ["b"]
    assert [row["action"] for row in states(access, lobby["id"])] == ["revoke"]
    assert [row["action"] for row in states(access, garage["id"])] == ["grant"]


def test_a_system_registered_after_passes_were_issued_gets_those_in_force_at_its_doors(access, site, controller):
    manager = staff("pm-chen", roles=("property_manager",))
    now = datetime.now(timezone.utc)
    for credential, doors in (("CARD-FRONT", [site["front"]]), ("CARD-BARRIER", [site["barrier"]])):
        ok(access.post("/v1/passes", headers=manager, json={
            "site_id": site["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": site["person_id"],
            "credential": credential, "credential_kind": "card", "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(), "door_ids": doors}), 201)
    system = register_webhook(access, site, controller)
    assert [(row["credential"], row["action"]) for row in states(access, system["id"])] == [("CARD-FRONT", "grant")]
    push(access)
    assert set(controller.allow_list) == {"CARD-FRONT"}
    trail = ok(access.get(f"/v1/access-systems/{system['id']}/audit", headers=FRONT_DESK))
    assert trail[0]["action"] == "register"


def test_device_local_times_are_in_the_devices_zone_and_end_by_2037():
    assert hikvision.local_time("2026-12-01T16:30:00+00:00", "Asia/Shanghai") == "2026-12-02T00:30:00"
    assert hikvision.local_time("2026-07-01T12:00:00+00:00", "Europe/London") == "2026-07-01T13:00:00"
    assert hikvision.local_time("2099-01-01T00:00:00+00:00", "Asia/Shanghai") == "2037-12-31T23:59:59"
