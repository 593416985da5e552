"""Owner archives on PostgreSQL: the whole lock (request, approval at the site, logged reads), voiding and the
former owner's archive kept apart, with every event relayed from the outbox."""

from __future__ import annotations

import io
import threading
from datetime import date

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy.orm import Session

from psp.events.v1.envelope_pb2 import Envelope

from services.occupants.archives import rules
from services.occupants.archives.tables import AccessRequest
from services.occupants.archives.demo import tiny_pdf, tiny_png
from shared import auth, db
from shared.bus.envelope import exchange_name
from shared.config import Settings
from shared.files import FileStore
from tests.conftest import ORG_A, ORG_B, SECRET, running_workers, wait_until

pytestmark = pytest.mark.integration


def who(subject: str, org: str = ORG_A, roles=(), site_roles=None) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=["*"], site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


CLERK = who("clerk", roles=("cs_specialist",))
MANAGER = who("manager", roles=("site_manager",))


@pytest.fixture(autouse=True)
def file_store(tmp_path, monkeypatch):
    monkeypatch.setenv("FILE_STORE_DIR", str(tmp_path / "files"))
    return tmp_path / "files"


@pytest.fixture
def archive(occupants_api, demo_site):
    client = occupants_api
    building = client.post(f"/v1/sites/{demo_site}/buildings", headers=MANAGER,
                           json={"code": "A", "name": "Tower A"}).get_json()
    unit = client.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER, json={
        "number": "101", "floor": 1, "kind": "residence", "floor_area_m2": "89.50"}).get_json()
    person = client.post("/v1/persons", headers=MANAGER, json={
        "site_id": demo_site, "full_name": "王芳", "phone": "13800000003"}).get_json()
    response = client.post("/v1/archives", headers=CLERK, json={"unit_id": unit["id"], "person_id": person["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def upload(client, archive_id, content, content_type, filename):
    response = client.post(f"/v1/archives/{archive_id}/documents", headers=CLERK,
                           content_type="multipart/form-data",
                           data={"kind": "agreement", "title": "业主临时管理规约",
                                 "file": (io.BytesIO(content), filename, content_type)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def step(client, path, action, headers=MANAGER):
    return client.post(f"{path}/steps", headers=headers, json={"action": action, "reason": ""})


@pytest.fixture
def listener(bus_url):
    """A queue bound to occupants' archive events, as a consumer elsewhere would bind one."""
    with Connection(bus_url) as connection:
        exchange = Exchange(exchange_name("occupants"), type="topic", durable=True)
        queue = Queue("test.archive-listener", exchange=exchange, routing_key="archive.#")(connection.default_channel)
        queue.declare()
        queue.purge()
        yield queue
        queue.delete()


def received(queue) -> list[str]:
    types = []
    while (message := queue.get(no_ack=True)) is not None:
        types.append(Envelope.FromString(message.body).type)
    return types


def test_the_archive_lock_end_to_end_with_every_event_relayed(occupants_api, archive, demo_site, databases,
                                                              platform_env, listener):
    client = occupants_api
    pdf = upload(client, archive["id"], tiny_pdf("Covenant"), "application/pdf", "covenant.pdf")
    upload(client, archive["id"], tiny_png(), "image/png", "photo.png")

    assert client.get(f"/v1/archive-documents/{pdf['id']}/file", headers=CLERK).status_code == 403
    request = client.post(f"/v1/archives/{archive['id']}/access-requests", headers=CLERK, json={
        "mode": "copy", "purpose": "法院调取", "document_ids": [pdf["id"]]}).get_json()
    path = f"/v1/archive-access-requests/{request['id']}"
    elsewhere = who("manager-elsewhere", site_roles={"another-site": ["site_manager"]})
    assert step(client, path, "approve", headers=elsewhere).status_code == 403
    assert step(client, path, "approve").get_json()["live"] is True
    assert client.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK).status_code == 200
    copy = client.get(f"/v1/archive-documents/{pdf['id']}/file?mode=copy", headers=CLERK)
    assert copy.status_code == 200 and copy.data == tiny_pdf("Covenant")

    void = client.post(f"/v1/archive-documents/{pdf['id']}/void-requests", headers=CLERK,
                       json={"reason": "已签新版"}).get_json()
    assert step(client, f"/v1/archive-void-requests/{void['id']}", "approve").get_json()["state"] == "approved"

    engine = db.make_engine(platform_env["occupants"])
    try:
        with Session(engine) as session, session.begin():
            rules.keep_former_owner_archive(
                session, organization_id=ORG_A, site_id=demo_site, unit_id=archive["unit_id"],
                person_id=archive["person_id"], transferred_on=date(2026, 12, 1), actor="transfer")
    finally:
        engine.dispose()
    assert client.get(f"/v1/archives/{archive['id']}", headers=CLERK).get_json()["retain_until"] == "2029-12-01"

    occupants = databases["occupants"]
    assert occupants.scalar("SELECT count(*) FROM archive_reads WHERE access_request_id = :id",
                            id=request["id"]) == 2
    assert occupants.scalar("SELECT state FROM archive_documents WHERE id = :id", id=pdf["id"]) == "void"
    expected = {"archive.accessed.v1": 2, "archive.document_voided.v1": 1, "archive.set_aside.v1": 1}
    for event_type, number in expected.items():
        assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = :t", t=event_type) == number
    with running_workers("occupants"):
        wait_until(lambda: occupants.scalar(
            "SELECT count(*) FROM outbox WHERE event_type LIKE 'archive.%' AND published_at IS NULL") == 0,
            what="archive events relayed")
    assert sorted(received(listener)) == sorted(t for t, n in expected.items() for _ in range(n))


def test_a_read_refused_changes_nothing_and_another_organization_sees_nothing(occupants_api, archive, databases):
    client = occupants_api
    pdf = upload(client, archive["id"], tiny_pdf("ID"), "application/pdf", "id.pdf")
    refused = client.get(f"/v1/archive-documents/{pdf['id']}/file", headers=CLERK)
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"
    assert databases["occupants"].count("archive_reads") == 0
    stranger = who("stranger", org=ORG_B, roles=("site_manager",))
    assert client.get(f"/v1/archives/{archive['id']}", headers=stranger).status_code == 404
    assert client.get(f"/v1/archive-documents/{pdf['id']}/file", headers=stranger).status_code == 404


def test_a_file_stored_in_a_transaction_that_rolls_back_is_deleted(platform_env, file_store):
    store = FileStore(file_store, 1024, ("application/pdf",))
    engine = db.make_engine(platform_env["occupants"])
    try:
        with Session(engine) as session:
            session.begin()
            store.put_with(session, "kept/one", b"%PDF-1.4 kept")
            session.commit()
            session.begin()
            store.put_with(session, "dropped/one", b"%PDF-1.4 dropped")
            session.rollback()
    finally:
        engine.dispose()
    assert store.get("kept/one") == b"%PDF-1.4 kept"
    assert not (file_store / "dropped" / "one").exists()


def test_of_two_managers_deciding_at_once_the_second_sees_the_first_decision(occupants_api, archive, databases,
                                                                             platform_env):
    client = occupants_api
    request = client.post(f"/v1/archives/{archive['id']}/access-requests", headers=CLERK, json={
        "mode": "view", "purpose": "核对"}).get_json()
    engine = db.make_engine(platform_env["occupants"])
    answers = []
    try:
        with Session(engine) as first:
            first.begin()
            rules.decide_access(first, first.get(AccessRequest, request["id"]), action="refuse", reason="",
                                actor="other-manager", roles={"site_manager"})
            second = threading.Thread(target=lambda: answers.append(
                step(client, f"/v1/archive-access-requests/{request['id']}", "approve")))
            second.start()
            wait_until(lambda: databases["occupants"].scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'") == 1, what="the second decision waiting for the first")
            first.commit()
            second.join(timeout=30)
    finally:
        engine.dispose()
    [answer] = answers
    assert answer.status_code == 409 and answer.get_json()["state"] == "refused"
    assert databases["occupants"].scalar("SELECT count(*) FROM audit_log WHERE entity_id = :id",
                                         id=request["id"]) == 2
