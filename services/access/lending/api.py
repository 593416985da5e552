"""HTTP boundary of lending and storage."""

from __future__ import annotations

from decimal import Decimal

from apiflask import APIBlueprint, Schema
from apiflask.fields import Method, String
from apiflask.validators import Length, OneOf

from services.access.inputs import a_moment, an_id, listed_at_site, site_named
from services.access.keys.tables import Key
from services.access.lending import rules
from services.access.lending.tables import Loan, StoredItem
from services.access.places.tables import Site
from shared.auth import auth, principal, require_role_at, roles_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, page_of
from shared.problems import unprocessable
from shared.web import db_session, get_referenced, get_visible, take_step

api = APIBlueprint("lending", __name__, url_prefix="/v1")

_Money = DecimalString(load_default=Decimal("0.00"), places=2, max_digits=14, minimum=0)


class LoanIn(Schema):
    site_id = an_id()
    key_id = an_id(required=False, description="A key of the register; or name the item.")
    item = String(load_default="", validate=Length(max=200))
    borrower_name = String(required=True, validate=Length(1, 200))
    borrower_person_id = an_id(required=False)
    borrower_phone = String(load_default="", validate=Length(max=40))
    due_at = a_moment()
    deposit = _Money


class StepIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


class StoreIn(Schema):
    site_id = an_id()
    description = String(required=True, validate=Length(1, 500))
    depositor_name = String(required=True, validate=Length(1, 200))
    depositor_person_id = an_id(required=False)
    pickup_name = String(load_default="", validate=Length(max=200))
    deposit = _Money


class PickUpIn(StepIn):
    pickup_code = String(required=True, validate=Length(6, 6))
    picked_up_by = String(required=True, validate=Length(1, 200))


class LoanQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.LOAN.states))


class StorageQuery(PageQuery):
    site_id = an_id()
    state = String(load_default=None, validate=OneOf(rules.STORAGE.states))


class LoanOut(Schema):
    id = String()
    site_id = String()
    key_id = String(allow_none=True)
    item = String()
    borrower_name = String()
    borrower_person_id = String(allow_none=True)
    borrower_phone = String()
    deposit = DecimalString(places=2, max_digits=14)
    currency = String()
    lent_by = String()
    lent_at = UtcDateTime()
    due_at = UtcDateTime()
    returned_at = UtcDateTime(allow_none=True)
    overdue_alerted_at = UtcDateTime(allow_none=True)
    state = String()
    allowed_steps = Method("_allowed", metadata={"type": "array", "items": {"type": "string"}})

    def _allowed(self, loan) -> list[str]:
        return rules.LOAN.allowed(loan.state)


class StoredItemOut(Schema):
    id = String()
    site_id = String()
    description = String()
    depositor_name = String()
    depositor_person_id = String(allow_none=True)
    pickup_name = String()
    pickup_code = String(metadata={"description": "Given to the depositor; the pickup needs it."})
    deposit = DecimalString(places=2, max_digits=14)
    currency = String()
    state = String()
    stored_by = String()
    stored_at = UtcDateTime()
    picked_up_by = String()
    picked_up_at = UtcDateTime(allow_none=True)


def _site_for(json_data: dict) -> Site:
    site = site_named(json_data.pop("site_id"))
    require_role_at(site.site_id, *rules.LENDERS)
    return site


@api.post("/loans")
@api.auth_required(auth)
@idempotent
@api.input(LoanIn)
@api.output(LoanOut, status_code=201)
def lend(json_data):
    site = _site_for(json_data)
    key_id = json_data.pop("key_id")
    key = get_referenced(Key, key_id, "key_id", "key") if key_id else None
    if key is not None and key.site_id != site.site_id:
        raise unprocessable("key_id", "The key is not at this site.")
    return rules.lend(db_session(), organization_id=site.organization_id, site_id=site.site_id, key=key,
                      actor=principal().subject, roles=roles_at(site.site_id), **json_data)


@api.get("/loans")
@api.auth_required(auth)
@api.input(LoanQuery, location="query")
@api.output(page_of(LoanOut))
def list_loans(query_data):
    return listed_at_site(Loan, query_data, "state", roles=rules.LENDERS)


@api.get("/loans/<loan_id>")
@api.auth_required(auth)
@api.output(LoanOut)
def get_loan(loan_id):
    return get_visible(Loan, loan_id, "loan")


def _closing(action: str):
    def take(session, loan, **fields):
        return rules.close(session, loan, action, **fields)
    return take


@api.post("/loans/<loan_id>/return")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(LoanOut)
def return_loan(loan_id, json_data):
    return take_step(Loan, loan_id, "loan", _closing("return"), json_data)


@api.post("/loans/<loan_id>/lost")
@api.auth_required(auth)
@api.input(StepIn)
@api.output(LoanOut)
def report_loan_lost(loan_id, json_data):
    return take_step(Loan, loan_id, "loan", _closing("report_lost"), json_data)


@api.post("/storage")
@api.auth_required(auth)
@idempotent
@api.input(StoreIn)
@api.output(StoredItemOut, status_code=201)
def store(json_data):
    site = _site_for(json_data)
    return rules.store(db_session(), organization_id=site.organization_id, site_id=site.site_id,
                       actor=principal().subject, **json_data)


@api.get("/storage")
@api.auth_required(auth)
@api.input(StorageQuery, location="query")
@api.output(page_of(StoredItemOut))
def list_storage(query_data):
    return listed_at_site(StoredItem, query_data, "state", roles=rules.LENDERS)


@api.post("/storage/<item_id>/pick-up")
@api.auth_required(auth)
@api.input(PickUpIn)
@api.output(StoredItemOut)
def pick_up(item_id, json_data):
    return take_step(StoredItem, item_id, "stored item", rules.pick_up, json_data)
