"""The delivery engine (NTF-1) on SQLite against a real SMTP server and an HTTP SMS gateway: one message per
cause, recipient and channel; statuses audited; retries, fallback, quiet hours, throttling and opt-outs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from psp.billing.v1.accounts_pb2 import ArrearsStepTaken, BillIssued
from sqlalchemy import select, update

from services.notifications.delivery import rules
from services.notifications.delivery.tables import Message, Outgoing
from services.notifications.models import chassis
from shared import audit, policy
from shared.bus.envelope import new_envelope
from tests.conftest import ORG_A, bearer
from tests.support.notifications.events import SITE, an_occupant, as_user, deliver


def messages(sessions, **where):
    with sessions() as session:
        stmt = select(Message).order_by(Message.created_at, Message.channel)
        for name, value in where.items():
            stmt = stmt.where(getattr(Message, name) == value)
        return session.scalars(stmt).all()


def a_bill(person_id: str, amount: str = "268.50") -> BillIssued:
    return BillIssued(bill_id="bill-1", site_id=SITE, unit_id="u", person_id=person_id, period="2027-01",
                      amount=amount, currency="CNY")


def make_due(sessions) -> None:
    """Time passes: every queued message falls due (a retry's backoff, a deferral)."""
    with sessions() as session, session.begin():
        session.execute(update(Message).where(Message.status == "queued")
                        .values(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1)))


def test_an_event_handled_twice_makes_one_message_per_recipient_and_channel(sessions, send, mail):
    person = an_occupant(sessions, 1, channels=("email", "sms"))
    envelope = deliver(sessions, a_bill(person))
    deliver(sessions, a_bill(person), envelope=envelope)
    send()
    deliver(sessions, a_bill(person), envelope=envelope)
    send()
    assert [(m.channel, m.status) for m in messages(sessions)] == [("email", "sent")]
    assert len(mail.messages) == 1


def test_an_email_is_accepted_by_the_mail_server_carrying_its_id_and_cause(sessions, send, mail):
    person = an_occupant(sessions, 1)
    envelope = new_envelope(a_bill(person), organization_id=ORG_A, correlation_id="corr-4711")
    deliver(sessions, a_bill(person), envelope=envelope)
    assert send() == 1
    [message] = messages(sessions)
    [mailed] = mail.messages
    assert mailed["To"] == "p1@example.cn"
    assert mailed["Message-ID"] == f"<{message.id}@psp.notifications>"
    assert mailed["X-Correlation-ID"] == "corr-4711"
    assert "268.50 CNY" in mailed.get_payload(decode=True).decode()
    assert (message.status, message.cause_id, message.correlation_id) == ("sent", envelope.id, "corr-4711")
    with sessions() as session:
        trail = audit.trail(session, chassis.audit_log, organization_id=ORG_A, entity="message", entity_id=message.id)
    assert [(t.action, t.from_state, t.to_state, t.actor) for t in trail] == [
        ("send", "queued", "sent", "notifications")]


def test_a_gateway_error_is_retried_with_backoff_then_the_report_marks_the_text_delivered(sessions, send, gateway,
                                                                                          client):
    person = an_occupant(sessions, 1, channels=("sms",))
    gateway.answers.extend([503])
    deliver(sessions, a_bill(person))
    send()
    [message] = messages(sessions)
    assert (message.status, message.attempts) == ("queued", 1)
    assert "503" in message.reason
    assert message.next_attempt_at.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc) + timedelta(seconds=20)
    assert send() == 0, "not before its backoff"
    make_due(sessions)
    assert send() == 1
    [text] = gateway.texts
    assert (text["reference"], text["to"]) == (message.id, "+8613800000001")
    body, headers = gateway.signed_report(message.id, "delivered")
    response = client.post("/v1/sms/delivery-reports", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "delivered"
    [message] = messages(sessions)
    assert message.provider_id == text["id"]


def test_a_report_with_a_wrong_signature_is_refused_and_changes_nothing(sessions, send, gateway, client):
    person = an_occupant(sessions, 1, channels=("sms",))
    deliver(sessions, a_bill(person))
    send()
    [message] = messages(sessions)
    body, headers = gateway.signed_report(message.id, "failed")
    response = client.post("/v1/sms/delivery-reports", data=body.replace(b"failed", b"delivered"), headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert messages(sessions)[0].status == "sent"


def test_a_text_reported_failed_goes_on_to_the_next_channel(sessions, send, gateway, client, mail):
    person = an_occupant(sessions, 1, channels=("sms", "email"))
    deliver(sessions, a_bill(person))
    send()
    [text] = gateway.texts
    body, headers = gateway.signed_report(text["reference"], "failed", "handset unreachable")
    assert client.post("/v1/sms/delivery-reports", data=body, headers=headers).status_code == 200
    send()
    assert [(m.channel, m.status) for m in messages(sessions)] == [("sms", "failed"), ("email", "sent")]
    assert messages(sessions, channel="sms")[0].reason == "handset unreachable"
    with sessions() as session:
        [queued, _] = audit.trail(session, chassis.audit_log, organization_id=ORG_A, entity="message",
                                  entity_id=messages(sessions, channel="email")[0].id)
    assert queued.reason == "sms failed: handset unreachable"
    assert len(mail.messages) == 1


def test_retries_run_out_then_the_next_channel_is_tried(sessions, send, gateway, mail):
    person = an_occupant(sessions, 1, channels=("sms", "email"))
    gateway.answers.extend([500, 502, 503, 504])
    deliver(sessions, a_bill(person))
    for _ in range(4):
        send()
        make_due(sessions)
    send()
    sms, email = messages(sessions, channel="sms")[0], messages(sessions, channel="email")[0]
    assert (sms.status, sms.attempts) == ("failed", 4)
    assert email.status == "sent"
    assert gateway.texts == []


def test_an_invalid_phone_number_fails_with_its_reason_and_falls_back(sessions, send, gateway, mail):
    person = an_occupant(sessions, 1, channels=("sms", "email"), phone="12345")
    deliver(sessions, a_bill(person))
    send()
    sms = messages(sessions, channel="sms")[0]
    assert sms.status == "failed" and "not a valid phone number" in sms.reason
    send()
    assert messages(sessions, channel="email")[0].status == "sent"
    assert gateway.texts == []


def test_a_refused_mailbox_fails_for_good_and_the_in_app_inbox_takes_over(sessions, send, mail, client):
    person = an_occupant(sessions, 1, channels=("email",))
    mail.refuse("p1@example.cn")
    deliver(sessions, a_bill(person))
    send()
    send()
    assert [(m.channel, m.status) for m in messages(sessions)] == [("email", "failed"), ("app", "delivered")]
    inbox = client.get("/v1/inbox", headers=as_user(person)).get_json()["items"]
    assert [m["template_kind"] for m in inbox] == ["bill_issued"]


def test_quiet_hours_hold_sms_and_email_until_they_end_but_not_legal_letters(sessions, send, mail):
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=rules.QUIET_HOURS,
                        new_value=[start, end], actor="test")
    person = an_occupant(sessions, 1)
    deliver(sessions, a_bill(person))
    deliver(sessions, ArrearsStepTaken(step_id="s1", site_id=SITE, person_id=person, step="lawyer_letter",
                                       amount_overdue="900.00", currency="CNY", months_overdue=4))
    send()
    [bill], [letter] = messages(sessions, template_kind="bill_issued"), messages(sessions, template_kind="arrears_step")
    assert (letter.status, letter.category) == ("sent", "legal")
    assert (bill.status, bill.reason) == ("queued", "quiet hours")
    assert bill.next_attempt_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).strftime(
        "%H:%M") == end
    assert len(mail.messages) == 1


def test_a_mistyped_quiet_hours_setting_holds_nothing_back(sessions, send, mail):
    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=rules.QUIET_HOURS,
                        new_value="22-7", actor="test")
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=rules.THROTTLE_PER_HOUR,
                        new_value="many", actor="test")
    deliver(sessions, a_bill(an_occupant(sessions, 1)))
    send()
    in_default_quiet_hours = rules.quiet_until(rules.QUIET_HOURS.default, "Asia/Shanghai", datetime.now(timezone.utc))
    [message] = messages(sessions)
    assert (message.status, message.reason) == (("queued", "quiet hours") if in_default_quiet_hours else ("sent", ""))


def test_an_unknown_payer_or_staff_member_is_kept_as_a_failed_message(sessions, send):
    from psp.ticketing.v1.repairs_pb2 import WorkOrderDispatched

    deliver(sessions, a_bill("00000000-0000-4000-9000-999999999999"))
    deliver(sessions, WorkOrderDispatched(work_order_id="w", ticket_number="T-1", site_id=SITE,
                                          technician_member_id="nobody", technician_user_id="nobody-user"))
    send()
    assert sorted((m.recipient_kind, m.status, m.reason) for m in messages(sessions)) == [
        ("person", "failed", "no such person known to notifications"),
        ("staff", "failed", "no such staff known to notifications")]


def test_quiet_hours_span_midnight():
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2027, 1, 15, 23, 30, tzinfo=shanghai)
    assert rules.quiet_until(["22:00", "07:00"], "Asia/Shanghai", at) == datetime(2027, 1, 16, 7, 0, tzinfo=shanghai)
    assert rules.quiet_until(["22:00", "07:00"], "Asia/Shanghai", at.replace(hour=6)) == \
        datetime(2027, 1, 15, 7, 0, tzinfo=shanghai)
    assert rules.quiet_until(["22:00", "07:00"], "Asia/Shanghai", at.replace(hour=12)) is None
    assert rules.quiet_until([], "Asia/Shanghai", at) is None


def test_a_recipient_gets_at_most_the_throttle_per_hour(sessions, send, mail):
    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=None, setting=rules.THROTTLE_PER_HOUR,
                        new_value=2, actor="test")
    person = an_occupant(sessions, 1)
    for n in range(3):
        deliver(sessions, BillIssued(bill_id=f"b{n}", site_id=SITE, person_id=person, period=f"2027-0{n + 1}",
                                     amount="1.00", currency="CNY"))
    send()
    assert sorted(m.status for m in messages(sessions)) == ["queued", "sent", "sent"]
    assert messages(sessions, status="queued")[0].reason.startswith("throttled")
    assert len(mail.messages) == 2


def test_an_opt_out_stops_its_category_only_and_legal_letters_cannot_be_opted_out_of(sessions, send, mail, client):
    person = an_occupant(sessions, 1)
    response = client.put(f"/v1/recipients/{person}/opt-outs/billing", headers=as_user(person))
    assert response.status_code == 200 and response.get_json()["opt_outs"] == ["billing"]
    refused = client.put(f"/v1/recipients/{person}/opt-outs/legal", headers=as_user(person))
    assert refused.status_code == 422 and refused.get_json()["field"] == "category"
    deliver(sessions, a_bill(person))
    deliver(sessions, ArrearsStepTaken(step_id="s1", site_id=SITE, person_id=person, step="demand_letter",
                                       amount_overdue="900.00", currency="CNY", months_overdue=4))
    send()
    [bill], [letter] = messages(sessions, template_kind="bill_issued"), messages(sessions, template_kind="arrears_step")
    assert (bill.status, bill.reason) == ("failed", "the recipient opted out of billing")
    assert letter.status == "sent"
    assert len(mail.messages) == 1


def test_someone_else_may_not_change_a_persons_opt_outs_without_a_customer_service_role(sessions, client):
    person = an_occupant(sessions, 1)
    response = client.put(f"/v1/recipients/{person}/opt-outs/notices", headers=as_user("someone",
                                                                                        roles=("technician",)))
    assert response.status_code == 403


def test_without_a_mail_server_or_gateway_mail_and_texts_wait_in_the_outgoing_box(sessions, client):
    from services.notifications.delivery import channels, sender
    from shared.config import Settings

    email_person = an_occupant(sessions, 1, channels=("email",))
    sms_person = an_occupant(sessions, 2, channels=("sms",))
    deliver(sessions, a_bill(email_person))
    deliver(sessions, a_bill(sms_person))
    assert sender.deliver_due(sessions, channels.configured(Settings(), sessions)) == 2
    kept = client.get("/v1/outgoing", headers=bearer()).get_json()["items"]
    assert sorted((k["channel"], k["address"]) for k in kept) == [("email", "p1@example.cn"),
                                                                   ("sms", "+8613800000002")]
    with sessions() as session:
        assert session.scalar(select(Outgoing.body).where(Outgoing.channel == "email")).startswith("住户1")


def test_a_message_claimed_by_one_sender_is_not_taken_by_another(sessions):
    from services.notifications.delivery import sender

    person = an_occupant(sessions, 1)
    deliver(sessions, a_bill(person))
    now = datetime.now(timezone.utc)
    with sessions() as session, session.begin():
        first = sender.claim(session, now)
    with sessions() as session, session.begin():
        second = sender.claim(session, now)
    assert len(first) == 1 and second == []
    with sessions() as session, session.begin():
        assert len(sender.claim(session, now + sender.LEASE + timedelta(seconds=1))) == 1, \
            "a sender that died holding it leaves it due after the lease"


def test_a_webhook_message_is_posted_signed_to_the_organizations_endpoint(sessions, send, gateway):
    from services.notifications.delivery.channels import verify

    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=None, setting=rules.WEBHOOK_URL,
                        new_value=gateway.url, actor="test")
    person = an_occupant(sessions, 1, channels=("webhook",))
    deliver(sessions, a_bill(person))
    send()
    [message] = messages(sessions)
    assert message.status == "delivered"
    [(headers, body)] = gateway.requests
    assert verify("webhook-secret", {k.lower(): v for k, v in headers.items()}, body)
    assert not verify("another-secret", {k.lower(): v for k, v in headers.items()}, body)
    assert json.loads(body)["message_id"] == message.id and json.loads(body)["type"] == "notification.bill_issued"


def test_staff_limited_to_one_site_see_only_its_messages_and_the_organizations(sessions, client):
    other_site = "5e000000-0000-4000-8000-0000000000cc"
    deliver(sessions, a_bill(an_occupant(sessions, 1)))
    elsewhere = an_occupant(sessions, 2, site_id=other_site)
    deliver(sessions, BillIssued(bill_id="b2", site_id=other_site, person_id=elsewhere, period="2027-01",
                                 amount="1.00", currency="CNY"))
    mine = client.get("/v1/messages", headers=as_user("desk", roles=("cs_specialist",), sites=(SITE,))).get_json()
    assert {m["site_id"] for m in mine["items"]} == {SITE}
    everyone = client.get("/v1/messages", headers=as_user("gm", roles=("general_manager",))).get_json()
    assert {m["site_id"] for m in everyone["items"]} == {SITE, other_site}
    assert client.get("/v1/messages", headers=as_user("occupant")).status_code == 403
