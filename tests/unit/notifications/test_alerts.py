"""Staff alerts (NTF-4), the emergency chain (NTF-5), billing notices (NTF-6) and greetings (NTF-7) from the
events other services publish."""

from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from psp.billing.v1.accounts_pb2 import PaymentReceived, PrepaidBalanceLow
from psp.occupants.v1.movein_pb2 import MoveInAccepted
from psp.ticketing.v1.field_pb2 import IncidentOpened
from psp.ticketing.v1.repairs_pb2 import DailyReviewCompiled, WorkOrderDispatched
from psp.ticketing.v1.shifts_pb2 import DutyAssigned, HandoverWritten
from psp.ticketing.v1.sla_pb2 import SlaRecipient, TicketSlaBreached
from sqlalchemy import select

from services.notifications.delivery.tables import Message
from services.notifications.emergency import rules as emergency
from services.notifications.emergency.tables import EmergencyAlert
from services.notifications.greetings import rules as greetings
from tests.support.notifications.events import (
    BUILDING_A, BUILDING_B, SITE, a_staff_member, an_occupant, as_user, deliver)


def messages(sessions, **where):
    with sessions() as session:
        stmt = select(Message).order_by(Message.recipient_id, Message.channel)
        for name, value in where.items():
            stmt = stmt.where(getattr(Message, name) == value)
        return session.scalars(stmt).all()


def stamp(at: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(at)
    return value


def test_an_sla_breach_goes_to_the_people_named_not_before_its_delivery_time(sessions):
    owner = a_staff_member(sessions, 1, ["cs_specialist"])
    supervisor = a_staff_member(sessions, 2, ["cs_supervisor"], channels=("sms", "email"))
    a_staff_member(sessions, 3, ["cs_supervisor"])
    opening = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=8)
    deliver(sessions, TicketSlaBreached(
        ticket_id="t1", ticket_number="T-1", site_id=SITE, stage="dispatch", clock="reception",
        due_at=stamp(datetime.now(timezone.utc)), deliver_after=stamp(opening),
        recipients=[SlaRecipient(member_id=owner, user_id="user-1", role="owner"),
                    SlaRecipient(member_id=supervisor, user_id="user-2", role="cs_supervisor")]))
    sent = messages(sessions)
    assert [(m.recipient_id, m.channel, m.category) for m in sent] == [(owner, "email", "staff"),
                                                                       (supervisor, "sms", "staff")]
    assert sent[0].subject == "工单T-1已超时"
    assert {m.next_attempt_at.replace(tzinfo=timezone.utc) for m in sent} == {opening}


def test_a_dispatched_work_order_tells_its_technician(sessions):
    technician = a_staff_member(sessions, 5, ["technician"], channels=("app",))
    deliver(sessions, WorkOrderDispatched(work_order_id="w1", ticket_number="T-9", site_id=SITE,
                                          technician_member_id=technician, technician_user_id="user-5",
                                          summary="厨房漏水", emergency=True))
    [message] = messages(sessions)
    assert (message.recipient_id, message.user_id, message.subject) == (technician, "user-5", "[紧急]派工：T-9")


def test_the_daily_review_digest_goes_to_the_members_named(sessions):
    supervisor = a_staff_member(sessions, 2, ["cs_supervisor"])
    deliver(sessions, DailyReviewCompiled(site_id=SITE, day="2027-01-15", overdue=2, forgotten=1,
                                          ticket_numbers=["T-1", "T-2"], recipient_member_ids=[supervisor]))
    [message] = messages(sessions)
    assert message.body == "超时2单，遗忘1单：T-1、T-2"


def test_a_day_shift_handover_reminds_that_nights_duty(sessions):
    night = a_staff_member(sessions, 7, ["night_duty"])
    a_staff_member(sessions, 8, ["night_duty"])
    deliver(sessions, DutyAssigned(duty_id="d1", site_id=SITE, day="2027-01-15", shift="night", user_id="user-7"))
    deliver(sessions, DutyAssigned(duty_id="d2", site_id=SITE, day="2027-01-16", shift="night", user_id="user-8"))
    deliver(sessions, HandoverWritten(handover_id="h1", site_id=SITE, day="2027-01-15", shift="day",
                                      ticket_ids=["t1", "t2"]))
    assert [(m.recipient_id, m.template_kind) for m in messages(sessions)] == [(night, "handover_written")]


def incident(kind="fire", building_id=BUILDING_A) -> IncidentOpened:
    return IncidentOpened(incident_id="i1", site_id=SITE, kind=kind, title="B座3楼烟雾报警", place="B座3楼",
                          building_id=building_id)


def test_an_incident_alerts_the_first_level_and_broadcasts_to_its_building(sessions):
    desk = a_staff_member(sessions, 1, ["cs_specialist"])
    supervisor = a_staff_member(sessions, 2, ["cs_supervisor"])
    a_staff_member(sessions, 3, ["site_manager"])
    occupant_a = an_occupant(sessions, 10, building_id=BUILDING_A)
    an_occupant(sessions, 11, building_id=BUILDING_B)
    envelope = deliver(sessions, incident())
    deliver(sessions, incident(), envelope=envelope)
    staff = messages(sessions, template_kind="emergency_alert")
    assert sorted(m.recipient_id for m in staff) == sorted([desk, supervisor])
    assert {m.category for m in staff} == {"emergency"}
    assert [m.recipient_id for m in messages(sessions, template_kind="emergency_broadcast")] == [occupant_a]
    with sessions() as session:
        assert [(a.level, a.state) for a in session.scalars(select(EmergencyAlert))] == [(1, "alerted")]


def test_an_unacknowledged_level_escalates_once_to_the_next_level_with_anyone(sessions):
    a_staff_member(sessions, 1, ["cs_specialist"])
    manager = a_staff_member(sessions, 3, ["site_manager"])
    deliver(sessions, incident(kind="gas_leak"))
    later = datetime.now(timezone.utc) + timedelta(minutes=6)
    assert emergency.escalate_due(sessions, now=datetime.now(timezone.utc)) == 0, "not before the timeout"
    assert emergency.escalate_due(sessions, now=later) == 1
    with sessions() as session:
        alerts = session.scalars(select(EmergencyAlert).order_by(EmergencyAlert.level)).all()
    assert [(a.level, a.state) for a in alerts] == [(1, "escalated"), (3, "alerted")], "level 2 has nobody here"
    assert [m.recipient_id for m in messages(sessions, template_kind="emergency_alert", recipient_id=manager)] == \
        [manager]
    much_later = later + timedelta(minutes=6)
    assert emergency.escalate_due(sessions, now=much_later) == 1, "the site manager did not answer either"
    assert emergency.escalate_due(sessions, now=much_later) == 0, "each level escalates once; nobody above"
    assert len(messages(sessions, template_kind="emergency_alert")) == 2


def test_an_acknowledgement_by_the_levels_role_stops_the_climb(sessions, client):
    a_staff_member(sessions, 1, ["cs_specialist"])
    a_staff_member(sessions, 3, ["site_manager"])
    deliver(sessions, incident())
    desk = as_user("user-1", roles=("cs_specialist",))
    [alert] = client.get("/v1/emergency-alerts", headers=desk).get_json()["items"]
    refused = client.post(f"/v1/emergency-alerts/{alert['id']}/acknowledge",
                          headers=as_user("tech", roles=("technician",)))
    assert refused.status_code == 403
    response = client.post(f"/v1/emergency-alerts/{alert['id']}/acknowledge", headers=as_user("user-1"))
    assert response.status_code == 200, "the staff directory gives user-1 the front desk's role at the site"
    assert (response.get_json()["state"], response.get_json()["acknowledged_by"]) == ("acknowledged", "user-1")
    again = client.post(f"/v1/emergency-alerts/{alert['id']}/acknowledge", headers=as_user("user-1"))
    assert again.status_code == 409
    assert emergency.escalate_due(sessions, now=datetime.now(timezone.utc) + timedelta(hours=1)) == 0


def test_an_incident_outside_the_seven_kinds_is_not_broadcast(sessions):
    a_staff_member(sessions, 1, ["cs_specialist"])
    an_occupant(sessions, 10)
    deliver(sessions, incident(kind="noise"))
    assert messages(sessions, template_kind="emergency_broadcast") == []
    assert len(messages(sessions, template_kind="emergency_alert")) == 1


def test_billing_events_reach_the_payer(sessions):
    person = an_occupant(sessions, 1)
    deliver(sessions, PaymentReceived(payment_id="p", site_id=SITE, person_id=person, amount="100.00",
                                      currency="CNY", receipt_number="R-7"))
    deliver(sessions, PrepaidBalanceLow(meter_id="m", site_id=SITE, person_id=person, balance="3.10",
                                        threshold="20.00", currency="CNY", checked_on="2027-01-15"))
    assert sorted(m.subject for m in messages(sessions)) == ["收款收据R-7", "预付费余额不足"]


def test_an_accepted_move_in_welcomes_the_occupant_in_their_language(sessions):
    person = an_occupant(sessions, 1, language="en")
    deliver(sessions, MoveInAccepted(move_in_id="m1", site_id=SITE, unit_id="00000000-0000-4000-a000-000000000001",
                                     person_id=person))
    [message] = messages(sessions, template_kind="welcome")
    assert (message.recipient_id, message.subject, message.category) == (person, "Welcome home", "greetings")
    assert message.body == "Welcome to 101, 住户1! The service centre is here for you."


def test_birthdays_are_greeted_once_a_year_on_the_day_in_the_sites_zone(sessions):
    today = datetime.now(timezone.utc)
    local = today.astimezone(timezone(timedelta(hours=8)))
    born = an_occupant(sessions, 1, birthday=f"1985-{local.month:02d}-{local.day:02d}")
    an_occupant(sessions, 2, birthday=f"1990-{(local.month % 12) + 1:02d}-01")
    assert greetings.greet_birthdays(sessions, now=today) == 1
    assert greetings.greet_birthdays(sessions, now=today) == 0
    [message] = messages(sessions, template_kind="birthday")
    assert message.recipient_id == born and message.cause_id == f"birthday:{born}:{local.year}"
