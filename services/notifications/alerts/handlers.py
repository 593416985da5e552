"""Staff alerts (NTF-4): SLA warnings and breaches to the people ticketing names, work orders to their
technician, the daily review digest, and a written handover to the incoming shift."""

from __future__ import annotations

from datetime import date, timedelta, timezone

from psp.ticketing.v1.repairs_pb2 import DailyReviewCompiled, WorkOrderDispatched
from psp.ticketing.v1.shifts_pb2 import HandoverWritten
from psp.ticketing.v1.sla_pb2 import TicketSlaBreached, TicketSlaWarning
from sqlalchemy import select

from services.notifications.delivery.rules import Cause, enqueue
from services.notifications.handlers import handlers
from services.notifications.recipients import rules as recipients
from services.notifications.recipients.tables import Duty


def _staff_alert(session, event, kind: str, data: dict, targets, **when) -> None:
    enqueue(session, Cause.of_event(event), organization_id=event.organization_id, site_id=event.payload.site_id,
            category="staff", template_kind=kind, data=data, targets=targets, **when)


@handlers.on(TicketSlaWarning)
@handlers.on(TicketSlaBreached)
def alert_sla(session, event):
    """Everyone the event names, not before its `deliver_after` (a reception-hours alert waits for opening)."""
    alert = event.payload
    kind = "sla_breached" if isinstance(alert, TicketSlaBreached) else "sla_warning"
    targets = recipients.staff_named(session, event.organization_id,
                                     [(r.member_id, r.user_id) for r in alert.recipients])
    not_before = alert.deliver_after.ToDatetime(timezone.utc) if alert.HasField("deliver_after") else None
    _staff_alert(session, event, kind, {"ticket_number": alert.ticket_number, "stage": alert.stage,
                                        "due_at": alert.due_at.ToDatetime(timezone.utc).isoformat()},
                 targets, not_before=not_before)


@handlers.on(WorkOrderDispatched)
def alert_technician(session, event):
    order = event.payload
    targets = recipients.staff_named(session, event.organization_id,
                                     [(order.technician_member_id, order.technician_user_id)])
    _staff_alert(session, event, "work_order_dispatched",
                 {"ticket_number": order.ticket_number, "summary": order.summary, "emergency": order.emergency},
                 targets)


@handlers.on(DailyReviewCompiled)
def send_daily_review(session, event):
    review = event.payload
    targets = recipients.staff_named(session, event.organization_id,
                                     [(member_id, "") for member_id in review.recipient_member_ids])
    _staff_alert(session, event, "daily_review",
                 {"day": review.day, "overdue": review.overdue, "forgotten": review.forgotten,
                  "ticket_numbers": list(review.ticket_numbers)}, targets)


@handlers.on(HandoverWritten)
def remind_incoming_shift(session, event):
    """The day shift hands over to that day's night shift, the night shift to the next day's day shift."""
    handover = event.payload
    day, shift = (handover.day, "night") if handover.shift == "day" else (_next_day(handover.day), "day")
    on_duty = session.scalars(select(Duty.user_id).where(
        Duty.site_id == handover.site_id, Duty.day == day, Duty.shift == shift, Duty.active.is_(True))).all()
    targets = recipients.staff_named(session, event.organization_id, [("", user_id) for user_id in on_duty])
    _staff_alert(session, event, "handover_written",
                 {"day": handover.day, "shift": handover.shift, "open_items": len(handover.ticket_ids)}, targets)


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
