"""HTTP boundary of bill runs (BIL-2): queue a period's run for a site, follow its progress, read its summary."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Function, Integer, String
from apiflask.validators import Regexp
from sqlalchemy import select

from services.billing.billruns import rules
from services.billing.billruns.tables import BillRun
from services.billing.places.api import site_row
from services.billing.roles import EDITORS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("bill_runs", __name__, url_prefix="/v1")


class BillRunIn(Schema):
    period = String(required=True, validate=Regexp(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"),
                    metadata={"description": "The month billed, YYYY-MM."})


class BillRunOut(Schema):
    id = String()
    site_id = String()
    period = String()
    state = String(metadata={"description": "queued, running or done."})
    units_total = Integer()
    units_done = Integer()
    progress = Function(lambda run: f"{run.units_done}/{run.units_total}" if run.units_total else "0/0",
                        metadata={"type": "string", "description": "Units billed of the site's units."})
    charges_new = Integer(metadata={"description": "Charges this run raised (a repeated run raises none)."})
    amount_new = DecimalString(places=2, max_digits=14)
    bills_issued = Integer()
    created_by = String()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)


@api.post("/sites/<site_id>/bill-runs")
@api.auth_required(auth)
@idempotent
@api.input(BillRunIn)
@api.output(BillRunOut, status_code=202)
@api.doc(description="Queued; the worker bills the site's units in batches and reports its progress here.")
def queue_bill_run(site_id, json_data):
    site = site_row(site_id)
    require_role_at(site.site_id, *EDITORS)
    return rules.queue(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                       period=json_data["period"], actor=principal().subject)


@api.get("/sites/<site_id>/bill-runs")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(BillRunOut))
def list_bill_runs(site_id, query_data):
    stmt = select(BillRun).where(BillRun.site_id == site_row(site_id).site_id)
    return keyset_page(db_session(), stmt, (BillRun.created_at, BillRun.id), query_data)


@api.get("/bill-runs/<run_id>")
@api.auth_required(auth)
@api.output(BillRunOut)
def get_bill_run(run_id):
    return get_visible(BillRun, run_id, "bill run")
