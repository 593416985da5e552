"""What the access core does with occupants' events the obvious path would lose (SPEC §7, ACC-1, ACC-2,
ACC-6) on SQLite: passes asked for before the site has doors are held and issued with its first door;
contractor passes open on the permit's working days and hours and in approved overtime only; a move-out flags
the keys the person still holds as outstanding until the office takes them back."""

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from psp.occupants.v1.decoration_pb2 import DecorationCompleted, DecorationOvertimeApproved, DecorationWorkingHours
from psp.occupants.v1.movein_pb2 import HandedKey, MoveInAccepted
from psp.occupants.v1.people_pb2 import OccupancyEnded

from services.access.models import chassis
from services.access.passes.held import HELD
from services.access.passes.schedule import WEEKDAYS, Schedule, stored
from shared.audit import trail
from tests.conftest import ORG_A
from tests.unit.access.support import FRONT_DESK, a_site, a_site_without_doors, deliver, ok, refused, sessions_of, staff
from tests.unit.access.test_decisions import _ask, _fresh
from tests.unit.access.test_followers import _at, _passes, _permit

NOW = datetime.now(timezone.utc)
MANAGER = staff("pm-chen", roles=("property_manager",))
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _move_in(where):
    return MoveInAccepted(move_in_id=str(uuid.uuid4()), site_id=where["site_id"], unit_id=where["unit_id"],
                          person_id=where["person_id"], occupancy_role="owner", accepted_at=_at(NOW),
                          keys=[HandedKey(kind="unit_door", count=2)], accepted_by="cs-wang")


def _move_out(where):
    return OccupancyEnded(occupancy_id=str(uuid.uuid4()), site_id=where["site_id"], unit_id=where["unit_id"],
                          person_id=where["person_id"], role="owner", reason="move_out", end_date="2026-12-01")


def _held(client, where, state=None):
    query = f"/v1/held-passes?site_id={where['site_id']}" + (f"&state={state}" if state else "")
    return ok(client.get(query, headers=FRONT_DESK))["items"]


def _door(client, where):
    return ok(client.post("/v1/doors", json={"site_id": where["site_id"], "building_id": where["building_id"],
                                             "name": "A front door", "kind": "door", "zone_ids": []},
                          headers=MANAGER), 201)


def _counted(outcome: str) -> float:
    return HELD.labels("access", outcome)._value.get()


def test_passes_asked_for_before_the_site_has_doors_are_held_then_issued_with_its_first_door(access):
    where = a_site_without_doors(access)
    permit = _permit(where)
    held_before = _counted("held")
    deliver(access, permit)
    deliver(access, permit)  # replayed: held once
    deliver(access, _move_in(where))
    assert _passes(access, site_id=where["site_id"]) == []
    waiting = _held(access, where)
    assert sorted((h["holder_name"], h["state"]) for h in waiting) == [
        ("张伟", "awaiting_doors"), ("赵六", "awaiting_doors"), ("钱七", "awaiting_doors")]
    assert _counted("held") - held_before == 3
    door = _door(access, where)
    issued = _passes(access, site_id=where["site_id"])
    assert sorted(p.holder_name for p in issued) == ["张伟", "赵六", "钱七"]
    assert all(p.door_ids == [door["id"]] and p.state == "active" for p in issued)
    assert {h["state"] for h in _held(access, where)} == {"issued"}
    assert {h["pass_id"] for h in _held(access, where)} == {p.id for p in issued}
    # A second door issues nothing twice.
    ok(access.post("/v1/doors", json={"site_id": where["site_id"], "name": "Side door", "kind": "door",
                                      "zone_ids": []}, headers=MANAGER), 201)
    assert len(_passes(access, site_id=where["site_id"])) == 3


def test_a_held_pass_whose_reason_ends_first_is_dropped_not_issued(access):
    where = a_site_without_doors(access)
    permit = _permit(where)
    deliver(access, permit, _move_in(where))
    deliver(access, DecorationCompleted(permit_id=permit.permit_id, decoration_id=permit.decoration_id,
                                        site_id=where["site_id"], unit_id=where["unit_id"], completed_at=_at(NOW)))
    deliver(access, _move_out(where))
    assert {h["state"] for h in _held(access, where)} == {"dropped"}
    assert _held(access, where, state="awaiting_doors") == []
    _door(access, where)
    assert _passes(access, site_id=where["site_id"]) == []


def test_held_passes_are_for_the_site_staff_only(access):
    where = a_site_without_doors(access)
    refused(access.get(f"/v1/held-passes?site_id={where['site_id']}", headers=staff("tech-zhao",
                                                                                    roles=("technician",))), 403)
    refused(access.get(f"/v1/held-passes?site_id={where['site_id']}&state=lost", headers=FRONT_DESK), 422, "state")


def _at_local(day: datetime, hour: int, minute: int = 0) -> float:
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def test_a_schedule_opens_on_its_days_and_hours_in_the_site_time_and_in_overtime():
    monday = datetime(2026, 11, 30, tzinfo=SHANGHAI)
    schedule = stored("Asia/Shanghai", ["MO", "TU", "WE", "TH", "FR"], [("08:00", "12:00"), ("14:00", "18:00")])
    compiled = Schedule.of(schedule)
    assert compiled.allows(_at_local(monday, 8)) and compiled.allows(_at_local(monday, 17, 59))
    assert not compiled.allows(_at_local(monday, 12)) and not compiled.allows(_at_local(monday, 7, 59))
    saturday = monday + timedelta(days=5)
    assert not compiled.allows(_at_local(saturday, 9))
    # 08:00 Shanghai is 00:00 UTC: the site's time decides, not UTC's.
    assert compiled.allows(datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc).timestamp())
    with_overtime = Schedule.of({**schedule, "overtime": [[_at_local(saturday, 9), _at_local(saturday, 11)]]})
    assert with_overtime.allows(_at_local(saturday, 10)) and not with_overtime.allows(_at_local(saturday, 11))
    night = Schedule.of(stored("Asia/Shanghai", [], [("22:00", "06:00")]))
    assert night.allows(_at_local(monday, 23)) and night.allows(_at_local(monday, 5)) and not night.allows(
        _at_local(monday, 12))
    assert stored("Asia/Shanghai", [], []) is None


def test_bad_working_days_or_hours_are_refused_naming_the_field():
    for days, hours, field in ((["XX"], [], "working_days"), ([], [("8:00", "12:00")], "working_hours"),
                               ([], [("08:00", "25:00")], "working_hours")):
        try:
            stored("Asia/Shanghai", days, hours)
        except Exception as refused_:
            assert refused_.field == field
        else:
            raise AssertionError(f"{days} {hours} accepted")


def test_a_contractor_pass_opens_only_on_the_permit_days_until_overtime_is_approved(access):
    where = a_site(access)
    _fresh(access)
    today = WEEKDAYS[NOW.astimezone(SHANGHAI).weekday()]
    permit = _permit(where, workers=("赵六",))
    permit.working_days.extend(d for d in WEEKDAYS if d != today)
    permit.working_hours.append(DecorationWorkingHours(start="00:00", end="24:00"))
    deliver(access, permit)
    [worker] = _passes(access, source_id=permit.permit_id)
    assert worker.schedule["days"] == [d for d in WEEKDAYS if d != today]
    refused_today = _ask(access, where["front"], worker.credential, kind="qr")
    assert (refused_today["outcome"], refused_today["reason"]) == ("deny", "outside_hours")
    overtime = DecorationOvertimeApproved(
        overtime_id=str(uuid.uuid4()), permit_id=permit.permit_id, decoration_id=permit.decoration_id,
        site_id=where["site_id"], unit_id=where["unit_id"], starts_at=_at(NOW - timedelta(hours=1)),
        ends_at=_at(NOW + timedelta(hours=2)))
    deliver(access, overtime)
    deliver(access, overtime)  # replayed: one period
    [worker] = _passes(access, source_id=permit.permit_id)
    assert len(worker.schedule["overtime"]) == 1
    assert _ask(access, where["front"], worker.credential, kind="qr")["reason"] == "granted"
    trail = ok(access.get(f"/v1/passes/{worker.id}/audit", headers=FRONT_DESK))
    assert [e["action"] for e in trail] == ["issue", "reschedule"]


def test_move_out_flags_the_keys_the_person_holds_outstanding_until_returned(access):
    where = a_site(access)
    deliver(access, _move_in(where))
    [handover] = ok(access.get(f"/v1/key-handovers?site_id={where['site_id']}", headers=FRONT_DESK))["items"]
    ok(access.post(f"/v1/key-handovers/{handover['id']}/sign",
                   json={"signed_by": "张伟", "signature_reference": "KH-1"}, headers=FRONT_DESK))
    someone_elses = ok(access.post("/v1/keys", json={"site_id": where["site_id"], "room": "Gym", "tag": "GYM-1",
                                                     "kind": "common_room", "copies": 1}, headers=FRONT_DESK), 201)
    deliver(access, _move_out(where))
    deliver(access, _move_out(where))
    [key] = [k for k in ok(access.get(f"/v1/keys?site_id={where['site_id']}", headers=FRONT_DESK))["items"]
             if k["id"] != someone_elses["id"]]
    assert (key["state"], key["holder_person_id"]) == ("outstanding", where["person_id"])
    assert key["allowed_steps"] == ["return", "report_lost"]
    assert ok(access.get(f"/v1/keys/{someone_elses['id']}", headers=FRONT_DESK))["state"] == "in_office"
    refused(access.post(f"/v1/keys/{key['id']}/returned", json={}, headers=staff("tech-zhao",
                                                                                 roles=("technician",))), 403)
    back = ok(access.post(f"/v1/keys/{key['id']}/returned", json={"reason": "Handed in at the desk."},
                          headers=FRONT_DESK))
    assert (back["state"], back["holder_person_id"]) == ("in_office", None)
    refused(access.post(f"/v1/keys/{key['id']}/returned", json={}, headers=FRONT_DESK), 409)
    with sessions_of(access)() as session:
        steps = trail(session, chassis.audit_log, organization_id=ORG_A, entity="key", entity_id=key["id"])
    assert [(e.action, e.actor, e.to_state) for e in steps][-2:] == [
        ("flag_outstanding", "access", "outstanding"), ("return", "cs-wang", "in_office")]
