"""A resolved ticket may be due a return visit, and a closed one is due none any more: ticketing follows its
own ticket.transitioned.v1 and ticket.closed.v1."""

from __future__ import annotations

from psp.ticketing.v1.tickets_pb2 import TicketClosed, TicketTransitioned

from services.ticketing.handlers import handlers
from services.ticketing.visits import rules


@handlers.on(TicketTransitioned)
def schedule_return_visit(session, event) -> None:
    if event.payload.to_state == "resolved":
        rules.on_resolved(session, event.organization_id, event.payload)


@handlers.on(TicketClosed)
def cancel_return_visit(session, event) -> None:
    rules.on_closed(session, event.payload)
