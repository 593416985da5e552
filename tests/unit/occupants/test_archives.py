"""Owner archives (OCC-7, OCC-5) on SQLite: files in the store, reads under a site manager's approval and
logged, voiding on approval, the former owner's archive kept apart."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from psp.events.v1.envelope_pb2 import Envelope
from psp.occupants.v1.archives_pb2 import ArchiveAccessed, ArchiveDocumentVoided, ArchiveSetAside
from services.occupants.archives import rules
from services.occupants.archives.demo import tiny_pdf, tiny_png
from services.occupants.archives.tables import AccessRequest
from services.occupants.models import chassis
from shared import auth
from shared.bus.envelope import event_type_of
from shared.config import Settings
from tests.conftest import ORG_A, ORG_B, SECRET, occupants_client

PDF = tiny_pdf("身份证复印件")


def stored_files(tmp_path) -> list:
    return [p for p in (tmp_path / "files").rglob("*") if p.is_file()]


def who(subject: str, org: str = ORG_A, roles=(), sites=("*",), site_roles=None) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=list(sites), site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


CLERK = who("clerk", roles=("cs_specialist",))
OTHER_CLERK = who("other-clerk", roles=("cs_specialist",))
MANAGER = who("manager", roles=("site_manager",))
STRANGER = who("stranger", org=ORG_B, roles=("site_manager", "cs_specialist"))


@pytest.fixture
def db(occupants):
    """The test's database, read and written directly."""
    engine = occupants.application.extensions["psp"].engine
    yield engine


@pytest.fixture
def place(occupants, site):
    building = occupants.post(f"/v1/sites/{site['id']}/buildings", json={"code": "A", "name": "Tower A"},
                              headers=MANAGER).get_json()
    unit = occupants.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER, json={
        "number": "101", "floor": 1, "kind": "residence", "floor_area_m2": "89.50"}).get_json()
    person = occupants.post("/v1/persons", headers=MANAGER, json={
        "site_id": site["id"], "full_name": "张伟", "phone": "13800000001"}).get_json()
    return {"site": site, "unit": unit, "person": person}


@pytest.fixture
def archive(occupants, place):
    response = occupants.post("/v1/archives", headers=CLERK,
                              json={"unit_id": place["unit"]["id"], "person_id": place["person"]["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def upload(client, archive_id, content=PDF, content_type="application/pdf", kind="id_copy", headers=CLERK,
           filename="id.pdf"):
    return client.post(f"/v1/archives/{archive_id}/documents", headers=headers, content_type="multipart/form-data",
                       data={"kind": kind, "title": "身份证复印件", "file": (io.BytesIO(content), filename, content_type)})


def ask(client, archive_id, mode="view", document_ids=(), information_form=False, headers=CLERK):
    response = client.post(f"/v1/archives/{archive_id}/access-requests", headers=headers, json={
        "mode": mode, "purpose": "业主申请补办证件", "document_ids": list(document_ids),
        "information_form": information_form})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def step(client, path, action, headers=MANAGER, reason=""):
    return client.post(f"{path}/steps", headers=headers, json={"action": action, "reason": reason})


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def events(engine, payload_cls):
    with engine.connect() as connection:
        blobs = connection.execute(select(chassis.outbox.c.envelope).where(
            chassis.outbox.c.event_type == event_type_of(payload_cls)).order_by(chassis.outbox.c.id)).scalars().all()
    found = []
    for blob in blobs:
        envelope = Envelope.FromString(blob)
        payload = payload_cls()
        envelope.payload.Unpack(payload)
        found.append((envelope, payload))
    return found


def test_an_upload_is_stored_with_its_size_and_sha256_and_audited(occupants, archive, tmp_path, db):
    response = upload(occupants, archive["id"])
    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    assert document["size_bytes"] == len(PDF)
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert document["state"] == "kept"
    assert [(p.name, p.read_bytes()) for p in stored_files(tmp_path)] == [(document["id"], PDF)]
    with db.connect() as connection:
        actions = connection.execute(select(chassis.audit_log.c.action).where(
            chassis.audit_log.c.entity_id == document["id"])).scalars().all()
    assert actions == ["add"]


def test_an_archive_is_top_secret_and_kept_permanently(occupants, archive):
    assert archive["classification"] == "top_secret"
    assert archive["state"] == "current"
    assert archive["retain_until"] is None


def test_a_file_of_the_wrong_type_is_refused_naming_the_field_and_nothing_is_kept(occupants, archive, tmp_path, db):
    disguised = upload(occupants, archive["id"], content=b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    assert disguised.status_code == 422
    assert disguised.content_type == "application/problem+json"
    assert disguised.get_json()["field"] == "file"
    not_allowed = upload(occupants, archive["id"], content=b"plain text", content_type="text/plain",
                         filename="x.txt")
    assert not_allowed.status_code == 422
    assert not_allowed.get_json()["field"] == "file"
    assert count(db, "archive_documents") == 0
    assert stored_files(tmp_path) == []


def test_a_file_too_large_answers_413_naming_the_field(occupants, archive, monkeypatch, db):
    monkeypatch.setenv("FILE_MAX_BYTES", str(len(PDF) - 1))
    with occupants_client() as small:
        response = upload(small, archive["id"])
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert response.get_json()["field"] == "file"
    assert count(db, "archive_documents") == 0


def test_an_upload_that_rolls_back_leaves_no_file(occupants, archive, tmp_path):
    """A bad kind fails validation before storing; an unknown archive fails after: neither keeps a file."""
    assert upload(occupants, archive["id"], kind="passport").status_code == 422
    assert upload(occupants, "0" * 36).status_code == 404
    assert stored_files(tmp_path) == []


def test_reading_without_an_approval_is_forbidden_and_says_what_is_missing(occupants, archive, db):
    response = occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK)
    assert response.status_code == 403
    assert response.get_json()["missing"] == "approval"
    pending = ask(occupants, archive["id"])
    assert pending["state"] == "requested" and not pending["live"]
    assert occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK).status_code == 403
    assert count(db, "archive_reads") == 0


def test_an_approved_request_opens_reads_that_are_logged_and_published(occupants, archive, place, db):
    document = upload(occupants, archive["id"]).get_json()
    other = upload(occupants, archive["id"], content=tiny_png(), content_type="image/png", filename="form.png",
                   kind="inspection").get_json()
    request = ask(occupants, archive["id"], document_ids=[document["id"]])
    approved = step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["state"] == "approved" and approved.get_json()["live"]
    expires = datetime.fromisoformat(approved.get_json()["expires_at"])
    decided = datetime.fromisoformat(approved.get_json()["decided_at"])
    assert expires - decided == timedelta(hours=24)

    contents = occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK)
    assert contents.status_code == 200
    assert {d["id"] for d in contents.get_json()["items"]} == {document["id"], other["id"]}
    file = occupants.get(f"/v1/archive-documents/{document['id']}/file", headers=CLERK)
    assert file.status_code == 200
    assert file.data == PDF and file.mimetype == "application/pdf"
    assert file.headers["Content-Disposition"].startswith("inline")

    uncovered = occupants.get(f"/v1/archive-documents/{other['id']}/file", headers=CLERK)
    assert uncovered.status_code == 403 and uncovered.get_json()["missing"] == "document"
    copy = occupants.get(f"/v1/archive-documents/{document['id']}/file?mode=copy", headers=CLERK)
    assert copy.status_code == 403 and copy.get_json()["missing"] == "copy"
    form = occupants.get(f"/v1/archives/{archive['id']}/information-forms", headers=CLERK)
    assert form.status_code == 403 and form.get_json()["missing"] == "information_form"
    somebody_else = occupants.get(f"/v1/archives/{archive['id']}/documents", headers=OTHER_CLERK)
    assert somebody_else.status_code == 403 and somebody_else.get_json()["missing"] == "approval"

    log = occupants.get(f"/v1/sites/{place['site']['id']}/archive-reads", headers=MANAGER)
    assert log.status_code == 200
    reads = log.get_json()["items"]
    assert [(r["what"], r["document_id"], r["reader"], r["access_request_id"]) for r in reads] == [
        ("contents", None, "clerk", request["id"]), ("document", document["id"], "clerk", request["id"])]
    published = events(db, ArchiveAccessed)
    assert [(p.what, p.document_id, p.reader, p.read_id) for _, p in published] == [
        ("contents", "", "clerk", reads[0]["id"]), ("document", document["id"], "clerk", reads[1]["id"])]
    assert all(e.organization_id == ORG_A for e, _ in published)


def test_a_copy_approval_hands_the_file_over_as_an_attachment(occupants, archive):
    document = upload(occupants, archive["id"]).get_json()
    request = ask(occupants, archive["id"], mode="copy", document_ids=[document["id"]])
    step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve")
    copy = occupants.get(f"/v1/archive-documents/{document['id']}/file?mode=copy", headers=CLERK)
    assert copy.status_code == 200 and copy.data == PDF
    assert copy.headers["Content-Disposition"].startswith("attachment")


def test_the_registration_log_is_for_managers(occupants, place):
    assert occupants.get(f"/v1/sites/{place['site']['id']}/archive-reads", headers=CLERK).status_code == 403


def test_an_approval_past_its_window_no_longer_opens_the_archive(occupants, archive, db):
    request = ask(occupants, archive["id"])
    step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve")
    assert occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK).status_code == 200
    with Session(db) as session, session.begin():
        session.execute(update(AccessRequest).where(AccessRequest.id == request["id"]).values(
            expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    expired = occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK)
    assert expired.status_code == 403 and expired.get_json()["missing"] == "approval"
    assert occupants.get(f"/v1/archive-access-requests/{request['id']}", headers=CLERK).get_json()["live"] is False


def test_the_window_follows_the_sites_policy(occupants, archive, place):
    response = occupants.put("/v1/policies/archive.access_hours", headers=who("gm", roles=("general_manager",)),
                             json={"site_id": place["site"]["id"], "value": 2})
    assert response.status_code in (200, 201), response.get_json()
    request = ask(occupants, archive["id"])
    approved = step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve").get_json()
    assert (datetime.fromisoformat(approved["expires_at"])
            - datetime.fromisoformat(approved["decided_at"])) == timedelta(hours=2)


def test_only_a_site_manager_at_the_archives_site_decides(occupants, archive, place):
    request = ask(occupants, archive["id"])
    path = f"/v1/archive-access-requests/{request['id']}"
    elsewhere = who("manager-elsewhere", roles=(), sites=(place["site"]["id"],),
                    site_roles={"another-site": ["site_manager"]})
    assert step(occupants, path, "approve", headers=elsewhere).status_code == 403
    supervisor_here = who("supervisor", roles=(), site_roles={place["site"]["id"]: ["cs_supervisor"]})
    assert step(occupants, path, "approve", headers=supervisor_here).status_code == 403
    assert step(occupants, path, "approve", headers=CLERK).status_code == 403
    assert occupants.get(path, headers=CLERK).get_json()["state"] == "requested"
    manager_here = who("manager-here", roles=(), site_roles={place["site"]["id"]: ["site_manager"]})
    assert step(occupants, path, "approve", headers=manager_here).get_json()["state"] == "approved"


def test_a_general_manager_approves_anywhere(occupants, archive):
    request = ask(occupants, archive["id"])
    response = step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve",
                    headers=who("gm", roles=("general_manager",)))
    assert response.status_code == 200 and response.get_json()["decided_by"] == "gm"


def test_nobody_approves_their_own_request(occupants, archive):
    request = ask(occupants, archive["id"], headers=MANAGER)
    response = step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve", headers=MANAGER)
    assert response.status_code == 403
    assert occupants.get(f"/v1/archive-access-requests/{request['id']}", headers=MANAGER).get_json()["state"] == \
        "requested"


def test_the_access_workflow_refuses_steps_out_of_order(occupants, archive, db):
    request = ask(occupants, archive["id"])
    path = f"/v1/archive-access-requests/{request['id']}"
    assert step(occupants, path, "revoke").status_code == 409
    assert step(occupants, path, "withdraw", headers=OTHER_CLERK).status_code == 403
    assert step(occupants, path, "refuse", reason="无正当理由").get_json()["state"] == "refused"
    again = step(occupants, path, "approve")
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert again.get_json()["allowed"] == [] and again.get_json()["state"] == "refused"

    second = ask(occupants, archive["id"])
    path = f"/v1/archive-access-requests/{second['id']}"
    assert step(occupants, path, "withdraw", headers=CLERK).get_json()["state"] == "withdrawn"

    third = ask(occupants, archive["id"])
    path = f"/v1/archive-access-requests/{third['id']}"
    approved = step(occupants, path, "approve").get_json()
    assert approved["allowed"] == ["revoke"]
    assert step(occupants, path, "approve").get_json()["allowed"] == ["revoke"]
    assert step(occupants, path, "revoke").get_json()["state"] == "revoked"
    assert occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK).status_code == 403
    with db.connect() as connection:
        trail = connection.execute(select(chassis.audit_log.c.action, chassis.audit_log.c.from_state,
                                          chassis.audit_log.c.to_state).where(
            chassis.audit_log.c.entity_id == third["id"]).order_by(chassis.audit_log.c.id)).all()
    assert [tuple(row) for row in trail] == [("request", None, "requested"), ("approve", "requested", "approved"),
                                             ("revoke", "approved", "revoked")]


def test_a_request_naming_documents_of_another_archive_is_refused_and_nothing_is_kept(occupants, archive, db):
    response = occupants.post(f"/v1/archives/{archive['id']}/access-requests", headers=CLERK, json={
        "mode": "view", "purpose": "核对", "document_ids": ["0" * 36]})
    assert response.status_code == 422 and response.get_json()["field"] == "document_ids"
    missing_purpose = occupants.post(f"/v1/archives/{archive['id']}/access-requests", headers=CLERK,
                                     json={"mode": "view"})
    assert missing_purpose.status_code == 422 and missing_purpose.get_json()["field"] == "purpose"
    assert count(db, "archive_access_requests") == 0


def test_another_organizations_archive_is_not_found(occupants, archive):
    document = upload(occupants, archive["id"]).get_json()
    request = ask(occupants, archive["id"])
    for response in (
        occupants.get(f"/v1/archives/{archive['id']}", headers=STRANGER),
        occupants.get(f"/v1/archives/{archive['id']}/documents", headers=STRANGER),
        occupants.get(f"/v1/archive-documents/{document['id']}/file", headers=STRANGER),
        upload(occupants, archive["id"], headers=STRANGER),
        step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve", headers=STRANGER),
        occupants.post(f"/v1/archive-documents/{document['id']}/void-requests", headers=STRANGER,
                       json={"reason": "x"}),
    ):
        assert response.status_code == 404, response.get_json()
        assert response.content_type == "application/problem+json"


def test_opening_an_archive_names_the_unknown_record_and_refuses_a_second(occupants, place, archive, db):
    unknown = occupants.post("/v1/archives", headers=CLERK,
                             json={"unit_id": "0" * 36, "person_id": place["person"]["id"]})
    assert unknown.status_code == 404 and unknown.get_json()["field"] == "unit_id"
    twice = occupants.post("/v1/archives", headers=CLERK,
                           json={"unit_id": place["unit"]["id"], "person_id": place["person"]["id"]})
    assert twice.status_code == 409 and twice.get_json()["field"] == "person_id"
    assert count(db, "owner_archives") == 1


def test_uploading_needs_a_customer_service_role_at_the_site(occupants, archive, place):
    technician = who("tech", roles=("technician",))
    assert upload(occupants, archive["id"], headers=technician).status_code == 403
    elsewhere = who("clerk-elsewhere", roles=(), sites=(place["site"]["id"],),
                    site_roles={"another-site": ["cs_specialist"]})
    assert upload(occupants, archive["id"], headers=elsewhere).status_code == 403


def test_the_information_form_is_versioned_never_overwritten(occupants, archive, db):
    first = occupants.post(f"/v1/archives/{archive['id']}/information-forms", headers=CLERK, json={
        "data": {"full_name": "张伟", "phone": "13800000001"}})
    assert first.status_code == 201 and first.get_json()["version"] == 1
    second = occupants.post(f"/v1/archives/{archive['id']}/information-forms", headers=CLERK, json={
        "data": {"full_name": "张伟", "phone": "13900000009"}, "reason": "业主更换联系电话"})
    assert second.get_json()["version"] == 2
    bad = occupants.post(f"/v1/archives/{archive['id']}/information-forms", headers=CLERK, json={
        "data": {"full_name": "张伟", "email": "not-an-address"}})
    assert bad.status_code == 422 and bad.get_json()["field"] == "data.email"
    assert count(db, "owner_information_forms") == 2

    request = ask(occupants, archive["id"], information_form=True)
    step(occupants, f"/v1/archive-access-requests/{request['id']}", "approve")
    versions = occupants.get(f"/v1/archives/{archive['id']}/information-forms", headers=CLERK).get_json()["items"]
    assert [(v["version"], v["data"]["phone"]) for v in versions] == [(1, "13800000001"), (2, "13900000009")]


def test_voiding_needs_approval_keeps_the_file_and_is_published(occupants, archive, tmp_path, db):
    document = upload(occupants, archive["id"]).get_json()
    request = occupants.post(f"/v1/archive-documents/{document['id']}/void-requests", headers=CLERK,
                             json={"reason": "证件过期"})
    assert request.status_code == 201, request.get_json()
    request = request.get_json()
    duplicate = occupants.post(f"/v1/archive-documents/{document['id']}/void-requests", headers=CLERK,
                               json={"reason": "again"})
    assert duplicate.status_code == 409
    path = f"/v1/archive-void-requests/{request['id']}"
    assert step(occupants, path, "approve", headers=OTHER_CLERK).status_code == 403
    assert events(db, ArchiveDocumentVoided) == []
    assert step(occupants, path, "approve").get_json()["state"] == "approved"
    assert step(occupants, path, "refuse").status_code == 409

    access = ask(occupants, archive["id"], document_ids=[document["id"]])
    step(occupants, f"/v1/archive-access-requests/{access['id']}", "approve")
    [voided] = occupants.get(f"/v1/archives/{archive['id']}/documents", headers=CLERK).get_json()["items"]
    assert (voided["state"], voided["void_reason"]) == ("void", "证件过期")
    assert occupants.get(f"/v1/archive-documents/{document['id']}/file", headers=CLERK).data == PDF
    [(envelope, payload)] = events(db, ArchiveDocumentVoided)
    assert (payload.document_id, payload.reason, payload.requested_by, payload.approved_by) == (
        document["id"], "证件过期", "clerk", "manager")
    assert occupants.post(f"/v1/archive-documents/{document['id']}/void-requests", headers=CLERK,
                          json={"reason": "x"}).status_code == 409


def test_a_former_owners_archive_is_kept_apart_and_later_due_for_disposal(occupants, archive, place, db):
    with Session(db) as session, session.begin():
        for _ in range(2):  # a repeated transfer changes nothing
            rules.keep_former_owner_archive(
                session, organization_id=ORG_A, site_id=place["site"]["id"], unit_id=place["unit"]["id"],
                person_id=place["person"]["id"], transferred_on=date(2026, 6, 30), actor="transfer")
    kept = occupants.get(f"/v1/archives/{archive['id']}", headers=CLERK).get_json()
    assert (kept["state"], kept["set_aside_on"], kept["retain_until"]) == ("set_aside", "2026-06-30", "2029-06-30")
    [(envelope, payload)] = events(db, ArchiveSetAside)
    assert (payload.archive_id, payload.transferred_on, payload.retain_until) == (archive["id"], "2026-06-30",
                                                                                  "2029-06-30")
    due = f"/v1/sites/{place['site']['id']}/archives/due-for-disposal"
    assert occupants.get(f"{due}?on=2029-06-29", headers=MANAGER).get_json()["items"] == []
    assert [a["id"] for a in occupants.get(f"{due}?on=2029-06-30", headers=MANAGER).get_json()["items"]] == [
        archive["id"]]
    assert occupants.get(due, headers=CLERK).status_code == 403
    assert occupants.get(f"{due}?on=someday", headers=MANAGER).get_json()["field"] == "on"


def test_an_owner_without_an_archive_gets_one_kept_apart(occupants, place, db):
    with Session(db) as session, session.begin():
        rules.keep_former_owner_archive(
            session, organization_id=ORG_A, site_id=place["site"]["id"], unit_id=place["unit"]["id"],
            person_id=place["person"]["id"], transferred_on=date(2024, 2, 29), actor="transfer")
    [kept] = occupants.get(f"/v1/sites/{place['site']['id']}/archives?state=set_aside",
                           headers=CLERK).get_json()["items"]
    assert kept["retain_until"] == "2027-02-28"


def test_archives_are_listed_a_page_at_a_time(occupants, place, site):
    for number in ("102", "103", "104"):
        unit = occupants.post(f"/v1/buildings/{place['unit']['building_id']}/units", headers=MANAGER, json={
            "number": number, "floor": 1, "kind": "residence", "floor_area_m2": "89.50"}).get_json()
        occupants.post("/v1/archives", headers=CLERK, json={"unit_id": unit["id"], "person_id": place["person"]["id"]})
    first = occupants.get(f"/v1/sites/{site['id']}/archives?limit=2", headers=CLERK).get_json()
    second = occupants.get(f"/v1/sites/{site['id']}/archives?limit=2&cursor={first['next_cursor']}",
                           headers=CLERK).get_json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert len({a["id"] for a in first["items"] + second["items"]}) == 3


def test_an_owner_who_buys_the_unit_back_has_their_archive_kept_permanently_again(occupants, archive, place, db):
    where = {"organization_id": ORG_A, "site_id": place["site"]["id"], "unit_id": place["unit"]["id"],
             "person_id": place["person"]["id"]}
    with Session(db) as session, session.begin():
        rules.keep_former_owner_archive(session, **where, transferred_on=date(2026, 6, 30), actor="transfer")
    with Session(db) as session, session.begin():
        again = rules.ensure_owner_archive(session, **where, actor="transfer")
        assert again.id == archive["id"]
        assert rules.ensure_owner_archive(session, **where, actor="transfer").id == archive["id"]
    reopened = occupants.get(f"/v1/archives/{archive['id']}", headers=CLERK).get_json()
    assert (reopened["state"], reopened["retain_until"]) == ("current", None)
    with db.connect() as connection:
        actions = connection.execute(select(chassis.audit_log.c.action).where(
            chassis.audit_log.c.entity_id == archive["id"]).order_by(chassis.audit_log.c.id)).scalars().all()
    assert actions == ["open", "set_aside", "reopen"]


def test_the_docs_carry_each_workflows_diagram(occupants):
    guide = (Path(__file__).resolve().parents[3] / "docs" / "occupants" / "archives.md").read_text()
    assert rules.ACCESS.mermaid() in guide and rules.VOIDING.mermaid() in guide
    paths = occupants.get("/openapi.json").get_json()["paths"]
    assert rules.ACCESS.mermaid() in paths["/v1/archive-access-requests/{request_id}/steps"]["post"]["description"]
    assert rules.VOIDING.mermaid() in paths["/v1/archive-void-requests/{request_id}/steps"]["post"]["description"]


def test_a_void_request_may_be_refused_or_withdrawn_and_then_the_document_stays(occupants, archive, db):
    document = upload(occupants, archive["id"]).get_json()
    path = f"/v1/archive-documents/{document['id']}/void-requests"
    missing = occupants.post(path, headers=CLERK, json={})
    assert missing.status_code == 422 and missing.get_json()["field"] == "reason"
    assert count(db, "archive_void_requests") == 0

    refused = occupants.post(path, headers=CLERK, json={"reason": "重复上传"}).get_json()
    answer = step(occupants, f"/v1/archive-void-requests/{refused['id']}", "refuse", reason="不是重复的")
    assert (answer.get_json()["state"], answer.get_json()["decision_reason"]) == ("refused", "不是重复的")
    withdrawn = occupants.post(path, headers=CLERK, json={"reason": "重复上传"}).get_json()
    assert step(occupants, f"/v1/archive-void-requests/{withdrawn['id']}", "withdraw",
                headers=OTHER_CLERK).status_code == 403
    assert step(occupants, f"/v1/archive-void-requests/{withdrawn['id']}", "withdraw",
                headers=CLERK).get_json()["state"] == "withdrawn"
    late = step(occupants, f"/v1/archive-void-requests/{withdrawn['id']}", "approve")
    assert late.status_code == 409 and late.get_json()["allowed"] == []

    pending = occupants.get(f"/v1/sites/{archive['site_id']}/archive-void-requests?state=refused",
                            headers=MANAGER).get_json()["items"]
    assert [r["id"] for r in pending] == [refused["id"]]
    with db.connect() as connection:
        state = connection.execute(text("SELECT state FROM archive_documents WHERE id = :id"),
                                   {"id": document["id"]}).scalar()
    assert state == "kept"
    assert events(db, ArchiveDocumentVoided) == []
