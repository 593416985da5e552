"""HTTP boundary of the SLA engine: a ticket's clocks, each instant shown in the site's time zone with its
offset (stored in UTC), so agents anywhere read the same instant and the site's staff read their own clock."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from sqlalchemy import select

from services.ticketing.sla.clocks import site_calendar, utc
from services.ticketing.sla.tables import Deadline
from services.ticketing.sla.targets import STAGES
from services.ticketing.tickets.tables import Ticket
from shared.auth import auth
from shared.web import db_session, get_visible

api = APIBlueprint("sla", __name__, url_prefix="/v1")
_INSTANTS = ("started_at", "due_at", "warn_at", "warned_at", "breached_at", "met_at")


class DeadlineOut(Schema):
    stage = String(metadata={"description": f"One of {', '.join(STAGES)}."})
    clock = String(metadata={"description": "`calendar` (24 × 365) or `reception` (the site's reception hours)."})
    state = String(metadata={"description": "running, paused, warned, breached, met or cancelled."})
    started_at = DateTime()
    due_at = DateTime(metadata={"description": "Pushed on by the working time the ticket spent paused."})
    warn_at = DateTime(allow_none=True, metadata={"description": "When the warning fires; empty when none."})
    paused_seconds = Integer(metadata={"description": "Whole seconds of the stage's clock the ticket spent paused."})
    warned_at = DateTime(allow_none=True)
    breached_at = DateTime(allow_none=True)
    met_at = DateTime(allow_none=True, metadata={"description": "Set also when met after a breach."})


class TicketDeadlinesOut(Schema):
    ticket_id = String()
    time_zone = String(metadata={"description": "The site's IANA time zone, in which the instants are shown."})
    deadlines = List(Nested(DeadlineOut), metadata={"description": "One per stage (at most eight), by due time."})


@api.get("/tickets/<ticket_id>/deadlines")
@api.auth_required(auth)
@api.output(TicketDeadlinesOut)
def get_deadlines(ticket_id):
    """The ticket's SLA clocks: when each stage is due, warns, and where it stands."""
    ticket = get_visible(Ticket, ticket_id, "ticket")
    session = db_session()
    zone = site_calendar(session, ticket.site_id).zone
    rows = session.scalars(select(Deadline).where(Deadline.ticket_id == ticket.id).order_by(Deadline.due_at))
    return {"ticket_id": ticket.id, "time_zone": zone.key, "deadlines": [
        {"stage": row.stage, "clock": row.clock, "state": row.state, "paused_seconds": int(row.paused_seconds),
         **{name: getattr(row, name) and utc(getattr(row, name)).astimezone(zone) for name in _INSTANTS}}
        for row in rows]}
