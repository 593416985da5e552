"""SLA engine (TKT-4): the calendar arithmetic alone, then the clocks, the read models and the firing job on
SQLite."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psp.events.v1.envelope_pb2 import Envelope
from psp.occupants.v1.places_pb2 import HolidayOverride, ReceptionFrame, SiteRegistered, SiteUpdated
from psp.occupants.v1.staff_pb2 import StaffMemberChanged, StaffSiteRoles
from psp.ticketing.v1.sla_pb2 import TicketSlaBreached, TicketSlaWarning
from sqlalchemy import select

from services.ticketing.models import chassis
from services.ticketing.rosters import rules as rosters
from services.ticketing.rosters.tables import Absence
from services.ticketing.service import SERVICE
from services.ticketing.sla import clocks, firing
from services.ticketing.sla.calendar import (
    CALENDAR, RECEPTION, SiteCalendar, add, between, end_of_day, next_open)
from services.ticketing.sla.tables import Deadline, SiteCalendarRow, StaffMember
from services.ticketing.sla.targets import ALERTS_WAIT, DEFAULTS, SETTINGS
from services.ticketing.tickets import categories
from shared import db, policy
from shared.bus.envelope import new_envelope, unpack
from tests.conftest import ORG_A, ORG_B, migrate
from tests.support.tickets import a_person, a_unit, staff as token

SHANGHAI = ZoneInfo("Asia/Shanghai")
LUNCH = [(day, "08:30", "12:00") for day in range(1, 6)] + [(day, "13:30", "18:00") for day in range(1, 6)] + [
    (day, "09:00", "17:00") for day in (6, 7)]


def local(*parts) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


# -- calendar arithmetic ------------------------------------------------------------------------------------


def test_working_time_skips_the_lunch_break():
    calendar = SiteCalendar.of("Asia/Shanghai", LUNCH)
    assert add(calendar, RECEPTION, local(2026, 11, 30, 11, 50), 20 * 60) == local(2026, 11, 30, 13, 40)
    assert between(calendar, RECEPTION, local(2026, 11, 30, 11, 50), local(2026, 11, 30, 13, 40)) == 20 * 60


def test_a_deadline_is_utc_and_the_same_instant_in_every_zone():
    calendar = SiteCalendar.of("Asia/Shanghai", LUNCH)
    due = add(calendar, RECEPTION, datetime(2026, 11, 30, 3, 50, tzinfo=ZoneInfo("UTC")), 20 * 60)
    assert due.utcoffset() == timedelta(0)
    assert due.astimezone(SHANGHAI).isoformat() == "2026-11-30T13:40:00+08:00"


def test_a_night_intake_waits_for_the_morning_opening():
    calendar = SiteCalendar.of("Asia/Shanghai", LUNCH)
    assert add(calendar, RECEPTION, local(2026, 11, 30, 22, 0), 5 * 60) == local(2026, 12, 1, 8, 35)
    assert add(calendar, CALENDAR, local(2026, 11, 30, 22, 0), 5 * 60) == local(2026, 11, 30, 22, 5)


def test_public_holidays_stop_the_clock_and_make_up_days_keep_weekday_hours():
    calendar = SiteCalendar.of("Asia/Shanghai")
    # 30 September 2026 closes at 18:00; 1–7 October are the National Day holiday.
    assert add(calendar, RECEPTION, local(2026, 9, 30, 17, 0), 2 * 3600) == local(2026, 10, 8, 9, 30)
    # Saturday 10 October 2026 is a make-up working day: weekday hours (08:30), not Saturday's (09:00).
    assert add(calendar, RECEPTION, local(2026, 10, 9, 17, 50), 20 * 60) == local(2026, 10, 10, 8, 40)
    assert add(calendar, RECEPTION, local(2026, 10, 16, 17, 50), 20 * 60) == local(2026, 10, 17, 9, 10)


def test_the_operators_overrides_win_over_the_library_and_cover_the_years_it_does_not_know():
    plain = SiteCalendar.of("Asia/Shanghai")
    overridden = SiteCalendar.of("Asia/Shanghai", overrides={date(2027, 10, 1): "holiday",
                                                             date(2026, 10, 2): "workday"})
    # 2027 is not in the library yet: without the override 1 October 2027 is an ordinary Friday.
    assert add(plain, RECEPTION, local(2027, 9, 30, 17, 0), 2 * 3600) == local(2027, 10, 1, 9, 30)
    assert add(overridden, RECEPTION, local(2027, 9, 30, 17, 0), 2 * 3600) == local(2027, 10, 2, 10, 0)
    # The operator reopened 2 October 2026 (a Friday the library calls a holiday).
    assert add(overridden, RECEPTION, local(2026, 10, 2, 8, 0), 3600) == local(2026, 10, 2, 9, 30)


def test_the_same_day_and_within_n_days():
    calendar = SiteCalendar.of("Asia/Shanghai", LUNCH)
    assert end_of_day(calendar, RECEPTION, local(2026, 11, 30, 10, 0), 0) == local(2026, 11, 30, 18, 0)
    assert end_of_day(calendar, RECEPTION, local(2026, 11, 30, 19, 0), 0) == local(2026, 12, 1, 18, 0)
    assert end_of_day(calendar, RECEPTION, local(2026, 9, 30, 10, 0), 1) == local(2026, 10, 8, 18, 0)
    assert end_of_day(calendar, CALENDAR, local(2026, 11, 30, 10, 0), 0) == local(2026, 12, 1, 0, 0)
    assert end_of_day(calendar, CALENDAR, local(2026, 11, 30, 10, 0), 2) == local(2026, 12, 2, 10, 0)


def test_a_calendar_without_any_frame_is_refused():
    with pytest.raises(ValueError, match="no reception hours"):
        add(SiteCalendar.of("Asia/Shanghai", []), RECEPTION, local(2026, 11, 30, 10, 0), 60)


def test_alerts_outside_hours_wait_for_the_opening():
    calendar = SiteCalendar.of("Asia/Shanghai", LUNCH)
    assert next_open(calendar, local(2026, 11, 30, 12, 30)) == local(2026, 11, 30, 13, 30)
    assert next_open(calendar, local(2026, 11, 30, 14, 0)) == local(2026, 11, 30, 14, 0)


def _frame(opens: int, length: int) -> tuple[str, str]:
    closes = min(opens + length, 24 * 60 - 1)
    return f"{opens // 60:02}:{opens % 60:02}", f"{closes // 60:02}:{closes % 60:02}"


@st.composite
def calendars(draw):
    """A week of one or two frames a day (Thursday to Sunday may be closed), a time zone and a few overrides."""
    hours = []
    for weekday in range(1, 8):
        for _ in range(draw(st.integers(1 if weekday <= 3 else 0, 2))):
            opens = draw(st.integers(0, 22 * 60))
            hours.append((weekday, *_frame(opens, draw(st.integers(60, 8 * 60)))))
    # Overlapping frames are merged by neither side: keep them apart, as places' validation does.
    by_day: dict[int, list] = {}
    for weekday, opens, closes in sorted(hours):
        if by_day.get(weekday) and by_day[weekday][-1][2] >= opens:
            continue
        by_day.setdefault(weekday, []).append((weekday, opens, closes))
    overrides = draw(st.dictionaries(st.dates(date(2026, 9, 1), date(2027, 12, 31)),
                                     st.sampled_from(["holiday", "workday"]), max_size=20))
    zone = draw(st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "UTC"]))
    return SiteCalendar.of(zone, [frame for frames in by_day.values() for frame in frames], overrides)


instants = st.datetimes(datetime(2026, 9, 1), datetime(2027, 12, 1), timezones=st.just(timezone.utc))
durations = st.integers(0, 24 * 3600)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations, durations)
def test_adding_is_monotonic_and_additive(calendar, start, a, b):
    assert add(calendar, RECEPTION, start, min(a, b)) <= add(calendar, RECEPTION, start, max(a, b))
    assert add(calendar, RECEPTION, add(calendar, RECEPTION, start, a), b) == add(calendar, RECEPTION, start, a + b)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, st.integers(1, 2 * 24 * 3600))
def test_working_time_never_lands_outside_a_frame_and_measures_back(calendar, start, seconds):
    due = add(calendar, RECEPTION, start, seconds)
    opens, closes = next(calendar.frames_from(due - timedelta(microseconds=1)))
    assert opens <= due <= closes
    assert between(calendar, RECEPTION, start, due) == seconds


# -- clocks on the database ---------------------------------------------------------------------------------

SITE = "5a000000-0000-4000-8000-000000000001"


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path}/ticketing.sqlite3"
    migrate("ticketing", url)
    engine = db.make_engine(url)
    yield db.make_sessionmaker(engine)
    engine.dispose()


def deliver(sessions, payload, organization_id=ORG_A):
    """An occupants event through ticketing's registered route, in a transaction of its own."""
    envelope = new_envelope(payload, organization_id=organization_id)
    route = SERVICE.handlers.routes[envelope.type]
    with sessions() as session, session.begin():
        event = unpack(envelope, type(payload))
        route.handler(session, [event] if route.batched else event)


def site_registered(sessions, hours=LUNCH, overrides=()):
    deliver(sessions, SiteRegistered(
        site_id=SITE, code="HG", name="Harbour Gardens", time_zone="Asia/Shanghai",
        reception_hours=[ReceptionFrame(weekday=w, opens=o, closes=c) for w, o, c in hours],
        holiday_overrides=[HolidayOverride(date=d, kind=k, name="") for d, k in overrides]))


def staff(sessions, member_id, roles, *, version=1, active=True, site=SITE, channels=("sms",)):
    deliver(sessions, StaffMemberChanged(
        member_id=member_id, user_id=f"user-{member_id}", full_name=member_id, department="customer_service",
        active=active, version=version, site_roles=[StaffSiteRoles(site_id=site, roles=roles)],
        channels=channels))


def ticket(type="repair", tier=None, emergency=False, created=local(2026, 11, 30, 10, 0), **fields):
    return SimpleNamespace(id=fields.pop("id", "7c000000-0000-4000-8000-000000000001"), organization_id=ORG_A,
                           site_id=SITE, number="HG-2026-000001", type=type, tier=tier, emergency=emergency,
                           state="registered", owner_id="user-specialist", created_at=created,
                           promised_reply_at=None, requested_resolution_at=None,
                           category_id=fields.pop("category_id", None), **fields)


def step(sessions, row, action, from_state, to_state, at):
    with sessions() as session, session.begin():
        clocks.on_transition(session, row, action, from_state, to_state, at)
    row.state = to_state


def deadlines(sessions, ticket_id="7c000000-0000-4000-8000-000000000001"):
    with sessions() as session:
        rows = session.scalars(select(Deadline).where(Deadline.ticket_id == ticket_id)).all()
        session.expunge_all()
    return {row.stage: row for row in rows}


def as_utc(moment):
    return clocks.utc(moment)


def test_a_registered_repair_starts_its_clocks_and_dispatch_meets_one(sessions):
    site_registered(sessions)
    repair = ticket()
    step(sessions, repair, "register", None, "registered", repair.created_at)
    rows = deadlines(sessions)
    assert set(rows) == {"dispatch", "arrival_plan"}
    assert rows["dispatch"].clock == RECEPTION
    assert as_utc(rows["dispatch"].due_at) == local(2026, 11, 30, 10, 5)
    assert as_utc(rows["dispatch"].warn_at) == local(2026, 11, 30, 10, 3)
    assert as_utc(rows["dispatch"].next_fire_at) == local(2026, 11, 30, 10, 3)

    step(sessions, repair, "assign", "registered", "assigned", local(2026, 11, 30, 10, 2))
    rows = deadlines(sessions)
    assert (rows["dispatch"].state, rows["dispatch"].next_fire_at) == ("met", None)
    assert rows["arrival_plan"].state == "running"
    step(sessions, repair, "tell_plan", "assigned", "assigned", local(2026, 11, 30, 10, 4))
    assert deadlines(sessions)["arrival_plan"].state == "met"


def test_an_emergency_repair_counts_calendar_time(sessions):
    repair = ticket(emergency=True, created=local(2026, 11, 30, 23, 0))
    step(sessions, repair, "register", None, "registered", repair.created_at)
    dispatch = deadlines(sessions)["dispatch"]
    assert (dispatch.clock, as_utc(dispatch.due_at)) == (CALENDAR, local(2026, 11, 30, 23, 5))


def test_pausing_stops_the_clock_and_resuming_extends_it_by_exactly_the_paused_working_time(sessions):
    site_registered(sessions)
    complaint = ticket("internal_complaint", created=local(2026, 11, 30, 9, 0))
    step(sessions, complaint, "register", None, "registered", complaint.created_at)
    before = as_utc(deadlines(sessions)["first_reply"].due_at)
    assert before == local(2026, 12, 1, 9, 0)  # 8 working hours: 7.5 on Monday around lunch, 0.5 on Tuesday
    step(sessions, complaint, "pause", "registered", "waiting_occupant", local(2026, 11, 30, 11, 0))
    paused = deadlines(sessions)["first_reply"]
    assert (paused.state, paused.next_fire_at) == ("paused", None)
    step(sessions, complaint, "resume", "waiting_occupant", "in_progress", local(2026, 11, 30, 14, 0))
    resumed = deadlines(sessions)["first_reply"]
    # Paused 11:00–14:00, of which 11:00–12:00 and 13:30–14:00 were working time: 90 minutes.
    assert resumed.paused_seconds == 90 * 60
    assert resumed.state == "running"
    assert as_utc(resumed.due_at) == local(2026, 12, 1, 10, 30)


def test_classification_and_reclassification_follow_the_tiers_targets(sessions):
    complaint = ticket("complaint", created=local(2026, 11, 30, 10, 0))
    step(sessions, complaint, "register", None, "registered", complaint.created_at)
    assert set(deadlines(sessions)) == {"first_reply"}

    complaint.tier = "major"
    step(sessions, complaint, "classify", "registered", "classified", local(2026, 11, 30, 10, 10))
    rows = deadlines(sessions)
    assert set(rows) == {"first_reply", "reach_manager", "answer", "resolution"}
    assert as_utc(rows["reach_manager"].due_at) == local(2026, 12, 1, 0, 0)
    assert as_utc(rows["resolution"].due_at) == local(2026, 12, 10, 10, 0)

    complaint.tier, complaint.requested_resolution_at = "minor", local(2026, 12, 1, 12, 0)
    with sessions() as session, session.begin():
        clocks.recompute(session, complaint)
    rows = deadlines(sessions)
    assert rows["reach_manager"].state == rows["answer"].state == "cancelled"
    assert as_utc(rows["resolution"].due_at) == local(2026, 12, 1, 12, 0)
    assert rows["first_reply"].state == "running"


def test_a_categorys_targets_win_over_its_types_and_follow_a_reclassification(sessions):
    site_registered(sessions)
    with sessions() as session, session.begin():
        categories.ensure_defaults(session, ORG_A)
    leak = ticket(category_id=categories.default_id(ORG_A, "repair.leak"))
    step(sessions, leak, "register", None, "registered", leak.created_at)
    step(sessions, leak, "assign", "registered", "assigned", local(2026, 11, 30, 10, 1))
    step(sessions, leak, "resolve", "assigned", "resolved", local(2026, 11, 30, 11, 0))

    def return_visit_due():
        with sessions() as session, session.begin():
            clocks.recompute(session, leak)
        return as_utc(deadlines(sessions)["return_visit"].due_at)

    # A leak: visited by the close of the third working day after the leak test resolved it; a repair of the
    # water supply by the second's.
    assert as_utc(deadlines(sessions)["return_visit"].due_at) == local(2026, 12, 3, 18, 0)
    leak.category_id = categories.default_id(ORG_A, "repair.water")
    assert return_visit_due() == local(2026, 12, 2, 18, 0)

    # A site's policy: any repair category within a day, but a malformed target for water is ignored.
    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=SETTINGS["repair"],
                        new_value={**DEFAULTS["repair"], "categories": {
                            "repair": {"return_visit": {"clock": "reception", "days": 1}},
                            "repair.water": {"return_visit": {"clock": "sometimes", "days": 1}}}}, actor="test")
    assert return_visit_due() == local(2026, 12, 2, 18, 0)
    leak.category_id = categories.default_id(ORG_A, "repair.gas")  # a subcategory takes its parent's targets
    assert return_visit_due() == local(2026, 12, 1, 18, 0)
    assert deadlines(sessions)["dispatch"].state == "met"


def test_lifecycle_meets_stages_in_order_and_closing_cancels_the_rest(sessions):
    site_registered(sessions)
    repair = ticket()
    step(sessions, repair, "register", None, "registered", repair.created_at)
    step(sessions, repair, "assign", "registered", "assigned", local(2026, 11, 30, 10, 1))
    step(sessions, repair, "resolve", "assigned", "resolved", local(2026, 11, 30, 11, 0))
    rows = deadlines(sessions)
    assert rows["arrival_plan"].state == "met"
    assert rows["return_visit"].state == "running"
    assert as_utc(rows["return_visit"].due_at) == local(2026, 12, 2, 18, 0)
    step(sessions, repair, "unknown_step", "resolved", "resolved", local(2026, 11, 30, 11, 5))
    assert deadlines(sessions)["return_visit"].state == "running"
    step(sessions, repair, "inform", "resolved", "customer_informed", local(2026, 11, 30, 11, 10))
    step(sessions, repair, "visit", "customer_informed", "return_visit", local(2026, 12, 1, 9, 0))
    assert deadlines(sessions)["return_visit"].state == "met"
    step(sessions, repair, "close", "return_visit", "closed", local(2026, 12, 1, 9, 5))
    assert {row.state for row in deadlines(sessions).values()} == {"met"}

    other = ticket(id="7c000000-0000-4000-8000-000000000002")
    step(sessions, other, "register", None, "registered", other.created_at)
    step(sessions, other, "invalidate", "registered", "invalid", local(2026, 11, 30, 10, 1))
    assert {row.state for row in deadlines(sessions, other.id).values()} == {"cancelled"}


def test_the_read_models_keep_the_newest_staff_snapshot_and_the_sites_calendar(sessions):
    staff(sessions, "supervisor", ["cs_supervisor"], version=2)
    staff(sessions, "supervisor", ["site_manager"], version=1)  # stale: arrives late
    site_registered(sessions)
    deliver(sessions, SiteUpdated(site_id=SITE, code="HG", name="HG", time_zone="Asia/Shanghai",
                                  reception_hours=[ReceptionFrame(weekday=1, opens="10:00", closes="11:00")],
                                  holiday_overrides=[HolidayOverride(date="2027-10-01", kind="holiday")]))
    with sessions() as session:
        member = session.get(StaffMember, "supervisor")
        assert (member.version, member.site_roles) == (2, {SITE: ["cs_supervisor"]})
        assert session.get(SiteCalendarRow, SITE).holiday_overrides == {"2027-10-01": "holiday"}
        calendar = clocks.site_calendar(session, SITE)
    assert add(calendar, RECEPTION, local(2026, 11, 30, 9, 0), 60) == local(2026, 11, 30, 10, 1)


def outbox_events(sessions):
    with sessions() as session:
        rows = session.execute(select(chassis.outbox.c.event_type, chassis.outbox.c.envelope).where(
            chassis.outbox.c.event_type.like("ticket.sla_%")).order_by(chassis.outbox.c.id)).all()
    answer = []
    for event_type, raw in rows:
        envelope = Envelope.FromString(raw)
        kind = TicketSlaBreached if event_type == "ticket.sla_breached.v1" else TicketSlaWarning
        answer.append((event_type, unpack(envelope, kind).payload))
    return answer


def test_warnings_and_breaches_fire_once_through_the_outbox_one_level_up(sessions):
    site_registered(sessions)
    staff(sessions, "specialist", ["cs_specialist"])
    staff(sessions, "supervisor", ["cs_supervisor"], active=False)  # left: the level is skipped
    staff(sessions, "manager", ["site_manager"])
    staff(sessions, "deputy", ["site_manager"], channels=())  # unreachable
    staff(sessions, "elsewhere", ["site_manager"], site="5a000000-0000-4000-8000-000000000099")
    repair = ticket()
    step(sessions, repair, "register", None, "registered", repair.created_at)

    with sessions() as session, session.begin():
        assert firing.fire_batch(session, local(2026, 11, 30, 10, 2)) == 0
    with sessions() as session, session.begin():
        assert firing.fire_batch(session, local(2026, 11, 30, 10, 4)) == 1  # dispatch warns at 10:03
    with sessions() as session, session.begin():
        assert firing.fire_batch(session, local(2026, 11, 30, 10, 4)) == 0  # once
    with sessions() as session, session.begin():
        # 10:20: dispatch is overdue (10:05) and arrival plan (10:10) is too, its warning never sent
        assert firing.fire_batch(session, local(2026, 11, 30, 10, 20)) == 2
    with sessions() as session, session.begin():
        assert firing.fire_batch(session, local(2026, 11, 30, 12, 0)) == 0

    events = outbox_events(sessions)
    assert [(kind, event.stage) for kind, event in events] == [
        ("ticket.sla_warning.v1", "dispatch"), ("ticket.sla_breached.v1", "dispatch"),
        ("ticket.sla_breached.v1", "arrival_plan")]
    warning = events[0][1]
    assert warning.ticket_number == "HG-2026-000001"
    assert warning.due_at.ToDatetime(timezone.utc) == local(2026, 11, 30, 10, 5)
    assert [(r.user_id, r.role) for r in warning.recipients] == [
        ("user-specialist", "owner"), ("user-manager", "site_manager")]
    rows = deadlines(sessions)
    assert rows["dispatch"].state == "breached" and rows["dispatch"].warned_at is not None
    assert rows["arrival_plan"].warned_at is None


def away(sessions, member_id, starts, ends):
    with sessions() as session, session.begin():
        return rosters.record_absence(session, organization_id=ORG_A, site_id=SITE, actor="user-supervisor",
                                      user_id=f"user-{member_id}", starts_at=starts, ends_at=ends, reason="leave").id


def on_duty(sessions, member_id, day, shift):
    with sessions() as session, session.begin():
        rosters.assign(session, organization_id=ORG_A, site_id=SITE, actor="user-supervisor", day=day, shift=shift,
                       user_id=f"user-{member_id}")


def fire_at(sessions, moment):
    with sessions() as session, session.begin():
        return firing.fire_batch(session, moment)


def alerted(sessions):
    """(stage, kind, recipients above the owner) of every alert so far."""
    return [(event.stage, kind.split(".")[1], [r.user_id for r in event.recipients if r.role != "owner"])
            for kind, event in outbox_events(sessions)]


def test_the_escalation_passes_over_a_level_away_per_the_roster_and_reaches_who_is_on_duty(sessions):
    site_registered(sessions)
    staff(sessions, "specialist", ["cs_specialist"])
    for supervisor in ("sup-a", "sup-b"):
        staff(sessions, supervisor, ["cs_supervisor"])
    staff(sessions, "manager", ["site_manager"])
    # Both supervisors are away at 10:03; sup-a is back at 10:04; sup-b is away until noon.
    away(sessions, "sup-a", local(2026, 11, 30, 9, 0), local(2026, 11, 30, 10, 4))
    leave = away(sessions, "sup-b", local(2026, 11, 30, 10, 0), local(2026, 11, 30, 12, 0))
    repair = ticket()
    step(sessions, repair, "register", None, "registered", repair.created_at)

    assert fire_at(sessions, local(2026, 11, 30, 10, 3, 30)) == 1  # dispatch warns at 10:03
    assert fire_at(sessions, local(2026, 11, 30, 10, 5)) == 1  # dispatch breaches at 10:05
    # sup-b's leave is cancelled, and the day shift's roster puts sup-b on duty, sup-a not.
    with sessions() as session, session.begin():
        rosters.cancel_absence(session, session.get(Absence, leave), actor="user-supervisor")
    on_duty(sessions, "sup-b", date(2026, 11, 30), "day")
    on_duty(sessions, "manager", date(2026, 11, 30), "night")
    assert fire_at(sessions, local(2026, 11, 30, 10, 6, 30)) == 1  # arrival plan warns at 10:06
    # The night's roster has no supervisor on it: both are there, so both are told.
    with sessions() as session, session.begin():
        evening = as_utc(local(2026, 11, 30, 19, 0))
        session.execute(Deadline.__table__.update().where(Deadline.stage == "arrival_plan")
                        .values(due_at=evening, next_fire_at=evening))
    assert fire_at(sessions, local(2026, 11, 30, 19, 0)) == 1
    assert alerted(sessions) == [
        ("dispatch", "sla_warning", ["user-manager"]),
        ("dispatch", "sla_breached", ["user-sup-a"]),
        ("arrival_plan", "sla_warning", ["user-sup-b"]),
        ("arrival_plan", "sla_breached", ["user-sup-a", "user-sup-b"])]


def test_a_non_urgent_alert_waits_for_reception_hours_unless_the_policy_says_otherwise(sessions):
    site_registered(sessions)
    repair = ticket(created=local(2026, 11, 30, 17, 50))
    step(sessions, repair, "register", None, "registered", repair.created_at)
    with sessions() as session, session.begin():
        firing.fire_batch(session, local(2026, 11, 30, 20, 0))
    events = outbox_events(sessions)
    # Dispatch was due at 17:55 and the arrival plan at 18:00: breached at 20:00, delivered at the next opening.
    assert events and all(e.deliver_after.ToDatetime(timezone.utc) == local(2026, 12, 1, 8, 30) for _, e in events)

    emergency = ticket(emergency=True, id="7c000000-0000-4000-8000-000000000003", created=local(2026, 11, 30, 19))
    step(sessions, emergency, "register", None, "registered", emergency.created_at)
    with sessions() as session, session.begin():
        firing.fire_batch(session, local(2026, 11, 30, 20, 0))
    urgent = [e for _, e in outbox_events(sessions) if e.ticket_id == emergency.id]
    assert urgent and all(e.deliver_after.ToDatetime(timezone.utc) == local(2026, 11, 30, 20, 0) for e in urgent)

    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=SITE, setting=ALERTS_WAIT,
                        new_value=False, actor="manager")
    at_once = ticket(id="7c000000-0000-4000-8000-000000000004", created=local(2026, 11, 30, 17, 50))
    step(sessions, at_once, "register", None, "registered", at_once.created_at)
    with sessions() as session, session.begin():
        firing.fire_batch(session, local(2026, 11, 30, 20, 0))
    sent = [e for _, e in outbox_events(sessions) if e.ticket_id == at_once.id]
    assert sent and all(e.deliver_after.ToDatetime(timezone.utc) == local(2026, 11, 30, 20, 0) for e in sent)


def test_reopening_restarts_the_stages_still_to_come_and_the_return_visit_after_the_work_is_redone(sessions):
    site_registered(sessions)
    repair = ticket()
    for action, before, after, at in (
            ("register", None, "registered", local(2026, 11, 30, 10, 0)),
            ("dispatch", "registered", "assigned", local(2026, 11, 30, 10, 1)),
            ("resolve", "assigned", "resolved", local(2026, 11, 30, 11, 0)),
            ("inform", "resolved", "customer_informed", local(2026, 11, 30, 11, 10))):
        step(sessions, repair, action, before, after, at)
    step(sessions, repair, "reopen", "customer_informed", "reopened", local(2026, 12, 1, 14, 0))
    rows = deadlines(sessions)
    assert rows["return_visit"].state == "cancelled"
    assert (rows["dispatch"].state, as_utc(rows["dispatch"].due_at)) == ("running", local(2026, 12, 1, 14, 5))
    step(sessions, repair, "dispatch", "reopened", "assigned", local(2026, 12, 1, 14, 2))
    step(sessions, repair, "resolve", "assigned", "resolved", local(2026, 12, 1, 16, 0))
    rows = deadlines(sessions)
    assert rows["dispatch"].state == "met"
    assert (rows["return_visit"].state, as_utc(rows["return_visit"].due_at)) == ("running", local(2026, 12, 3, 18))


# -- the API: a ticket's deadlines, and policy changes followed -----------------------------------------------

CS = token("cs-wang")


def _sessions(client):
    return client.application.extensions["psp"].sessions


def intake(client, site_id=SITE, headers=CS):
    unit, person = a_unit(site_id), a_person(site_id)
    deliver(_sessions(client), unit)
    deliver(_sessions(client), person)
    response = client.post("/v1/tickets", headers=headers, json={
        "site_id": site_id, "type": "repair", "channel": "phone", "subject": "Kitchen pipe leaks",
        "location": "in_unit", "unit_id": unit.unit_id, "reporter_id": person.person_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def read_deadlines(client, ticket, headers=CS):
    response = client.get(f"/v1/tickets/{ticket['id']}/deadlines", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {row["stage"]: row for row in response.get_json()["deadlines"]}


def test_a_tickets_deadlines_are_shown_in_the_sites_zone_with_their_offset(ticketing):
    site_registered(_sessions(ticketing))
    repair = intake(ticketing)
    answer = ticketing.get(f"/v1/tickets/{repair['id']}/deadlines", headers=CS).get_json()
    assert answer["time_zone"] == "Asia/Shanghai"
    rows = {row["stage"]: row for row in answer["deadlines"]}
    assert set(rows) == {"dispatch", "arrival_plan"}
    dispatch = rows["dispatch"]
    assert dispatch["state"] == "running" and dispatch["clock"] == "reception"
    assert dispatch["due_at"].endswith("+08:00")
    with _sessions(ticketing)() as session:
        stored = session.scalar(select(Deadline.due_at).where(Deadline.ticket_id == repair["id"],
                                                              Deadline.stage == "dispatch"))
    assert datetime.fromisoformat(dispatch["due_at"]) == as_utc(stored)


def test_another_organizations_or_an_unseen_sites_ticket_answers_404(ticketing):
    repair = intake(ticketing)
    unseen_site = "5a000000-0000-4000-8000-0000000000ff"
    for headers in (token("cs-other", org=ORG_B), token("cs-elsewhere", sites=(unseen_site,))):
        response = ticketing.get(f"/v1/tickets/{repair['id']}/deadlines", headers=headers)
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
    assert ticketing.get(f"/v1/tickets/{repair['id']}/deadlines").status_code == 401
    assert ticketing.get("/v1/tickets/7c000000-0000-4000-8000-0000000000ff/deadlines", headers=CS).status_code == 404


def test_a_site_policy_change_recomputes_that_sites_open_deadlines_once(ticketing):
    repair, elsewhere = intake(ticketing), intake(ticketing, site_id="5a000000-0000-4000-8000-000000000002")
    before = read_deadlines(ticketing, repair)["dispatch"]
    manager = token("sm-zhou", roles=(), site_roles={SITE: ["site_manager"]})
    response = ticketing.put("/v1/policies/sla.targets.repair", headers=manager, json={
        "site_id": SITE, "value": {"dispatch": {"clock": "calendar", "minutes": 15, "warn_minutes_before": 5}}})
    assert response.status_code == 200, response.get_json()
    assert clocks.follow_policy_changes(_sessions(ticketing)) == 1
    assert clocks.follow_policy_changes(_sessions(ticketing)) == 0

    after = read_deadlines(ticketing, repair)
    started = datetime.fromisoformat(after["dispatch"]["started_at"])
    assert after["dispatch"]["clock"] == "calendar"
    assert datetime.fromisoformat(after["dispatch"]["due_at"]) == started + timedelta(minutes=15)
    assert datetime.fromisoformat(after["dispatch"]["warn_at"]) == started + timedelta(minutes=10)
    assert after["arrival_plan"]["state"] == "cancelled"
    assert before["clock"] == "reception"
    assert read_deadlines(ticketing, elsewhere)["dispatch"]["clock"] == "reception"


def test_a_malformed_override_keeps_the_stages_default_and_intake_goes_on(ticketing):
    manager = token("pm-chen", roles=("property_manager",))
    response = ticketing.put("/v1/policies/sla.targets.repair", headers=manager, json={
        "value": {"dispatch": {"clock": "sundial", "minutes": "five"}, "arrival_plan": {"clock": "calendar"},
                  "resolution": {"clock": "calendar", "days": 2, "warn_percent": 150}}})
    assert response.status_code == 200, response.get_json()
    rows = read_deadlines(ticketing, intake(ticketing))
    assert set(rows) == {"dispatch", "arrival_plan"}
    assert rows["dispatch"]["clock"] == rows["arrival_plan"]["clock"] == "reception"


def test_an_alert_goes_to_the_owner_the_ticket_has_when_it_fires(ticketing):
    sessions = _sessions(ticketing)
    staff(sessions, "li", ["cs_supervisor"])
    staff(sessions, "zhou", ["site_manager"])
    repair = intake(ticketing)
    response = ticketing.post(f"/v1/tickets/{repair['id']}/owner", headers=CS,
                              json={"owner_id": "user-li", "reason": "Wang is on leave"})
    assert response.status_code == 200, response.get_json()
    with sessions() as session, session.begin():
        assert firing.fire_batch(session, datetime.now(timezone.utc) + timedelta(days=30)) == 2
    recipients = {tuple((r.user_id, r.role) for r in event.recipients) for _, event in outbox_events(sessions)}
    assert recipients == {(("user-li", "owner"), ("user-zhou", "site_manager"))}
