"""Occupant notices (NTF-3): the audience counted before sending, targeting by building, floor, unit kind or
list, scheduled and expiring, read receipts, a printable page; another organization's site refused."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from services.notifications.delivery.tables import Message
from services.notifications.notices import rules
from services.notifications.notices.tables import Notice
from tests.conftest import ORG_B
from tests.support.notifications.events import BUILDING_A, BUILDING_B, SITE, a_site, an_occupant, as_user

DESK = as_user("desk-wang", roles=("cs_specialist",))
OTHER_SITE = "5e000000-0000-4000-8000-0000000000bb"


def water_notice(target: dict, **extra) -> dict:
    return {"target": target, "texts": {"zh-CN": {"title": "停水通知", "body": "明天9点至12点停水。"},
                                        "en": {"title": "Water off", "body": "Water is off 9-12 tomorrow."}}, **extra}


def building(building_id=BUILDING_A) -> dict:
    return {"scope": "building", "site_id": SITE, "building_id": building_id}


def people_in_two_buildings(sessions):
    a = [an_occupant(sessions, n, channels=("app",), building_id=BUILDING_A, floor=n) for n in (1, 2)]
    a.append(an_occupant(sessions, 3, channels=("app",), building_id=BUILDING_A, floor=2, language="en",
                         kind="shop"))
    b = [an_occupant(sessions, 4, channels=("app",), building_id=BUILDING_B)]
    return a, b


def test_the_audience_is_counted_before_sending_for_each_kind_of_target(client, sessions):
    people_in_two_buildings(sessions)
    counts = {}
    for name, target in {"site": {"scope": "site", "site_id": SITE}, "building": building(),
                         "floor": {**building(), "scope": "floor", "floor": 2},
                         "shops": {"scope": "unit_kind", "site_id": SITE, "unit_kind": "shop"},
                         "organization": {"scope": "organization"}}.items():
        response = client.post("/v1/notices/audience", json={"target": target},
                               headers=as_user("gm", roles=("general_manager",)))
        assert response.status_code == 200, response.get_json()
        counts[name] = response.get_json()["count"]
    assert counts == {"site": 4, "building": 3, "floor": 2, "shops": 1, "organization": 4}


def test_a_building_notice_reaches_its_occupants_in_their_language_and_they_read_it(client, sessions, send):
    in_a, in_b = people_in_two_buildings(sessions)
    created = client.post("/v1/notices", json=water_notice(building()), headers=DESK)
    assert created.status_code == 201, created.get_json()
    notice = created.get_json()
    assert (notice["state"], notice["audience"]) == ("draft", 3)
    sent = client.post(f"/v1/notices/{notice['id']}/send", json={}, headers=DESK)
    assert sent.status_code == 200 and sent.get_json()["state"] == "scheduled"
    assert rules.dispatch_due(sessions) == 1
    assert rules.dispatch_due(sessions) == 0, "sent once"
    send()
    inbox = client.get("/v1/inbox", headers=as_user(in_a[2])).get_json()["items"]
    assert [(m["subject"], m["status"]) for m in inbox] == [("Water off", "delivered")]
    assert client.get("/v1/inbox", headers=as_user(in_b[0])).get_json()["items"] == []
    read = client.post(f"/v1/inbox/{inbox[0]['id']}/read", headers=as_user(in_a[2]))
    assert read.status_code == 200 and read.get_json()["status"] == "read"
    assert client.post(f"/v1/inbox/{inbox[0]['id']}/read", headers=as_user(in_a[2])).status_code == 200
    assert client.post(f"/v1/inbox/{inbox[0]['id']}/read", headers=as_user(in_a[0])).status_code == 404, \
        "someone else's message"
    detail = client.get(f"/v1/notices/{notice['id']}", headers=DESK).get_json()
    assert detail["receipts"] == {"queued": 0, "sent": 0, "delivered": 2, "read": 1, "failed": 0}
    assert [entry["action"] for entry in detail["trail"]] == ["create", "schedule", "dispatch"]


def test_a_notice_targeting_another_organizations_site_is_refused_and_nothing_is_written(client, sessions):
    a_site(sessions, site_id=OTHER_SITE, organization_id=ORG_B)
    for target in ({"scope": "site", "site_id": OTHER_SITE}, {"scope": "building", "site_id": OTHER_SITE,
                                                                  "building_id": BUILDING_A}):
        response = client.post("/v1/notices", json=water_notice(target), headers=DESK)
        assert response.status_code == 422
        assert response.get_json()["field"] == "target.site_id"
    with sessions() as session:
        assert session.scalars(select(Notice)).all() == []


def test_an_incomplete_target_names_the_missing_field(client, sessions):
    response = client.post("/v1/notices", json=water_notice({"scope": "floor", "site_id": SITE,
                                                             "building_id": BUILDING_A}), headers=DESK)
    assert response.status_code == 422 and response.get_json()["field"] == "target.floor"


def test_an_organization_wide_notice_needs_a_general_or_property_manager(client, sessions):
    response = client.post("/v1/notices", json=water_notice({"scope": "organization"}), headers=DESK)
    assert response.status_code == 403


def test_a_scheduled_notice_waits_for_its_time_and_can_be_withdrawn_before(client, sessions):
    people_in_two_buildings(sessions)
    later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    ids = [client.post("/v1/notices", json=water_notice(building()), headers=DESK).get_json()["id"] for _ in (1, 2)]
    for notice_id in ids:
        assert client.post(f"/v1/notices/{notice_id}/send", json={"send_at": later}, headers=DESK).status_code == 200
    assert rules.dispatch_due(sessions) == 0
    withdrawn = client.post(f"/v1/notices/{ids[1]}/withdraw", headers=DESK)
    assert withdrawn.get_json()["state"] == "withdrawn"
    assert rules.dispatch_due(sessions, now=datetime.now(timezone.utc) + timedelta(hours=3)) == 1
    again = client.post(f"/v1/notices/{ids[1]}/send", json={}, headers=DESK)
    assert again.status_code == 409 and again.get_json()["allowed"] == []


def test_after_its_expiry_a_notice_reaches_nobody_new_and_leaves_the_inbox(client, sessions, send):
    in_a, _ = people_in_two_buildings(sessions)
    soon = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    notice = client.post("/v1/notices", json=water_notice(building(), expires_at=soon), headers=DESK).get_json()
    client.post(f"/v1/notices/{notice['id']}/send", json={}, headers=DESK)
    rules.dispatch_due(sessions)
    with sessions() as session, session.begin():
        session.execute(update(Message).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    send()
    with sessions() as session:
        assert {(m.status, m.reason) for m in session.scalars(select(Message))} == {
            ("failed", "expired before it could be sent")}
    assert client.get("/v1/inbox", headers=as_user(in_a[0])).get_json()["items"] == []


def test_the_printable_notice_is_html_with_the_text_escaped(client, sessions):
    people_in_two_buildings(sessions)
    body = water_notice(building())
    body["texts"]["zh-CN"]["body"] = "<script>alert(1)</script>"
    notice = client.post("/v1/notices", json=body, headers=DESK).get_json()
    page = client.get(f"/v1/notices/{notice['id']}/printable", headers=DESK)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "停水通知" in text and "Water off" in text
    assert "&lt;script&gt;" in text and "<script>" not in text
