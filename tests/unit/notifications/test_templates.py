"""Templates (NTF-2): sandboxed, strict about missing names, versioned, previewable; a message whose template
fails to render records why and sends nothing."""

from psp.billing.v1.accounts_pb2 import BillIssued
from sqlalchemy import select

from services.notifications.delivery.tables import Message, Outgoing
from services.notifications.templates import rules
from services.notifications.templates.catalogue import KINDS, LANGUAGES, sample
from tests.support.notifications.events import SITE, an_occupant, as_user, deliver

SUPERVISOR = as_user("supervisor-li", roles=("cs_supervisor",))


def test_every_built_in_template_renders_with_its_sample_data_in_both_languages():
    for kind in KINDS:
        for language in LANGUAGES:
            rendered = rules.render(rules.built_in(kind, language), sample(kind))
            assert rendered.subject and rendered.body, (kind, language)


def test_a_preview_renders_the_version_in_force_with_sample_data(client):
    response = client.post("/v1/templates/preview", json={"kind": "bill_issued", "language": "en"}, headers=SUPERVISOR)
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert preview["version"] == 0
    assert preview["subject"] == "Payment notice 2027-01"
    assert "268.50 CNY" in preview["body"]


def test_a_name_the_data_lacks_is_refused_naming_the_part_that_fails(client):
    response = client.post("/v1/templates", headers=SUPERVISOR, json={
        "kind": "bill_issued", "language": "en", "subject": "Bill {{ period }}", "body": "Pay {{ amont }}"})
    assert response.status_code == 422
    assert response.get_json()["field"] == "body"
    assert "amont" in response.get_json()["detail"]
    assert client.get("/v1/templates", headers=SUPERVISOR).get_json()["items"] == []


def test_the_sandbox_keeps_templates_away_from_python_internals(client):
    response = client.post("/v1/templates/preview", headers=SUPERVISOR, json={
        "kind": "birthday", "language": "en", "subject": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "body": "x"})
    assert response.status_code == 422 and response.get_json()["field"] == "subject"


def test_a_new_version_is_used_from_then_on_and_the_message_records_it(client, sessions):
    person = an_occupant(sessions, 1, language="en")
    for body in ("First {{ amount }}", "Second {{ amount }}"):
        response = client.post("/v1/templates", headers=SUPERVISOR, json={
            "kind": "bill_issued", "language": "en", "subject": "Bill {{ period }}", "body": body})
        assert response.status_code == 201
    assert response.get_json()["version"] == 2
    deliver(sessions, BillIssued(bill_id="b", site_id=SITE, person_id=person, period="2027-02", amount="9.00",
                                 currency="CNY"))
    with sessions() as session:
        message = session.scalars(select(Message)).one()
    assert (message.template_version, message.subject, message.body) == (2, "Bill 2027-02", "Second 9.00")


def test_only_supervisors_and_managers_write_templates(client):
    response = client.post("/v1/templates", headers=as_user("desk", roles=("cs_specialist",)), json={
        "kind": "birthday", "language": "en", "subject": "Hi", "body": "Hi"})
    assert response.status_code == 403


def test_a_template_that_fails_on_real_data_fails_the_message_and_sends_nothing(client, sessions, send):
    """Sample data and real data may differ: a version that renders with the sample can still fail."""
    person = an_occupant(sessions, 1)
    response = client.post("/v1/templates", headers=SUPERVISOR, json={
        "kind": "bill_issued", "language": "zh-CN", "subject": "账单", "body": "{{ (amount | float) // 0 }}"})
    assert response.status_code == 422, "division by zero shows on the sample too"
    client.post("/v1/templates", headers=SUPERVISOR, json={
        "kind": "bill_issued", "language": "zh-CN", "subject": "账单", "body": "{{ 100 // (amount | int) }}"})
    deliver(sessions, BillIssued(bill_id="b", site_id=SITE, person_id=person, period="2027-02", amount="0",
                                 currency="CNY"))
    send()
    with sessions() as session:
        message = session.scalars(select(Message)).one()
        assert session.scalars(select(Outgoing)).all() == []
    assert message.status == "failed"
    assert message.reason.startswith("template bill_issued v1 failed to render: ZeroDivisionError")
    assert (message.subject, message.body) == ("", "")
