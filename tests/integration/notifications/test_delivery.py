"""Notifications on PostgreSQL and RabbitMQ: an SLA breach committed in ticketing's outbox reaches the SMTP
server once, in the trace that caused it; two senders racing over the same messages send each once; the SMS
gateway's delivery report comes back over HTTP to the running API."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from psp.billing.v1.accounts_pb2 import BillIssued
from psp.ticketing.v1.sla_pb2 import SlaRecipient, TicketSlaBreached
from sqlalchemy import select, update
from werkzeug.serving import make_server

from services.notifications.delivery import channels, sender
from services.notifications.delivery.tables import Message
from services.ticketing.models import chassis as ticketing_chassis
from shared import db, tracing
from shared.bus import outbox
from shared.bus.envelope import timestamp
from shared.config import Settings
from tests.conftest import ORG_A, running_workers, wait_until
from tests.support.notifications.events import a_staff_member, an_occupant, deliver, prepared
from tests.support.notifications.peers import free_port, mail_server, sms_gateway


pytestmark = pytest.mark.integration


@pytest.fixture
def sessions(platform_env):
    engine = db.make_engine(platform_env["notifications"])
    yield prepared(db.make_sessionmaker(engine))
    engine.dispose()


@pytest.fixture
def ticketing_sessions(platform_env):
    engine = db.make_engine(platform_env["ticketing"])
    yield db.make_sessionmaker(engine)
    engine.dispose()


def test_a_breach_in_ticketings_outbox_reaches_the_mail_server_once_in_its_trace(
        sessions, ticketing_sessions, monkeypatch):
    supervisor = a_staff_member(sessions, 2, ["cs_supervisor"])
    breach = TicketSlaBreached(ticket_id="t1", ticket_number="HG-1", site_id="5e000000-0000-4000-8000-000000000001",
                               stage="dispatch", clock="calendar", due_at=timestamp(datetime.now(timezone.utc)),
                               deliver_after=timestamp(datetime.now(timezone.utc)),
                               recipients=[SlaRecipient(member_id=supervisor, user_id="user-2", role="cs_supervisor")])
    with mail_server() as mail:
        monkeypatch.setenv("SMTP_URL", mail.url)
        tracing.configure_once("tests")
        with tracing.tracer().start_as_current_span("ticketing fires") as span:
            with ticketing_sessions() as session, session.begin():
                outbox.record(session, ticketing_chassis.outbox, breach, organization_id=ORG_A)
        trace_id = format(span.get_span_context().trace_id, "032x")
        with running_workers("ticketing", "notifications"):
            wait_until(lambda: mail.messages, what="the alert accepted by the mail server")
            # The relay publishes the event again (as after a crash between publishing and marking).
            with ticketing_sessions() as session, session.begin():
                session.execute(update(ticketing_chassis.outbox).values(published_at=None))
            wait_until(lambda: _all_published(ticketing_sessions), what="the event published again")
            with sessions() as session:
                wait_until(lambda: session.scalar(select(Message.status)) == "sent", what="the message sent")
        [mailed] = mail.messages
    assert mailed["To"] == "staff2@example.cn" and mailed["Subject"] == "工单HG-1已超时"
    assert mailed["Traceparent"].split("-")[1] == trace_id
    with sessions() as session:
        [message] = session.scalars(select(Message)).all()
    assert message.trace_headers["traceparent"].split("-")[1] == trace_id


def _all_published(ticketing_sessions) -> bool:
    with ticketing_sessions() as session:
        return session.scalar(select(ticketing_chassis.outbox.c.id).where(
            ticketing_chassis.outbox.c.published_at.is_(None)).limit(1)) is None


def test_two_senders_racing_over_the_same_messages_send_each_once(sessions):
    people = [an_occupant(sessions, n) for n in range(300)]
    for n, person in enumerate(people):
        deliver(sessions, BillIssued(bill_id=f"b{n}", site_id="5e000000-0000-4000-8000-000000000001",
                                     person_id=person, period="2027-01", amount="1.00", currency="CNY"))
    with mail_server() as mail:
        configured = channels.configured(Settings(SMTP_URL=mail.url), sessions)
        handed = []
        racers = [threading.Thread(target=lambda: handed.append(sender.deliver_due(sessions, configured)))
                  for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        ids = [m["Message-ID"] for m in mail.messages]
    assert sum(handed) == 300
    assert len(ids) == len(set(ids)) == 300
    with sessions() as session:
        assert set(session.scalars(select(Message.status))) == {"sent"}


def test_the_gateways_delivery_report_comes_back_over_http(sessions, platform_env, monkeypatch):
    from services.notifications.app import create_app

    person = an_occupant(sessions, 1, channels=("sms",))
    port = free_port()
    monkeypatch.setenv("SMS_GATEWAY_SECRET", "gateway-secret")
    server = make_server("127.0.0.1", port, create_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sms_gateway("gateway-secret") as gateway:
            configured = channels.configured(Settings(
                SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_SECRET="gateway-secret",
                SMS_CALLBACK_URL=f"http://127.0.0.1:{port}/v1/sms/delivery-reports"), sessions)
            deliver(sessions, BillIssued(bill_id="b", site_id="5e000000-0000-4000-8000-000000000001",
                                         person_id=person, period="2027-01", amount="1.00", currency="CNY"))
            assert sender.deliver_due(sessions, configured) == 1
            [text] = gateway.texts
            assert gateway.report(text, "delivered") == 200
    finally:
        server.shutdown()
    with sessions() as session:
        message = session.scalars(select(Message)).one()
    assert (message.status, message.provider_id) == ("delivered", text["id"])
    assert message.delivered_at is not None


def test_a_sender_leases_no_more_than_its_batch(sessions):
    """PostgreSQL may run an `IN (subquery … LIMIT)` again per row: the lease must still stop at the limit."""
    people = [an_occupant(sessions, n) for n in range(5)]
    for n, person in enumerate(people):
        deliver(sessions, BillIssued(bill_id=f"b{n}", site_id="5e000000-0000-4000-8000-000000000001",
                                     person_id=person, period="2027-01", amount="1.00", currency="CNY"))
    with sessions() as session, session.begin():
        assert len(sender.claim(session, datetime.now(timezone.utc), limit=2)) == 2
    with sessions() as session, session.begin():
        assert len(sender.claim(session, datetime.now(timezone.utc), limit=10)) == 3
