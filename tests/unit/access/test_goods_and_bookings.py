"""Goods release (ACC-3) and bookings (ACC-2) on SQLite: large items need the occupant's confirmation, the
guard checks the slip; after-hours registrations publish the event billing charges, goods-lift bookings never
overlap, hot work needs its safety measures and an engineer's approval, a cancelled booking's pass is revoked."""

from datetime import datetime, timedelta, timezone

from psp.access.v1.afterhours_pb2 import AfterHoursRegistered
from psp.access.v1.passes_pb2 import PassRevoked

from tests.unit.access.support import FRONT_DESK, SUPERVISOR, TECHNICIAN, a_site, ok, refused, staff
from tests.unit.access.test_passes import _events

NOW = datetime.now(timezone.utc)
GUARD = staff("guard-sun", roles=("security_guard",))
MANAGER = staff("pm-chen", roles=("property_manager",))


def _release(client, where, large=True, headers=FRONT_DESK):
    return ok(client.post("/v1/goods-releases", json={
        "unit_id": where["unit_id"], "person_id": where["person_id"], "carrier_name": "搬家公司",
        "items": [{"description": "双人床", "quantity": 1}], "large_items": large}, headers=headers), 201)


def test_large_goods_leave_with_the_occupants_confirmation_and_the_right_slip(access):
    where = a_site(access)
    goods = _release(access, where)
    body = refused(access.post(f"/v1/goods-releases/{goods['id']}/slip", json={}, headers=FRONT_DESK), 409)
    assert body["allowed"] == ["confirm", "cancel"]
    refused(access.post(f"/v1/goods-releases/{goods['id']}/confirm", json={}, headers=GUARD), 403)
    occupant = staff(where["person_id"], roles=())
    assert ok(access.post(f"/v1/goods-releases/{goods['id']}/confirm", json={}, headers=occupant))["state"] == "confirmed"
    slipped = ok(access.post(f"/v1/goods-releases/{goods['id']}/slip", json={}, headers=FRONT_DESK))
    assert slipped["slip_number"].startswith("FX")
    refused(access.post(f"/v1/goods-releases/{goods['id']}/release", json={"slip_number": "FX-FAKE"},
                        headers=GUARD), 422, "slip_number")
    refused(access.post(f"/v1/goods-releases/{goods['id']}/release", json={"slip_number": slipped["slip_number"]},
                        headers=FRONT_DESK), 403)
    out = ok(access.post(f"/v1/goods-releases/{goods['id']}/release",
                         json={"slip_number": slipped["slip_number"], "gate": "北门"}, headers=GUARD))
    assert out["state"] == "released" and out["released_by"] == "guard-sun" and out["gate"] == "北门"


def test_small_goods_need_no_confirmation_and_an_occupant_may_apply(access):
    where = a_site(access)
    goods = _release(access, where, large=False, headers=staff(where["person_id"], roles=()))
    assert ok(access.post(f"/v1/goods-releases/{goods['id']}/slip", json={}, headers=FRONT_DESK))["state"] == "slip_issued"
    refused(access.post("/v1/goods-releases", json={
        "unit_id": where["unit_id"], "person_id": where["person_id"], "carrier_name": "x", "items": []},
        headers=FRONT_DESK), 422, "items")


def _booking(client, where, kind, headers=FRONT_DESK, **overrides):
    body = {"kind": kind, "unit_id": where["unit_id"], "person_id": where["person_id"], "applicant_name": "好公司",
            "starts_at": (NOW + timedelta(hours=1)).isoformat(), "ends_at": (NOW + timedelta(hours=4)).isoformat()}
    body.update(overrides)
    return client.post("/v1/bookings", json=body, headers=headers)


def test_after_hours_registration_publishes_the_event_billing_charges(access):
    where = a_site(access)
    booking = ok(_booking(access, where, "after_hours", air_conditioning=True), 201)
    approved = ok(access.post(f"/v1/bookings/{booking['id']}/approve",
                              json={"pass_holder_name": "好公司加班人员", "zone_ids": [where["lobby"]]},
                              headers=FRONT_DESK))
    assert approved["state"] == "approved" and approved["pass_id"]
    [event] = _events(access, AfterHoursRegistered)
    assert (event.registration_id, event.unit_id, event.air_conditioning) == (booking["id"], where["unit_id"], True)
    pass_ = ok(access.get(f"/v1/passes/{approved['pass_id']}", headers=FRONT_DESK))
    assert pass_["kind"] == "after_hours" and pass_["valid_until"] == approved["ends_at"]
    ok(access.post(f"/v1/bookings/{booking['id']}/cancel", json={}, headers=FRONT_DESK))
    assert [e.pass_id for e in _events(access, PassRevoked)] == [approved["pass_id"]]


def test_goods_lift_bookings_never_overlap(access):
    where = a_site(access)
    lift = ok(access.post("/v1/doors", json={"site_id": where["site_id"], "name": "货梯", "kind": "goods_lift"},
                          headers=MANAGER), 201)
    refused(_booking(access, where, "goods_lift"), 422, "door_id")
    refused(_booking(access, where, "goods_lift", door_id=where["front"]), 422, "door_id")
    first = ok(_booking(access, where, "goods_lift", door_id=lift["id"]), 201)
    second = ok(_booking(access, where, "goods_lift", door_id=lift["id"],
                         starts_at=(NOW + timedelta(hours=3)).isoformat()), 201)
    ok(access.post(f"/v1/bookings/{first['id']}/approve", json={"pass_holder_name": "搬运工"}, headers=FRONT_DESK))
    refused(access.post(f"/v1/bookings/{second['id']}/approve", json={}, headers=FRONT_DESK), 409, "starts_at")


def test_hot_work_needs_safety_measures_and_an_engineers_approval(access):
    where = a_site(access)
    refused(_booking(access, where, "hot_work", works_description="焊接"), 422, "safety_measures")
    refused(_booking(access, where, "hot_work", ends_at=(NOW - timedelta(hours=1)).isoformat(),
                     starts_at=NOW.isoformat()), 422, "ends_at")
    permit = ok(_booking(access, where, "hot_work", works_description="焊接栏杆",
                         safety_measures=["专人监护", "灭火器两具"]), 201)
    refused(access.post(f"/v1/bookings/{permit['id']}/approve", json={}, headers=FRONT_DESK), 403)
    assert ok(access.post(f"/v1/bookings/{permit['id']}/approve", json={}, headers=TECHNICIAN))["state"] == "approved"
    power = ok(_booking(access, where, "temporary_power", works_description="临时用电", safety_measures=["持证电工"]), 201)
    assert ok(access.post(f"/v1/bookings/{power['id']}/refuse", json={"reason": "负荷不足"},
                          headers=SUPERVISOR))["state"] == "refused"
