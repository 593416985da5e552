"""Monthly figures per site (TKT-13). Plain functions over a session; no Flask.

The seeds' service centres sum up their month (每月汇总、统计、分析): requests by type and category, the
repair timeliness and satisfaction rates (报修及时率、满意率统计表), the return-visit rate, complaint hot topics and
the complaint rate (投诉热点, 投诉率), SLA breaches by stage and department, who complains again and again, and
the water and electricity repairs. The month is the site's, in its time zone; a ticket counts in the month it
was received, or, for what concerns its outcome, the month it was finished.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import Session

from services.ticketing.models import chassis
from services.ticketing.people.tables import Reporter
from services.ticketing.sla.clocks import site_calendar
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.rules import TYPES
from services.ticketing.tickets.tables import Category, Ticket
from shared import policy
from shared.problems import Problem

SATISFIED_RATING = policy.define(
    "reports.satisfied_rating", 4,
    "The lowest rating (1–5) that counts as satisfied in the monthly satisfaction rate (满意率).")
REPEAT_COMPLAINTS = policy.define(
    "reports.repeat_complaints", 2,
    "Complaints in one month from one complainant (2–100) that make them a repeat complainant in the report.")
HOT_TOPICS = 5
# The repair statistics the month reports on their own (水电维修统计).
UTILITY_REPAIRS = ("repair.water", "repair.electric")
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class _Month:
    organization_id: str
    site_id: str
    first_day: date
    starts: datetime
    ends: datetime

    def received(self):
        return and_(Ticket.organization_id == self.organization_id, Ticket.site_id == self.site_id,
                    Ticket.created_at >= self.starts, Ticket.created_at < self.ends)

    def finished(self):
        """Closed in the month with the occupant's acceptance, or for a reason (not declared invalid)."""
        return and_(Ticket.organization_id == self.organization_id, Ticket.site_id == self.site_id,
                    Ticket.state == "closed", Ticket.closed_at >= self.starts, Ticket.closed_at < self.ends)


def monthly(session: Session, *, organization_id: str, site_id: str, month: date) -> dict:
    """The site's figures for the month that `month` falls in."""
    zone = site_calendar(session, site_id).zone
    first = month.replace(day=1)
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    span = _Month(organization_id, site_id, first,
                  datetime.combine(first, time(), zone).astimezone(timezone.utc),
                  datetime.combine(following, time(), zone).astimezone(timezone.utc))
    received = _count(session, span.received())
    complaints = _count(session, and_(span.received(), Ticket.type == "complaint"))
    return {
        "site_id": site_id, "month": first.strftime("%Y-%m"), "time_zone": zone.key,
        "starts_at": span.starts.astimezone(zone), "ends_at": span.ends.astimezone(zone),
        "received": received,
        "by_type": _by_type(session, span),
        "by_category": _by_category(session, span.received()),
        "invalid": _count(session, and_(Ticket.organization_id == organization_id, Ticket.site_id == site_id,
                                        Ticket.state == "invalid", Ticket.closed_at >= span.starts,
                                        Ticket.closed_at < span.ends)),
        "timeliness": _timeliness(session, span.finished()),
        "satisfaction": _satisfaction(session, span),
        "return_visits": _return_visits(session, span),
        "complaints": {"count": complaints, "rate": _rate(complaints, received),
                       "hot_topics": _by_category(session, and_(span.received(), Ticket.type == "complaint"),
                                                  limit=HOT_TOPICS)},
        "sla_breaches": _breaches(session, span),
        "repeat_complainants": _repeat_complainants(session, span),
        "utility_repairs": _utility_repairs(session, span),
    }


def _count(session: Session, where) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(where))


def _rate(part: int, whole: int) -> Decimal | None:
    """A share with four decimals, or None when there is nothing to share."""
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP) if whole else None


def _by_type(session: Session, span: _Month) -> list[dict]:
    counts = dict(session.execute(select(Ticket.type, func.count()).where(span.received()).group_by(Ticket.type)).all())
    return [{"type": type_, "count": counts.get(type_, 0)} for type_ in TYPES]


def _by_category(session: Session, where, limit: int | None = None) -> list[dict]:
    """Counts by category (a subcategory on its own), the largest first; tickets not classified yet together."""
    rows = session.execute(
        select(Category.code, Category.name, func.count(Ticket.id).label("n"))
        .select_from(Ticket).outerjoin(Category, Category.id == Ticket.category_id).where(where)
        .group_by(Category.code, Category.name)
        .order_by(func.count(Ticket.id).desc(), Category.code.is_(None), Category.code)
        .limit(limit)).all()
    return [{"category": code or UNCLASSIFIED, "name": name or "", "count": n} for code, name, n in rows]


def _breached():
    return select(Deadline.id).where(Deadline.ticket_id == Ticket.id, Deadline.breached_at.is_not(None)).exists()


def _timeliness(session: Session, finished) -> dict:
    """Finished tickets none of whose SLA stages breached (及时率)."""
    total, late = session.execute(select(func.count(), func.coalesce(func.sum(case((_breached(), 1), else_=0)), 0))
                                  .select_from(Ticket).where(finished)).one()
    return {"finished": total, "on_time": total - late, "rate": _rate(total - late, total)}


def _satisfaction(session: Session, span: _Month) -> dict:
    """Finished tickets the occupant rated, and those rated at least the policy's rating (满意率)."""
    threshold = policy.value(session, chassis, span.organization_id, span.site_id, SATISFIED_RATING)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= 5:
        raise Problem(409, "Conflict", f"The setting {SATISFIED_RATING.key} holds {threshold!r}: a rating from 1 "
                                       "to 5 is needed; correct it under /v1/policies.")
    rated, satisfied, total = session.execute(
        select(func.count(Ticket.rating), func.coalesce(func.sum(case((Ticket.rating >= threshold, 1), else_=0)), 0),
               func.coalesce(func.sum(Ticket.rating), 0))
        .where(span.finished(), Ticket.rating.is_not(None))).one()
    average = (Decimal(total) / Decimal(rated)).quantize(Decimal("0.01"), ROUND_HALF_UP) if rated else None
    return {"rated": rated, "satisfied": satisfied, "satisfied_from_rating": threshold,
            "rate": _rate(satisfied, rated), "average_rating": average}


def _return_visits(session: Session, span: _Month) -> dict:
    """Finished tickets that had a return visit (回访率): their `visit` step is on record."""
    log = chassis.audit_log
    visited = (select(log.c.id).where(log.c.organization_id == Ticket.organization_id, log.c.entity == "ticket",
                                      log.c.entity_id == Ticket.id, log.c.action == "visit").exists())
    total, with_visit = session.execute(
        select(func.count(), func.coalesce(func.sum(case((visited, 1), else_=0)), 0))
        .select_from(Ticket).where(span.finished())).one()
    return {"finished": total, "visited": with_visit, "rate": _rate(with_visit, total)}


def _breaches(session: Session, span: _Month) -> list[dict]:
    """SLA stages that breached in the month, by stage and the department now responsible."""
    rows = session.execute(
        select(Deadline.stage, Ticket.department, func.count())
        .join(Ticket, Ticket.id == Deadline.ticket_id)
        .where(Deadline.organization_id == span.organization_id, Deadline.site_id == span.site_id,
               Deadline.breached_at >= span.starts, Deadline.breached_at < span.ends)
        .group_by(Deadline.stage, Ticket.department)
        .order_by(func.count().desc(), Deadline.stage, Ticket.department)).all()
    return [{"stage": stage, "department": department, "count": n} for stage, department, n in rows]


def _repeat_complainants(session: Session, span: _Month) -> list[dict]:
    """Complainants with the policy's number of complaints or more in the month; anonymous ones stay unnamed."""
    least = policy.value(session, chassis, span.organization_id, span.site_id, REPEAT_COMPLAINTS)
    if not isinstance(least, int) or isinstance(least, bool) or not 2 <= least <= 100:
        raise Problem(409, "Conflict", f"The setting {REPEAT_COMPLAINTS.key} holds {least!r}: a whole number from 2 "
                                       "to 100 is needed; correct it under /v1/policies.")
    rows = session.execute(
        select(Ticket.reporter_id, Reporter.full_name, func.count(Ticket.id))
        .select_from(Ticket).outerjoin(Reporter, Reporter.person_id == Ticket.reporter_id)
        .where(span.received(), Ticket.type == "complaint", Ticket.reporter_id.is_not(None),
               Ticket.anonymous.is_(False))
        .group_by(Ticket.reporter_id, Reporter.full_name).having(func.count(Ticket.id) >= least)
        .order_by(func.count(Ticket.id).desc(), Ticket.reporter_id)).all()
    return [{"reporter_id": reporter_id, "full_name": name or "", "complaints": n} for reporter_id, name, n in rows]


def _utility_repairs(session: Session, span: _Month) -> list[dict]:
    """Water and electricity repairs: received in the month, finished in it, and finished on time."""
    ids = dict(session.execute(select(Category.code, Category.id).where(
        Category.organization_id == span.organization_id, Category.code.in_(UTILITY_REPAIRS))).all())
    figures = []
    for code in UTILITY_REPAIRS:
        in_category = Ticket.category_id == ids[code] if code in ids else false()
        figures.append({"category": code, "received": _count(session, and_(span.received(), in_category)),
                        **_timeliness(session, and_(span.finished(), in_category))})
    return figures


CSV_HEADER = ("site_id", "month", "figure", "dimension", "value")


def as_csv(report: dict) -> str:
    """The report as one figure per row (site, month, figure, dimension, value), for a spreadsheet."""
    rows = [("received", "", report["received"]), ("invalid", "", report["invalid"])]
    rows += [("type", item["type"], item["count"]) for item in report["by_type"]]
    rows += [("category", item["category"], item["count"]) for item in report["by_category"]]
    for section in ("timeliness", "satisfaction", "return_visits"):
        rows += [(f"{section}.{key}", "", value) for key, value in report[section].items()]
    complaints = report["complaints"]
    rows += [("complaints.count", "", complaints["count"]), ("complaints.rate", "", complaints["rate"])]
    rows += [("complaints.hot_topic", item["category"], item["count"]) for item in complaints["hot_topics"]]
    rows += [("sla_breaches", f"{item['stage']}/{item['department']}", item["count"])
             for item in report["sla_breaches"]]
    rows += [("repeat_complainant", f"{item['reporter_id']} {item['full_name']}".strip(), item["complaints"])
             for item in report["repeat_complainants"]]
    rows += [(f"utility_repairs.{key}", item["category"], item[key]) for item in report["utility_repairs"]
             for key in ("received", "finished", "on_time", "rate")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((report["site_id"], report["month"], figure, dimension, "" if value is None else value)
                     for figure, dimension, value in rows)
    return out.getvalue()
