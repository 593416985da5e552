"""The decision API (ACC-5, ACC-6) on SQLite: every reason code, use limits, revocation reaching the cache,
one organization's machine credentials never seeing another's passes or doors, and every decision recorded."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.access.decisions.api import decider
from services.access.decisions.tables import Decision
from tests.conftest import ORG_B
from tests.unit.access.support import FRONT_DESK, a_site, machine, ok, refused, sessions_of, staff

NOW = datetime.now(timezone.utc)


def _issue(client, where, credential="CARD-1", **overrides):
    body = {"site_id": where["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": where["person_id"],
            "credential": credential, "credential_kind": "card", "valid_from": (NOW - timedelta(hours=1)).isoformat(),
            "valid_until": (NOW + timedelta(days=1)).isoformat(), "zone_ids": [where["lobby"]]}
    body.update(overrides)
    return ok(client.post("/v1/passes", json=body, headers=FRONT_DESK), 201)


def _ask(client, door_id, credential="CARD-1", headers=None, kind="card"):
    return ok(client.post("/v1/decisions", json={"door_id": door_id, "credential": credential,
                                                  "credential_kind": kind}, headers=headers or machine()))


def _fresh(client):
    """Make the cache look again now, as it does by itself every 0.2 s."""
    with client.application.app_context():
        decider().cache.refresh_seconds = 0


def test_every_reason_code(access):
    where = a_site(access)
    _fresh(access)
    _issue(access, where)
    _issue(access, where, "CARD-LATER", valid_from=(NOW + timedelta(hours=2)).isoformat())
    allowed = _ask(access, where["front"])
    assert allowed["outcome"] == "allow" and allowed["reason"] == "granted" and allowed["pass_id"]
    assert _ask(access, where["barrier"])["reason"] == "outside_scope"
    assert _ask(access, where["front"], "CARD-NONE")["reason"] == "unknown_credential"
    assert _ask(access, where["front"], "CARD-1", kind="face")["reason"] == "unknown_credential"
    assert _ask(access, "no-such-door")["reason"] == "unknown_door"
    assert _ask(access, where["front"], "CARD-LATER")["reason"] == "not_yet_valid"


def test_a_revoked_pass_stops_opening_at_once(access):
    where = a_site(access)
    _fresh(access)
    issued = _issue(access, where)
    assert _ask(access, where["front"])["outcome"] == "allow"
    ok(access.post(f"/v1/passes/{issued['id']}/revoke", json={}, headers=FRONT_DESK))
    answer = _ask(access, where["front"])
    assert answer["outcome"] == "deny" and answer["reason"] == "revoked"
    # Issued again to a new pass, the card opens again: the newer pass wins in the cache.
    _issue(access, where)
    assert _ask(access, where["turnstile"])["reason"] == "granted"


def test_an_expired_window_denies(access):
    where = a_site(access)
    _fresh(access)
    issued = _issue(access, where)
    with sessions_of(access)() as session, session.begin():
        from services.access.passes.tables import Pass
        from services.access import changes
        row = session.get(Pass, issued["id"])
        row.valid_until = NOW - timedelta(minutes=1)
        row.version = changes.bump(session, row.organization_id)
    assert _ask(access, where["front"])["reason"] == "expired"


def test_a_single_use_visitor_pass_opens_once(access):
    where = a_site(access)
    _fresh(access)
    ok(access.post("/v1/visits", json={
        "site_id": where["site_id"], "host_person_id": where["person_id"], "holder_name": "李四",
        "credential": "VISITOR-7", "credential_kind": "card", "valid_from": NOW.isoformat(),
        "valid_until": (NOW + timedelta(hours=2)).isoformat(), "door_ids": [where["front"]]},
        headers=FRONT_DESK), 201)
    assert _ask(access, where["front"], "VISITOR-7")["reason"] == "granted"
    assert _ask(access, where["front"], "VISITOR-7")["reason"] == "uses_exhausted"


def test_another_organizations_reader_learns_nothing(access):
    where = a_site(access)
    _fresh(access)
    _issue(access, where)
    assert _ask(access, where["front"], headers=machine(org=ORG_B))["reason"] == "unknown_door"
    # A reader of another site of the same organization does not open this site's doors either.
    assert _ask(access, where["front"], headers=machine(sites=["other-site"]))["reason"] == "unknown_door"


def test_every_decision_is_recorded(access):
    where = a_site(access)
    _fresh(access)
    _issue(access, where)
    for door in (where["front"], where["barrier"], "nowhere"):
        _ask(access, door)
    with access.application.app_context():
        decider().recorder.flush()
    with sessions_of(access)() as session:
        rows = session.scalars(select(Decision).order_by(Decision.decided_at)).all()
    assert [(r.reason, r.outcome) for r in rows] == [
        ("granted", "allow"), ("outside_scope", "deny"), ("unknown_door", "deny")]
    assert rows[0].asked_by == "reader-1" and rows[0].site_id == where["site_id"]
    listed = ok(access.get(f"/v1/decisions?site_id={where['site_id']}", headers=staff("guard", roles=("security_guard",))))
    assert len(listed["items"]) == 2
    refused(access.get(f"/v1/decisions?site_id={where['site_id']}", headers=FRONT_DESK), 403)


def test_bad_input_is_refused_naming_the_field(access):
    refused(access.post("/v1/decisions", json={"door_id": "x"}, headers=machine()), 422, "credential")
    refused(access.post("/v1/decisions", json={"door_id": "x", "credential": "c", "credential_kind": "smell"},
                        headers=machine()), 422, "credential_kind")
    refused(access.post("/v1/decisions", json={"door_id": "x", "credential": "c"}), 401)
