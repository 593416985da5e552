"""Passes that follow occupants' records (SPEC §7, ACC-6) on SQLite: workers' passes from a decoration
permit, revoked when it completes; a resident pass and a key handover from an accepted move-in; a move-out
revoking everything the person held; expired passes revoked once by the job."""

import uuid
from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from psp.access.v1.passes_pb2 import PassIssued, PassRevoked
from psp.occupants.v1.decoration_pb2 import DecorationCompleted, DecorationPermitted, DecorationWorker
from psp.occupants.v1.movein_pb2 import HandedKey, MoveInAccepted
from psp.occupants.v1.people_pb2 import OccupancyEnded
from sqlalchemy import select

from services.access.passes import rules
from services.access.passes.tables import Pass
from tests.unit.access.support import FRONT_DESK, a_site, deliver, ok, sessions_of
from tests.unit.access.test_passes import _events, _pass

NOW = datetime.now(timezone.utc)


def _at(moment):
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _permit(where, workers=("赵六", "钱七")):
    return DecorationPermitted(
        permit_id=str(uuid.uuid4()), decoration_id=str(uuid.uuid4()), site_id=where["site_id"],
        unit_id=where["unit_id"], valid_from=_at(NOW - timedelta(hours=1)), valid_until=_at(NOW + timedelta(days=20)),
        workers=[DecorationWorker(full_name=n, phone="+8613900000000", id_number="x") for n in workers],
        contractor_name="好装修公司")


def _passes(client, **where):
    with sessions_of(client)() as session:
        return session.scalars(select(Pass).filter_by(**where).order_by(Pass.holder_name)).all()


def test_decoration_workers_get_passes_for_the_permit_and_lose_them_at_completion(access):
    where = a_site(access)
    permit = _permit(where)
    deliver(access, permit)
    deliver(access, permit)  # replayed: nothing twice
    issued = _passes(access, source_id=permit.permit_id)
    assert [p.holder_name for p in issued] == ["赵六", "钱七"]
    assert all(p.kind == "contractor" and p.credential_kind == "qr" for p in issued)
    # The unit's building has one door registered; the pass opens that one.
    assert all(p.door_ids == [where["front"]] for p in issued)
    assert abs(issued[0].valid_until.replace(tzinfo=timezone.utc) - (NOW + timedelta(days=20))) < timedelta(seconds=1)
    deliver(access, DecorationCompleted(permit_id=permit.permit_id, decoration_id=permit.decoration_id,
                                        site_id=where["site_id"], unit_id=where["unit_id"], completed_at=_at(NOW)))
    assert {p.state for p in _passes(access, source_id=permit.permit_id)} == {"revoked"}
    assert {e.reason for e in _events(access, PassRevoked)} == {"permit_ended"}


def test_move_in_hands_keys_over_and_issues_a_resident_pass(access):
    where = a_site(access)
    accepted = MoveInAccepted(move_in_id=str(uuid.uuid4()), site_id=where["site_id"], unit_id=where["unit_id"],
                              person_id=where["person_id"], occupancy_role="owner", accepted_at=_at(NOW),
                              keys=[HandedKey(kind="unit_door", count=2), HandedKey(kind="mailbox", count=1)],
                              accepted_by="cs-wang")
    deliver(access, accepted)
    deliver(access, accepted)
    [resident] = _passes(access, source_id=accepted.move_in_id)
    assert resident.kind == "resident" and resident.person_id == where["person_id"] and resident.holder_name == "张伟"
    [handover] = ok(access.get(f"/v1/key-handovers?site_id={where['site_id']}", headers=FRONT_DESK))["items"]
    assert handover["state"] == "awaiting_signature" and handover["keys"] == [
        {"kind": "unit_door", "count": 2}, {"kind": "mailbox", "count": 1}]
    signed = ok(access.post(f"/v1/key-handovers/{handover['id']}/sign",
                            json={"signed_by": "张伟", "signature_reference": "KH-2026-0001"}, headers=FRONT_DESK))
    assert signed["state"] == "signed" and signed["signed_at"]
    keys = ok(access.get(f"/v1/keys?site_id={where['site_id']}", headers=FRONT_DESK))["items"]
    assert sorted((k["tag"], k["state"], k["copies"]) for k in keys) == [
        ("1201-mailbox", "with_occupant", 1), ("1201-unit_door", "with_occupant", 2)]


def test_move_out_revokes_everything_the_person_held_at_the_site(access):
    where = a_site(access)
    card = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    car = ok(access.post("/v1/passes", json=_pass(where, kind="vehicle", credential="粤B12345",
                                                  credential_kind="plate", zone_ids=[where["garage"]]),
                         headers=FRONT_DESK), 201)
    deliver(access, OccupancyEnded(occupancy_id=str(uuid.uuid4()), site_id=where["site_id"], unit_id=where["unit_id"],
                                   person_id=where["person_id"], role="owner", reason="sold", end_date="2026-12-01"))
    revoked = _events(access, PassRevoked)
    assert sorted(e.pass_id for e in revoked) == sorted([card["id"], car["id"]])
    assert {e.reason for e in revoked} == {"moved_out"}


def test_expired_passes_are_revoked_once(access):
    where = a_site(access)
    issued = ok(access.post("/v1/passes", json=_pass(where), headers=FRONT_DESK), 201)
    sessions = sessions_of(access)
    with sessions() as session, session.begin():
        session.get(Pass, issued["id"]).valid_until = NOW - timedelta(seconds=1)
    assert rules.expire_due(sessions) == 1
    assert rules.expire_due(sessions) == 0
    [event] = _events(access, PassRevoked)
    assert event.reason == "expired" and event.pass_id == issued["id"]
    assert len(_events(access, PassIssued)) == 1
