"""Reports (BIL-8): the collection rate (收缴率) of a site's month, the ageing of its arrears, and the daily
cash journal (日清). Each is a list of flat rows, so JSON and CSV answer the same figures."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.billing.ledger.tables import Charge, Payment

AGEING_BUCKETS = ((0, 30), (31, 90), (91, 180), (181, 365), (366, None))


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.0001")) if whole else None


def collection(session: Session, site_id: str, month: str) -> list[dict]:
    """Per item, what the month's charges (the month's own period, or a cycle starting in it) came to and how
    much of it is paid; the last row is the whole site."""
    year = month[:4]
    periods = [month, year] if month.endswith("-01") else [month]
    quarter, half = (int(month[5:]) - 1) // 3 + 1, 1 if int(month[5:]) <= 6 else 2
    if int(month[5:]) % 3 == 1:
        periods.append(f"{year}-Q{quarter}")
    if month[5:] in ("01", "07"):
        periods.append(f"{year}-H{half}")
    rows = session.execute(select(Charge.item, func.count(), func.sum(Charge.amount), func.sum(Charge.paid))
                           .where(Charge.site_id == site_id, Charge.period.in_(periods))
                           .group_by(Charge.item).order_by(Charge.item)).all()
    report = [{"item": item, "charges": count, "charged": Decimal(charged), "paid": Decimal(paid),
               "collection_rate": _share(Decimal(paid), Decimal(charged))} for item, count, charged, paid in rows]
    charged = sum((row["charged"] for row in report), Decimal("0.00"))
    paid = sum((row["paid"] for row in report), Decimal("0.00"))
    report.append({"item": "total", "charges": sum(row["charges"] for row in report), "charged": charged,
                   "paid": paid, "collection_rate": _share(paid, charged)})
    return report


def arrears_ageing(session: Session, site_id: str, today: date) -> list[dict]:
    """What is overdue, by days past due."""
    report = []
    for low, high in AGEING_BUCKETS:
        window = [Charge.due_on <= date.fromordinal(today.toordinal() - low)]
        if high is not None:
            window.append(Charge.due_on >= date.fromordinal(today.toordinal() - high))
        count, accounts, owed = session.execute(select(
            func.count(), func.count(func.distinct(Charge.account_id)), func.sum(Charge.amount - Charge.paid))
            .where(Charge.site_id == site_id, Charge.state == "open", Charge.due_on < today, *window)).one()
        report.append({"days_overdue": f"{low}-{high}" if high is not None else f"{low}+", "charges": count,
                       "accounts": accounts, "amount": Decimal(owed or 0).quantize(Decimal("0.01"))})
    return report


def daily_journal(session: Session, site_id: str, start: datetime, end: datetime) -> list[dict]:
    """Every receipt of the site's day in number order, voided ones with their reason (日清)."""
    payments = session.scalars(select(Payment).where(Payment.site_id == site_id, Payment.paid_at >= start,
                                                     Payment.paid_at < end).order_by(Payment.receipt_number)).all()
    return [{"receipt_number": p.receipt_number, "paid_at": p.paid_at, "method": p.method, "unit_id": p.unit_id,
             "amount": p.amount, "state": p.state, "void_reason": p.void_reason} for p in payments]


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return value
