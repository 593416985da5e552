"""Daily clearing and review (TKT-7, 日清日审). Plain functions over a session; no Flask.

The seeds' procedure: every day the occupants' repairs, complaints and requests are cleared and summed up,
each checked against its time limit and for anything forgotten (是否有遗漏); an engineering job not finished
because of its complexity is followed day by day, and the occupant told how it progresses (日日进行跟踪,
及时给业主回复进展的情况). Here an open ticket is listed when one of its SLA deadlines is past due (running,
warned or breached, not paused) or when nothing happened to it (no step, no comment) for the policy's number
of hours, both as of the end of the site's day, or now for the current day. At the policy's time of the
site's day the worker publishes that list to the site's supervisors, and a progress notice of each long
engineering job to its occupants, each once.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from psp.ticketing.v1.repairs_pb2 import DailyReviewCompiled, ProgressNoticeIssued
from sqlalchemy import and_, exists, func, not_, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.models import chassis, utcnow
from services.ticketing.people.tables import Unit
from services.ticketing.review.tables import CompiledReview, ProgressNotice
from services.ticketing.sla.clocks import site_calendar, utc
from services.ticketing.sla.tables import EVERY_SITE, Deadline, SiteCalendarRow, StaffMember
from services.ticketing.tickets.rules import TICKET
from services.ticketing.tickets.tables import Ticket, TicketComment, TicketCounter
from shared import audit, policy
from shared.bus import outbox
from shared.paging import keyset_page
from shared.problems import Problem
from shared.roles import CS_SUPERVISOR, SITE_MANAGER

log = logging.getLogger(__name__)

FORGOTTEN_HOURS = policy.define(
    "review.forgotten_hours", 24,
    "An open ticket with no step and no comment for this many hours (1–720) is listed as forgotten in the "
    "daily review.")
COMPILE_AT = policy.define(
    "review.compile_at", "17:30",
    "Local time (\"HH:MM\") at which the site's daily review goes to its CS supervisors and manager, and long "
    "engineering jobs' progress notices to their occupants.")
LONG_JOB_HOURS = policy.define(
    "review.long_job_hours", 24,
    "An engineering job dispatched and not yet resolved this many hours (1–720) after intake is a long job: its "
    "occupants get a progress notice every day.")
# Clocks still counting or past due; a paused clock is stopped and so not overdue.
_COUNTING = ("running", "warned", "breached")
# Work given to engineering and not finished: what a progress notice reports on, in the occupant's words.
_UNDER_WAY = {
    "assigned": ("已派工,师傅将上门", "a technician has been assigned and will come"),
    "deferred_night": ("夜间登记,今日派工", "recorded at night, to be dispatched today"),
    "in_progress": ("正在施工", "the work is under way"),
    "waiting_parts": ("正在等待配件", "waiting for parts"),
    "waiting_occupant": ("等待与您约定上门时间", "waiting for a time that suits you"),
}
_DIGEST_SIZE = 50
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_NOTICES = uuid.UUID("8e2c6a1f-5b3d-4c7e-9f10-7a4d2b6c8e35")
JOB = "daily-review"


@dataclass(frozen=True)
class _Day:
    """A site's day as the review sees it: up to its end, or now for the current day."""

    zone: ZoneInfo
    as_of: datetime
    quiet_since: datetime
    forgotten_hours: int


def today(session: Session, site_id: str) -> date:
    return utcnow().astimezone(site_calendar(session, site_id).zone).date()


def review(session: Session, *, organization_id: str, site_id: str, day: date, query: dict) -> dict:
    """One page of the site's overdue and forgotten open tickets as of the end of `day` (site time)."""
    seen = _day(session, organization_id, site_id, day)
    stmt = select(Ticket).where(_listed(organization_id, site_id, seen))
    page = keyset_page(session, stmt, (Ticket.created_at, Ticket.id), query)
    page["items"] = _annotated(session, page["items"], seen)
    return {**page, "site_id": site_id, "date": day, "time_zone": seen.zone.key,
            "as_of": seen.as_of.astimezone(seen.zone), "forgotten_hours": seen.forgotten_hours}


def _day(session: Session, organization_id: str, site_id: str, day: date, now: datetime | None = None) -> _Day:
    zone = site_calendar(session, site_id).zone
    end_of_day = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(timezone.utc)
    as_of = min(now or utcnow(), end_of_day)
    hours = _hours(session, organization_id, site_id, FORGOTTEN_HOURS)
    return _Day(zone, as_of, as_of - timedelta(hours=hours), hours)


def _hours(session: Session, organization_id: str, site_id: str, setting: policy.Setting) -> int:
    hours = policy.value(session, chassis, organization_id, site_id, setting)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 720:
        raise Problem(409, "Conflict", f"The setting {setting.key} holds {hours!r}: a whole number of "
                                       "hours from 1 to 720 is needed; correct it under /v1/policies.")
    return hours


def _overdue(as_of: datetime):
    return exists().where(Deadline.ticket_id == Ticket.id, Deadline.state.in_(_COUNTING), Deadline.due_at <= as_of)


def _forgotten(quiet_since: datetime):
    commented = exists().where(TicketComment.ticket_id == Ticket.id, TicketComment.created_at > quiet_since)
    return and_(Ticket.updated_at <= quiet_since, not_(commented))


def _listed(organization_id: str, site_id: str, seen: _Day):
    """The site's tickets still open now, overdue or forgotten as of the day's end."""
    return and_(Ticket.organization_id == organization_id, Ticket.site_id == site_id,
                Ticket.state.not_in(sorted(TICKET.final)), Ticket.created_at <= seen.as_of,
                or_(_overdue(seen.as_of), _forgotten(seen.quiet_since)))


def _annotated(session: Session, tickets: list[Ticket], seen: _Day) -> list[dict]:
    """Why each is listed: its past-due stages, and when anything last happened to it."""
    ids = [ticket.id for ticket in tickets]
    stages: dict[str, list[str]] = {}
    for ticket_id, stage in session.execute(
            select(Deadline.ticket_id, Deadline.stage).where(
                Deadline.ticket_id.in_(ids), Deadline.state.in_(_COUNTING), Deadline.due_at <= seen.as_of)
            .order_by(Deadline.due_at)):
        stages.setdefault(ticket_id, []).append(stage)
    commented = dict(session.execute(select(TicketComment.ticket_id, func.max(TicketComment.created_at))
                                     .where(TicketComment.ticket_id.in_(ids)).group_by(TicketComment.ticket_id)).all())
    items = []
    for ticket in tickets:
        last = max(filter(None, (utc(ticket.updated_at), utc(commented.get(ticket.id)))))
        items.append({"ticket": ticket, "overdue_stages": stages.get(ticket.id, []), "last_activity_at": last,
                      "forgotten": last <= seen.quiet_since})
    return items


# -- the worker's daily job -----------------------------------------------------------------------------------


def compile_due(sessions: sessionmaker) -> int:
    """Every site whose review time has come today (site time) and whose day is not compiled yet: its review
    published, and its long jobs' progress notices, in one transaction per site. Answers how many sites."""
    now = utcnow()
    with sessions() as session:
        sites = session.execute(union(select(SiteCalendarRow.organization_id, SiteCalendarRow.site_id),
                                      select(TicketCounter.organization_id, TicketCounter.site_id))).all()
    compiled = 0
    for organization_id, site_id in sites:
        try:
            with sessions() as session, session.begin():
                compiled += compile_site(session, organization_id, site_id, now)
        except Problem as problem:  # a site's bad setting stops only that site's review
            log.warning("daily review of site %s not compiled: %s", site_id, problem.detail)
    return compiled


def compile_site(session: Session, organization_id: str, site_id: str, now: datetime) -> bool:
    """The site's review of its current day, once that day's compile time has passed; False when not yet
    due, or compiled already (by an earlier run, or by another worker at the same moment)."""
    zone = site_calendar(session, site_id).zone
    local = now.astimezone(zone)
    if local.strftime("%H:%M") < _compile_at(session, organization_id, site_id) or \
            session.get(CompiledReview, (site_id, local.date())) is not None:
        return False
    seen = _day(session, organization_id, site_id, local.date(), now)
    earliest_due = (select(func.min(Deadline.due_at)).where(
        Deadline.ticket_id == Ticket.id, Deadline.state.in_(_COUNTING), Deadline.due_at <= seen.as_of)
        .correlate(Ticket).scalar_subquery())
    listed = session.execute(
        select(Ticket.number, earliest_due, _forgotten(seen.quiet_since))
        .where(_listed(organization_id, site_id, seen))
        .order_by(earliest_due.is_(None), earliest_due, Ticket.updated_at, Ticket.id)).all()
    claim = CompiledReview(site_id=site_id, day=local.date(), organization_id=organization_id,
                           overdue=sum(1 for row in listed if row[1] is not None),
                           forgotten=sum(1 for row in listed if row[2]), compiled_at=now)
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError:  # another worker compiled it meanwhile
        return False
    outbox.record(session, chassis.outbox, DailyReviewCompiled(
        site_id=site_id, day=claim.day.isoformat(), overdue=claim.overdue, forgotten=claim.forgotten,
        ticket_numbers=[row[0] for row in listed[:_DIGEST_SIZE]],
        recipient_member_ids=_supervisors(session, organization_id, site_id)), organization_id=organization_id)
    audit.record(session, chassis.audit_log, organization_id=organization_id, site_id=site_id,
                 entity="daily_review", entity_id=site_id, action="compile", actor=JOB,
                 data={"day": claim.day.isoformat(), "overdue": claim.overdue, "forgotten": claim.forgotten})
    _notify_long_jobs(session, organization_id, site_id, local, now)
    return True


def _compile_at(session: Session, organization_id: str, site_id: str) -> str:
    at = policy.value(session, chassis, organization_id, site_id, COMPILE_AT)
    if not isinstance(at, str) or not _HHMM.match(at):
        raise Problem(409, "Conflict", f"The setting {COMPILE_AT.key} holds {at!r}: \"HH:MM\" is needed; correct "
                                       "it under /v1/policies.")
    return at


def _supervisors(session: Session, organization_id: str, site_id: str) -> list[str]:
    """The staff directory's active CS supervisors and site managers at the site."""
    members = session.scalars(select(StaffMember).where(StaffMember.organization_id == organization_id,
                                                        StaffMember.active.is_(True)))
    return sorted(member.member_id for member in members
                  if {CS_SUPERVISOR, SITE_MANAGER} & set(member.site_roles.get(site_id, []) +
                                                         member.site_roles.get(EVERY_SITE, [])))


def _notify_long_jobs(session: Session, organization_id: str, site_id: str, local: datetime, now: datetime) -> None:
    """Each engineering job open since before the policy's hours gets the day's progress notice, with the
    latest note customer service wrote for the occupant today."""
    started_before = now - timedelta(hours=_hours(session, organization_id, site_id, LONG_JOB_HOURS))
    jobs = session.scalars(select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.site_id == site_id, Ticket.state.in_(list(_UNDER_WAY)),
        Ticket.department == "engineering", Ticket.created_at <= started_before)
        .order_by(Ticket.created_at, Ticket.id)).all()
    if not jobs:
        return
    ids = [job.id for job in jobs]
    day_began = datetime.combine(local.date(), time(), local.tzinfo).astimezone(timezone.utc)
    latest_note = {}
    for ticket_id, body in session.execute(
            select(TicketComment.ticket_id, TicketComment.body).where(
                TicketComment.ticket_id.in_(ids), TicketComment.visibility == "occupant",
                TicketComment.created_at >= day_began).order_by(TicketComment.created_at, TicketComment.id)):
        latest_note[ticket_id] = body
    buildings = dict(session.execute(select(Unit.unit_id, Unit.building_id).where(
        Unit.unit_id.in_({job.unit_id for job in jobs if job.unit_id})).order_by(Unit.unit_id)).all())
    for job in jobs:
        notice = ProgressNotice(ticket_id=job.id, day=local.date(), organization_id=organization_id, site_id=site_id,
                                id=str(uuid.uuid5(_NOTICES, f"{job.id}/{local.date().isoformat()}")),
                                text=progress_text(job, latest_note.get(job.id)), issued_at=now)
        session.add(notice)
        outbox.record(session, chassis.outbox, ProgressNoticeIssued(
            notice_id=notice.id, ticket_id=job.id, ticket_number=job.number, site_id=site_id,
            unit_id=job.unit_id or "", building_id=buildings.get(job.unit_id, ""), text=notice.text,
            day=notice.day.isoformat()), organization_id=organization_id)
        audit.record(session, chassis.audit_log, organization_id=organization_id, site_id=site_id, entity="ticket",
                     entity_id=job.id, action="notify_progress", actor=JOB,
                     data={"notice_id": notice.id, "day": notice.day.isoformat()})


def progress_text(job: Ticket, note: str | None) -> str:
    """The day's notice in Chinese and English (X-7): where the job stands, and today's note if any."""
    chinese, english = _UNDER_WAY[job.state]
    text = f"【{job.number}】{job.subject}:{chinese}。/ [{job.number}] {job.subject}: {english}."
    return f"{text}\n今日进展 Today: {note}" if note else text
