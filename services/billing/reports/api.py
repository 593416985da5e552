"""HTTP boundary of billing's reports (BIL-8): each as JSON, or as CSV for a spreadsheet at `<path>.csv`."""

from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, Integer, List, Nested, String
from apiflask.schemas import FileSchema
from apiflask.validators import Range, Regexp
from flask import Response

from services.billing.ledger.api import day_bounds
from services.billing.places.api import site_row
from services.billing.places.rules import today_at
from services.billing.reports import rules
from services.billing.roles import REPORT_READERS
from shared.auth import auth, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.web import db_session

api = APIBlueprint("billing_reports", __name__, url_prefix="/v1")
Money = DecimalString(places=2, max_digits=14)


class MonthQuery(Schema):
    month = String(load_default=None, validate=Regexp(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"),
                   metadata={"description": "YYYY-MM; default the site's current month."})


class DayQuery(Schema):
    day = Date(load_default=None, validate=Range(date(2000, 1, 1), date(2099, 12, 31)),
               metadata={"description": "The site's local day; default today."})


class CollectionRow(Schema):
    item = String(metadata={"description": "A fee item's code, or `total`."})
    charges = Integer()
    charged = Money
    paid = Money
    collection_rate = DecimalString(places=4, max_digits=5, allow_none=True,
                                    metadata={"description": "paid ÷ charged; null when nothing was charged."})


class AgeingRow(Schema):
    days_overdue = String()
    charges = Integer()
    accounts = Integer()
    amount = Money


class JournalRow(Schema):
    receipt_number = String()
    paid_at = UtcDateTime()
    method = String()
    unit_id = String()
    amount = Money
    state = String()
    void_reason = String()


def _readable(site_id: str) -> str:
    site = site_row(site_id)
    require_role_at(site.site_id, *REPORT_READERS)
    return site.site_id


def _collection(site_id: str, query: dict) -> list[dict]:
    site_id = _readable(site_id)
    month = query["month"] or today_at(db_session(), site_id).strftime("%Y-%m")
    return rules.collection(db_session(), site_id, month)


def _ageing(site_id: str, query: dict) -> list[dict]:
    site_id = _readable(site_id)
    return rules.arrears_ageing(db_session(), site_id, query["day"] or today_at(db_session(), site_id))


def _journal(site_id: str, query: dict) -> list[dict]:
    site_id = _readable(site_id)
    start, end = day_bounds(site_id, query["day"] or today_at(db_session(), site_id))
    return rules.daily_journal(db_session(), site_id, start, end)


def _report(path: str, name: str, query: type[Schema], row: type[Schema], build, description: str) -> None:
    """The report's JSON route and its CSV twin, from one builder."""
    page = type(f"{row.__name__}s", (Schema,), {"rows": List(Nested(row))})

    @api.get(f"/sites/<site_id>/reports/{path}", endpoint=name)
    @api.auth_required(auth)
    @api.input(query, location="query")
    @api.output(page)
    @api.doc(description=description)
    def as_json(site_id, query_data):
        return {"rows": build(site_id, query_data)}

    @api.get(f"/sites/<site_id>/reports/{path}.csv", endpoint=f"{name}_csv")
    @api.auth_required(auth)
    @api.input(query, location="query")
    @api.output(FileSchema, content_type="text/csv", status_code=200)
    @api.doc(description=description + " As CSV.")
    def as_csv(site_id, query_data):
        rows = row(many=True).dump(build(site_id, query_data))
        return Response(rules.as_csv(rows).encode("utf-8-sig"), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{path}.csv"'})


_report("collection", "collection_report", MonthQuery, CollectionRow, _collection,
        "Collection rate (收缴率) of the month's charges, per item and in total.")
_report("arrears-ageing", "arrears_ageing_report", DayQuery, AgeingRow, _ageing,
        "What is overdue today, by days past due.")
_report("daily-journal", "daily_journal_report", DayQuery, JournalRow, _journal,
        "The day's receipts in number order, voided ones with their reason (日清).")
