"""A revoked QR pass refused offline by a door controller no push reached, on PostgreSQL and RabbitMQ: access
served over HTTP, its worker pushing the grant to the reference controller; with the worker stopped the
revocation waits in the outbox, and the controller learns it from the revocation list it fetches itself."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from werkzeug.serving import make_server

from tests.conftest import RETRY_DELAYS, SECRET, migrate, running_workers, wait_until
from tests.support.access.controller import ReferenceController
from tests.support.tickets import staff
from tests.unit.access.support import FRONT_DESK, a_site, machine, ok

pytestmark = pytest.mark.integration

MANAGER = staff("sm-zhou", roles=("site_manager",))


@pytest.fixture
def access(monkeypatch, pg_database, bus_url):
    """Access on PostgreSQL and RabbitMQ: a test client for the operators, and its URL served over HTTP for
    the controller."""
    from services.access.app import create_app

    url = pg_database("access")
    migrate("access", url, bus_url)
    for name, value in (("ACCESS_DATABASE_URL", url), ("BUS_URL", bus_url), ("BUS_RETRY_DELAYS", RETRY_DELAYS),
                        ("AUTH_JWT_SECRET", SECRET)):
        monkeypatch.setenv(name, value)
    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield app.test_client(), f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["psp"].engine.dispose()


@pytest.fixture
def controller():
    controller = ReferenceController()
    controller.start()
    yield controller
    controller.stop()


def test_a_revoked_qr_pass_is_refused_offline_by_a_controller_no_push_reached(access, controller):
    client, platform = access
    site = a_site(client)
    system = ok(client.post("/v1/access-systems", headers=MANAGER, json={
        "site_id": site["site_id"], "name": "Lobby", "adapter": "webhook", "base_url": controller.url,
        "doors": [{"door_id": site["front"], "system_door_id": "front-1"}]}), 201)
    controller.secret = system["secret"]
    now = datetime.now(timezone.utc)
    issued = ok(client.post("/v1/passes", headers=FRONT_DESK, json={
        "site_id": site["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": site["person_id"],
        "credential_kind": "qr", "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(), "zone_ids": [site["lobby"]]}), 201)
    token = ok(client.get(f"/v1/passes/{issued['id']}/token", headers=FRONT_DESK))["token"]
    controller.trust(httpx.get(f"{platform}/v1/token-keys", headers=machine()).raise_for_status().json())
    assert controller.fetch_revocations(platform, machine()) == 0

    with running_workers("access"):
        wait_until(lambda: issued["credential"] in controller.allow_list, what="the grant on the controller")
    assert controller.scan(token, "front-1") == (True, "granted")

    ok(client.post(f"/v1/passes/{issued['id']}/revoke", json={"reason_code": "lost", "reason": "phone lost"}, headers=FRONT_DESK))
    # No worker runs: the revocation waits in access's outbox and the controller still holds the grant.
    assert issued["credential"] in controller.allow_list
    assert controller.scan(token, "front-1") == (True, "granted")

    assert controller.fetch_revocations(platform, machine()) == 1
    assert controller.scan(token, "front-1") == (False, "revoked")
    assert controller.allows(issued["credential"], "front-1")
    # Fetched again, the list brings nothing new: the controller asks only for what changed since its version.
    version = controller.revocations_version
    assert controller.fetch_revocations(platform, machine()) == 0
    assert controller.revocations_version == version
