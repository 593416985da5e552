"""HTTP boundary of the daily review (TKT-7)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, Integer, List, Nested, String

from services.ticketing.review import rules
from services.ticketing.rosters.api import DAYS
from services.ticketing.tickets.api import TicketSummaryOut
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import UtcDateTime
from shared.paging import PageQuery
from shared.roles import CS_SUPERVISOR, MANAGERS
from shared.web import db_session

api = APIBlueprint("review", __name__, url_prefix="/v1")
REVIEWERS = (CS_SUPERVISOR, *MANAGERS)


class ReviewQuery(PageQuery):
    date = Date(load_default=None, validate=DAYS, metadata={"description": "The site's day; default its today."})


class ReviewItemOut(Schema):
    ticket = Nested(TicketSummaryOut)
    overdue_stages = List(String(), metadata={"description": "SLA stages past due, earliest first; empty if none."})
    forgotten = Boolean(metadata={"description": "No step and no comment for `forgotten_hours`."})
    last_activity_at = UtcDateTime()


class ReviewOut(Schema):
    site_id = String()
    date = Date()
    time_zone = String()
    as_of = DateTime(metadata={"description": "The end of the site's day, or now for the current day; site time."})
    forgotten_hours = Integer()
    items = List(Nested(ReviewItemOut))
    next_cursor = String(allow_none=True)


@api.get("/sites/<site_id>/daily-review")
@api.auth_required(auth)
@api.input(ReviewQuery, location="query")
@api.output(ReviewOut)
def daily_review(site_id, query_data):
    """For the CS supervisor: every open ticket at the site that is overdue or forgotten."""
    site_id = visible_site(site_id)
    require_role_at(site_id, *REVIEWERS)
    session = db_session()
    day = query_data.pop("date") or rules.today(session, site_id)
    return rules.review(session, organization_id=principal().organization_id, site_id=site_id, day=day,
                        query=query_data)
