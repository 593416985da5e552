"""Repairs on the desk's dashboard (TKT-8): work orders by state, and how long technicians take from a work
order's dispatch to checking in on site. A check-in is observed once its transaction commits, so a refused
or rolled-back one counts nothing."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

SERVICE = "ticketing"
_UNOBSERVED = "repairs.unobserved_check_ins"

WORK_ORDERS = Gauge("work_orders", "Work orders by state, counted from the table.", ["service", "state"],
                    multiprocess_mode="max")
DISPATCH_TO_CHECK_IN = Histogram(
    "work_order_dispatch_to_check_in_seconds", "From a work order's dispatch to its technician checking in on site.",
    ["service"], buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800))
DISPATCH_TO_CHECK_IN.labels(SERVICE)  # the series exists before the first check-in


def work_orders(by_state: dict[str, int]) -> None:
    for state, count in by_state.items():
        WORK_ORDERS.labels(SERVICE, state).set(count)


def checked_in(session: Session, seconds: float) -> None:
    session.info.setdefault(_UNOBSERVED, []).append(seconds)


@event.listens_for(Session, "after_commit")
def _observe(session: Session) -> None:
    for seconds in session.info.pop(_UNOBSERVED, ()):
        DISPATCH_TO_CHECK_IN.labels(SERVICE).observe(seconds)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_UNOBSERVED, None)
