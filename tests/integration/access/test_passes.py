"""Access on PostgreSQL and RabbitMQ: occupants' events over the bus feed the read models and revoke on
move-out, the revocation leaves through access's outbox; racing requests issue a credential once, jobs in two
threads expire a pass and alert a loan once, and decisions are recorded."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from psp.occupants.v1.people_pb2 import OccupancyEnded
from psp.occupants.v1.places_pb2 import SiteRegistered
from sqlalchemy import func, select, update

from services.access.decisions.api import decider
from services.access.decisions.tables import Decision
from services.access.lending import rules as lending
from services.access.lending.tables import Loan
from services.access.passes import rules as passes
from services.access.passes.tables import Pass
from services.occupants.models import chassis as occupants_chassis
from shared import db
from shared.bus import outbox
from tests.conftest import ORG_A, ORG_B, bearer, running_workers, wait_until
from tests.unit.access.support import FRONT_DESK, deliver, machine, staff

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)
MANAGER = staff("pm-chen", roles=("property_manager",))


@pytest.fixture
def access(platform_env):
    from services.access.app import create_app

    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _door(access, site_id):
    zone = ok(access.post("/v1/zones", json={"site_id": site_id, "name": "Lobby"}, headers=MANAGER), 201)
    door = ok(access.post("/v1/doors", json={"site_id": site_id, "name": "Front", "kind": "door",
                                             "zone_ids": [zone["id"]]}, headers=MANAGER), 201)
    return zone["id"], door["id"]


def _card(site_id, zone_id, credential="CARD-1", person_id=None):
    return {"site_id": site_id, "kind": "resident", "holder_name": "陈静", "person_id": person_id,
            "credential": credential, "credential_kind": "card", "valid_from": (NOW - timedelta(hours=1)).isoformat(),
            "valid_until": (NOW + timedelta(days=1)).isoformat(), "zone_ids": [zone_id]}


def test_move_out_over_the_bus_revokes_the_pass_and_the_revocation_is_published(
        occupants_api, demo_site, access, databases, platform_env):
    person = ok(occupants_api.post("/v1/persons", headers=bearer(), json={
        "site_id": demo_site, "full_name": "陈静", "phone": "13700000000"}), 201)
    with running_workers("occupants", "access"):
        wait_until(lambda: databases["access"].scalar(
            "SELECT count(*) FROM pass_holders WHERE person_id = :id", id=person["id"]) == 1, what="pass holder")
        wait_until(lambda: databases["access"].scalar(
            "SELECT count(*) FROM sites WHERE site_id = :id", id=demo_site) == 1, what="site")
        zone_id, door_id = _door(access, demo_site)
        issued = ok(access.post("/v1/passes", json=_card(demo_site, zone_id, person_id=person["id"]),
                                headers=FRONT_DESK), 201)
        assert ok(access.post("/v1/decisions", json={"door_id": door_id, "credential": "CARD-1"},
                              headers=machine()))["reason"] == "granted"
        # Occupants ends the occupancy: the event as its outbox leaves it.
        engine = db.make_engine(platform_env["occupants"])
        with db.make_sessionmaker(engine)() as session, session.begin():
            outbox.record(session, occupants_chassis.outbox, OccupancyEnded(
                occupancy_id=str(uuid.uuid4()), site_id=demo_site, unit_id=str(uuid.uuid4()), person_id=person["id"],
                role="tenant", reason="lease ended", end_date=NOW.date().isoformat()), organization_id=ORG_A)
        engine.dispose()
        wait_until(lambda: databases["access"].scalar(
            "SELECT state FROM passes WHERE id = :id", id=issued["id"]) == "revoked", what="revocation")
        wait_until(lambda: databases["access"].scalar(
            "SELECT count(*) FROM outbox WHERE event_type = 'pass.revoked.v1' AND published_at IS NOT NULL") == 1,
            what="pass.revoked published")
    with access.application.app_context():
        decider().cache.refresh_seconds = 0
    answer = ok(access.post("/v1/decisions", json={"door_id": door_id, "credential": "CARD-1"}, headers=machine()))
    assert answer["outcome"] == "deny" and answer["reason"] == "revoked"


def _together(count, work):
    start, results, errors = threading.Barrier(count), [], []

    def run(i):
        try:
            start.wait()
            results.append(work(i))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def _a_site(access, databases):
    """A site as occupants' site.registered leaves it in access's read model."""
    site = SiteRegistered(site_id=str(uuid.uuid4()), code="PG", name="Postgres Court", time_zone="Asia/Shanghai")
    deliver(access, site)
    return site.site_id


def test_a_new_organizations_first_passes_at_once_each_get_their_own_change_number(access, databases):
    other = str(uuid.uuid4())
    deliver(access, SiteRegistered(site_id=other, code="P2", name="Second Court", time_zone="Asia/Shanghai"),
            organization_id=ORG_B)
    manager = staff("pm-b", roles=("property_manager",), org=ORG_B)
    zone = ok(access.post("/v1/zones", json={"site_id": other, "name": "Lobby"}, headers=manager), 201)
    app = access.application
    statuses = _together(4, lambda i: app.test_client().post(
        "/v1/doors", json={"site_id": other, "name": f"Door {i}", "kind": "door", "zone_ids": [zone["id"]]},
        headers=manager).status_code)
    assert statuses == [201] * 4
    assert databases["access"].scalar(
        "SELECT count(DISTINCT version) FROM doors WHERE organization_id = :org", org=ORG_B) == 4


def test_racing_requests_issue_a_credential_once(access, databases):
    site_id = _a_site(access, databases)
    zone_id, _ = _door(access, site_id)
    app = access.application
    statuses = _together(4, lambda i: app.test_client().post("/v1/passes", json=_card(site_id, zone_id),
                                                             headers=FRONT_DESK).status_code)
    assert sorted(statuses) == [201, 409, 409, 409]
    versions = databases["access"].scalar("SELECT count(DISTINCT version) FROM passes")
    assert versions == 1


def test_two_expiry_runs_revoke_a_pass_once_and_two_alert_runs_alert_a_loan_once(access, databases):
    site_id = _a_site(access, databases)
    zone_id, _ = _door(access, site_id)
    for n in range(20):
        ok(access.post("/v1/passes", json=_card(site_id, zone_id, credential=f"CARD-{n}"), headers=FRONT_DESK), 201)
        ok(access.post("/v1/loans", json={"site_id": site_id, "item": f"伞 {n}", "borrower_name": "李四",
                                          "due_at": (NOW + timedelta(hours=1)).isoformat()}, headers=FRONT_DESK), 201)
    sessions = access.application.extensions["psp"].sessions
    with sessions() as session, session.begin():
        session.execute(update(Pass).values(valid_until=NOW - timedelta(seconds=1)))
        session.execute(update(Loan).values(due_at=NOW - timedelta(seconds=1)))
    assert sum(_together(2, lambda i: passes.expire_due(sessions, batch=7) + passes.expire_due(sessions, batch=50))) == 20
    assert sum(_together(2, lambda i: lending.alert_overdue(sessions, batch=7) + lending.alert_overdue(sessions))) == 20
    assert databases["access"].scalar("SELECT count(*) FROM outbox WHERE event_type = 'pass.revoked.v1'") == 20
    assert databases["access"].scalar("SELECT count(*) FROM outbox WHERE event_type = 'loan.overdue.v1'") == 20


def test_decisions_are_recorded_in_postgresql(access, databases):
    site_id = _a_site(access, databases)
    zone_id, door_id = _door(access, site_id)
    ok(access.post("/v1/passes", json=_card(site_id, zone_id), headers=FRONT_DESK), 201)
    with access.application.app_context():
        decider().cache.refresh_seconds = 0
    reasons = [ok(access.post("/v1/decisions", json={"door_id": door_id, "credential": card}, headers=machine()))
               ["reason"] for card in ("CARD-1", "CARD-X", "CARD-1")]
    assert reasons == ["granted", "unknown_credential", "granted"]
    with access.application.app_context():
        decider().recorder.flush()
    with access.application.extensions["psp"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Decision).where(Decision.site_id == site_id)) == 3


def test_the_first_token_keys_asked_for_at_once_make_one_signing_key(access, databases):
    app = access.application
    answers = _together(4, lambda i: app.test_client().get("/v1/token-keys", headers=machine()))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.get_json()["keys"][0]["kid"] for a in answers}) == 1
    assert databases["access"].scalar("SELECT count(*) FROM token_signing_keys WHERE state = 'signing'") == 1
