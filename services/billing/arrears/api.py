"""HTTP boundary of the arrears ladder (BIL-5): the steps taken on an account."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, String
from sqlalchemy import select

from services.billing.arrears.tables import ArrearsStep
from services.billing.ledger.api import account_row
from shared.auth import auth
from shared.fields import DecimalString, UtcDateTime
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session

api = APIBlueprint("arrears", __name__, url_prefix="/v1")


class ArrearsStepOut(Schema):
    id = String()
    step = String()
    overdue_since = Date()
    amount_overdue = DecimalString(places=2, max_digits=14)
    late_fee = DecimalString(places=2, max_digits=14)
    taken_at = UtcDateTime()


@api.get("/accounts/<account_id>/arrears-steps")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(ArrearsStepOut))
def list_arrears_steps(account_id, query_data):
    stmt = select(ArrearsStep).where(ArrearsStep.account_id == account_row(account_id).id)
    return keyset_page(db_session(), stmt, (ArrearsStep.taken_at, ArrearsStep.id), query_data)
