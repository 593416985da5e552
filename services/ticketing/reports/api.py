"""HTTP boundary of the monthly reports (TKT-13): one site's month as JSON, or as CSV for a spreadsheet."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from apiflask.schemas import FileSchema
from apiflask.validators import Regexp
from flask import Response

from services.ticketing.reports import rules
from services.ticketing.review.rules import today
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import DecimalString
from shared.roles import CS_SUPERVISOR, MANAGERS
from shared.web import db_session

api = APIBlueprint("reports", __name__, url_prefix="/v1")
READERS = (CS_SUPERVISOR, *MANAGERS)
Rate = DecimalString(places=4, max_digits=5, minimum=0, maximum=1, allow_none=True,
                     metadata={"description": "A share from 0 to 1 with four decimals; null when nothing to share."})


class MonthQuery(Schema):
    month = String(load_default=None, validate=Regexp(r"^(2[0-1][0-9]{2})-(0[1-9]|1[0-2])$"),
                   metadata={"description": "YYYY-MM, the site's month; default its current month."})


class TypeCount(Schema):
    type = String()
    count = Integer()


class CategoryCount(Schema):
    category = String(metadata={"description": "The (sub)category's code, or `unclassified`."})
    name = String()
    count = Integer()


class Timeliness(Schema):
    finished = Integer(metadata={"description": "Closed in the month (not declared invalid)."})
    on_time = Integer(metadata={"description": "Of those, none of whose SLA stages breached."})
    rate = Rate


class Satisfaction(Schema):
    rated = Integer()
    satisfied = Integer()
    satisfied_from_rating = Integer(metadata={"description": "The lowest rating counted (reports.satisfied_rating)."})
    rate = Rate
    average_rating = DecimalString(places=2, max_digits=3, minimum=0, maximum=5, allow_none=True)


class ReturnVisits(Schema):
    finished = Integer()
    visited = Integer()
    rate = Rate


class Complaints(Schema):
    count = Integer()
    rate = Rate
    hot_topics = List(Nested(CategoryCount), metadata={"description": "The most frequent complaint categories."})


class Breaches(Schema):
    stage = String()
    department = String()
    count = Integer()


class RepeatComplainant(Schema):
    reporter_id = String()
    full_name = String()
    complaints = Integer()


class UtilityRepairs(Timeliness):
    category = String()
    received = Integer()


class MonthlyReportOut(Schema):
    site_id = String()
    month = String()
    time_zone = String()
    starts_at = DateTime()
    ends_at = DateTime()
    received = Integer()
    by_type = List(Nested(TypeCount))
    by_category = List(Nested(CategoryCount))
    invalid = Integer(metadata={"description": "Declared invalid (无效投诉) in the month."})
    timeliness = Nested(Timeliness)
    satisfaction = Nested(Satisfaction)
    return_visits = Nested(ReturnVisits)
    complaints = Nested(Complaints)
    sla_breaches = List(Nested(Breaches))
    repeat_complainants = List(Nested(RepeatComplainant))
    utility_repairs = List(Nested(UtilityRepairs))


def _report(site_id: str, month: str | None) -> dict:
    site_id = visible_site(site_id)
    require_role_at(site_id, *READERS)
    session = db_session()
    first = today(session, site_id).replace(day=1)
    if month is not None:
        first = first.replace(year=int(month[:4]), month=int(month[5:]))
    return rules.monthly(session, organization_id=principal().organization_id, site_id=site_id, month=first)


@api.get("/sites/<site_id>/reports/monthly")
@api.auth_required(auth)
@api.input(MonthQuery, location="query")
@api.output(MonthlyReportOut)
def monthly_report(site_id, query_data):
    """The site's month (TKT-13): for its CS supervisor and managers."""
    return _report(site_id, query_data["month"])


@api.get("/sites/<site_id>/reports/monthly.csv")
@api.auth_required(auth)
@api.input(MonthQuery, location="query")
@api.output(FileSchema, content_type="text/csv", status_code=200)
@api.doc(description="The same figures, one per row: site_id, month, figure, dimension, value.")
def monthly_report_csv(site_id, query_data):
    report = _report(site_id, query_data["month"])
    name = f"tickets-{report['month']}.csv"
    return Response(rules.as_csv(report).encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
