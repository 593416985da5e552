"""The month-end close (月结, BIL-4): a site's month, once over, is closed with its figures, and no payment dated
in a closed month is posted or voided afterwards: corrections go in the open month."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.billing.ledger.tables import Charge, MonthClose, Payment
from services.billing.models import chassis, utcnow
from services.billing.places.rules import time_zone, today_at
from shared import audit
from shared.problems import Problem, unprocessable

_WIDEST_OFFSET = timedelta(hours=14)


def _bounds(session: Session, site_id: str, first: date) -> tuple[datetime, datetime]:
    """The site's local month as UTC instants [start, end)."""
    zone = time_zone(session, site_id)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (datetime.combine(first, time(), zone).astimezone(timezone.utc),
            datetime.combine(following, time(), zone).astimezone(timezone.utc))


def close(session: Session, *, organization_id: str, site_id: str, month: str, actor: str) -> MonthClose:
    first = date(int(month[:4]), int(month[5:7]), 1)
    if first >= today_at(session, site_id).replace(day=1):
        raise unprocessable("month", "Only a month that is over can be closed.")
    if session.scalar(select(MonthClose.id).where(MonthClose.site_id == site_id, MonthClose.month == month)):
        raise Problem(409, "Conflict", f"{month} is closed already.", field="month")
    start, end = _bounds(session, site_id, first)
    charged = session.scalar(select(func.coalesce(func.sum(Charge.amount), 0)).where(
        Charge.site_id == site_id, Charge.created_at >= start, Charge.created_at < end))
    received, receipts = session.execute(select(func.coalesce(func.sum(Payment.amount), 0), func.count()).where(
        Payment.site_id == site_id, Payment.state == "posted", Payment.paid_at >= start,
        Payment.paid_at < end)).one()
    voided = session.scalar(select(func.count()).select_from(Payment).where(
        Payment.site_id == site_id, Payment.state == "voided", Payment.paid_at >= start, Payment.paid_at < end))
    outstanding = session.scalar(select(func.coalesce(func.sum(Charge.amount - Charge.paid), 0)).where(
        Charge.site_id == site_id, Charge.state == "open"))
    closed = MonthClose(organization_id=organization_id, site_id=site_id, month=month, charged=Decimal(charged),
                        received=Decimal(received), receipts=receipts, voided=voided,
                        outstanding=Decimal(outstanding), closed_by=actor, closed_at=utcnow())
    session.add(closed)
    session.flush()
    audit.record_for(session, chassis.audit_log, closed, entity="month_close", action="close", actor=actor,
                     to_state="closed", data={"month": month, "charged": str(closed.charged),
                                              "received": str(closed.received)})
    return closed


def months_near(paid_at: datetime) -> list[str]:
    """The months (YYYY-MM) the instant may fall in anywhere (UTC ± 14 h)."""
    instant = paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=timezone.utc)
    return sorted({f"{moment.year}-{moment.month:02d}" for moment in (instant - _WIDEST_OFFSET,
                                                                     instant + _WIDEST_OFFSET)})


def closes_near(site_id, months) -> Select:
    """The site's closed months among these: none in the usual case, so the site's zone is read only when
    there are some."""
    return select(MonthClose.month).where(MonthClose.site_id == site_id, MonthClose.month.in_(months))


def check_open(session: Session, site_id: str, paid_at: datetime) -> None:
    """409 when the payment's month is closed at the site."""
    closed = set(session.scalars(closes_near(site_id, months_near(paid_at))))
    if not closed:
        return
    instant = paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=timezone.utc)
    local = instant.astimezone(time_zone(session, site_id))
    month = f"{local.year}-{local.month:02d}"
    if month in closed:
        raise Problem(409, "Conflict", f"{month} is closed at this site: post or correct it in the open month.",
                      field="paid_at")
