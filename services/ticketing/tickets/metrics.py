"""Tickets opened and closed, by type, for the desk's dashboard. Counted once their transaction commits, so
a refused or rolled-back request counts nothing; every type's series exists from the start at 0, so a rate
over a quiet type reads 0 rather than nothing."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session

SERVICE = "ticketing"
_UNCOMMITTED = "ticketing.uncounted"

TICKETS_OPENED = Counter("tickets_opened_total", "Tickets received or registered, by type.", ["service", "type"])
TICKETS_CLOSED = Counter("tickets_closed_total", "Tickets finished, by type and final state (closed or invalid).",
                         ["service", "type", "state"])


def start_at_zero(types, final_states) -> None:
    for type_ in types:
        TICKETS_OPENED.labels(SERVICE, type_)
        for state in final_states:
            TICKETS_CLOSED.labels(SERVICE, type_, state)


def opened(session: Session, type_: str) -> None:
    session.info.setdefault(_UNCOMMITTED, []).append((TICKETS_OPENED, (SERVICE, type_)))


def closed(session: Session, type_: str, state: str) -> None:
    session.info.setdefault(_UNCOMMITTED, []).append((TICKETS_CLOSED, (SERVICE, type_, state)))


@event.listens_for(Session, "after_commit")
def _count(session: Session) -> None:
    for counter, labels in session.info.pop(_UNCOMMITTED, ()):
        counter.labels(*labels).inc()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_UNCOMMITTED, None)
