"""Keys (ACC-1), lending and storage (ACC-4) on SQLite: the register's steps and their 409s, custody, key
loans moving the key, the overdue alert raised once, storage picked up with its code."""

from datetime import datetime, timedelta, timezone

from psp.access.v1.lending_pb2 import LoanOverdue
from sqlalchemy import update

from services.access.lending import rules as lending
from services.access.lending.tables import Loan
from tests.unit.access.support import FRONT_DESK, TECHNICIAN, a_site, ok, refused, sessions_of, staff
from tests.unit.access.test_passes import _events

LATER = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()


def _key(client, where, **overrides):
    body = {"site_id": where["site_id"], "room": "配电房 Switch room", "tag": "C-01", "kind": "equipment_room"}
    body.update(overrides)
    return ok(client.post("/v1/keys", json=body, headers=FRONT_DESK), 201)


def test_a_units_key_handed_over_kept_in_custody_and_returned(access):
    where = a_site(access)
    key = _key(access, where, unit_id=where["unit_id"], room="", tag="1201-1", kind="unit_door")
    assert key["allowed_steps"] == ["hand_over", "report_lost"]
    handed = ok(access.post(f"/v1/keys/{key['id']}/hand-over", json={"person_id": where["person_id"]},
                            headers=FRONT_DESK))
    assert handed["state"] == "with_occupant" and handed["holder_name"] == "张伟"
    kept = ok(access.post(f"/v1/keys/{key['id']}/custody", json={"reason": "出差"}, headers=FRONT_DESK))
    assert kept["state"] == "in_custody" and kept["holder_name"] == ""
    body = refused(access.post(f"/v1/keys/{key['id']}/custody", json={}, headers=FRONT_DESK), 409)
    assert body["allowed"] == ["return_to_occupant", "report_lost"]
    refused(access.post(f"/v1/keys/{key['id']}/return-to-occupant", json={}, headers=TECHNICIAN), 403)
    ok(access.post(f"/v1/keys/{key['id']}/return-to-occupant", json={}, headers=FRONT_DESK))
    lost = ok(access.post(f"/v1/keys/{key['id']}/lost", json={"reason": "丢失"}, headers=FRONT_DESK))
    assert lost["state"] == "lost"
    assert ok(access.post(f"/v1/keys/{key['id']}/found", json={}, headers=FRONT_DESK))["state"] == "in_office"


def test_a_key_names_a_unit_or_a_room(access):
    where = a_site(access)
    refused(access.post("/v1/keys", json={"site_id": where["site_id"], "tag": "X", "kind": "other"},
                        headers=FRONT_DESK), 422, "room")
    refused(access.post("/v1/keys", json={"site_id": where["site_id"], "tag": "X", "kind": "other",
                                          "unit_id": "0" * 36}, headers=FRONT_DESK), 422, "unit_id")


def test_a_common_key_lent_comes_back_to_the_office(access):
    where = a_site(access)
    key = _key(access, where)
    loan = ok(access.post("/v1/loans", json={"site_id": where["site_id"], "key_id": key["id"],
                                             "borrower_name": "维修员赵", "due_at": LATER}, headers=FRONT_DESK), 201)
    assert loan["item"] == "C-01" and loan["state"] == "out"
    assert ok(access.get(f"/v1/keys/{key['id']}", headers=FRONT_DESK))["state"] == "lent"
    refused(access.post("/v1/loans", json={"site_id": where["site_id"], "key_id": key["id"],
                                           "borrower_name": "又一人", "due_at": LATER}, headers=FRONT_DESK), 409)
    ok(access.post(f"/v1/loans/{loan['id']}/return", json={}, headers=FRONT_DESK))
    assert ok(access.get(f"/v1/keys/{key['id']}", headers=FRONT_DESK))["state"] == "in_office"
    refused(access.post(f"/v1/loans/{loan['id']}/return", json={}, headers=FRONT_DESK), 409)


def test_an_overdue_loan_is_alerted_once(access):
    where = a_site(access)
    loan = ok(access.post("/v1/loans", json={"site_id": where["site_id"], "item": "手推车 trolley",
                                             "borrower_name": "李四", "borrower_phone": "+8613800000002",
                                             "deposit": "50.00", "due_at": LATER}, headers=FRONT_DESK), 201)
    assert loan["deposit"] == "50.00"
    sessions = sessions_of(access)
    assert lending.alert_overdue(sessions) == 0
    with sessions() as session, session.begin():
        session.execute(update(Loan).values(due_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    assert lending.alert_overdue(sessions) == 1
    assert lending.alert_overdue(sessions) == 0
    [alert] = _events(access, LoanOverdue)
    assert alert.loan_id == loan["id"] and alert.item == "手推车 trolley" and alert.borrower_phone == "+8613800000002"
    refused(access.post("/v1/loans", json={"site_id": where["site_id"], "item": "伞", "borrower_name": "x",
                                           "due_at": "2020-01-01T00:00:00+08:00"}, headers=FRONT_DESK), 422, "due_at")
    refused(access.post("/v1/loans", json={"site_id": where["site_id"], "borrower_name": "x", "due_at": LATER},
                        headers=FRONT_DESK), 422, "item")


def test_storage_is_picked_up_with_its_code(access):
    where = a_site(access)
    stored = ok(access.post("/v1/storage", json={"site_id": where["site_id"], "description": "行李箱 suitcase",
                                                 "depositor_name": "张伟", "deposit": "20.00"}, headers=FRONT_DESK), 201)
    assert len(stored["pickup_code"]) == 6 and stored["state"] == "stored"
    wrong = "000000" if stored["pickup_code"] != "000000" else "111111"
    refused(access.post(f"/v1/storage/{stored['id']}/pick-up", json={"pickup_code": wrong, "picked_up_by": "张伟"},
                        headers=FRONT_DESK), 422, "pickup_code")
    done = ok(access.post(f"/v1/storage/{stored['id']}/pick-up",
                          json={"pickup_code": stored["pickup_code"], "picked_up_by": "张伟"}, headers=FRONT_DESK))
    assert done["state"] == "picked_up" and done["picked_up_at"]
    refused(access.get(f"/v1/storage?site_id={where['site_id']}", headers=staff("x", org="0b000000-0000-4000-8000-00000000000b")), 404)
