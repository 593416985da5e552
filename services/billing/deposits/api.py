"""HTTP boundary of deposit refunds (BIL-7): asked for, approved or rejected by a manager, paid by the cashier."""

from __future__ import annotations

import uuid

from apiflask import APIBlueprint, Schema
from apiflask.fields import Function, List, Nested, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select

from services.billing.deposits import rules
from services.billing.deposits.tables import Refund
from services.billing.ledger.api import account_row
from services.billing.roles import COLLECTORS
from shared.auth import auth, principal, require_role_at
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible, take_step

api = APIBlueprint("deposits", __name__, url_prefix="/v1")
Money = DecimalString(places=2, max_digits=14)


class Deduction(Schema):
    amount = DecimalString(required=True, places=2, max_digits=12, minimum=0, exclusive_minimum=True)
    reason = String(required=True, validate=Length(1, 300))


class RefundIn(Schema):
    item = String(required=True, validate=OneOf(rules.DEPOSITS))
    deductions = List(Nested(Deduction), load_default=list, validate=Length(max=50))
    reason = String(load_default="", validate=Length(max=500))


class DeductionOut(Schema):
    amount = String()
    reason = String()


class RefundOut(Schema):
    id = String()
    account_id = String()
    item = String()
    held = Money
    deductions = List(Nested(DeductionOut))
    amount = DecimalString(places=2, max_digits=14, metadata={"description": "What goes back: held − deductions."})
    state = String()
    allowed = Function(lambda refund: rules.REFUND.allowed(refund.state),
                       metadata={"type": "array", "items": {"type": "string"},
                                 "description": "The steps the refund may take next."})
    reason = String()
    requested_by = String()
    decided_by = String()
    payment_id = String(allow_none=True, metadata={"description": "The payout, with its receipt number."})
    created_at = UtcDateTime()


class DecisionIn(Schema):
    reason = String(load_default="", validate=Length(max=500))


def _refund(refund_id: str) -> Refund:
    return get_visible(Refund, refund_id, "refund")


@api.post("/accounts/<account_id>/refunds")
@api.auth_required(auth)
@idempotent
@api.input(RefundIn)
@api.output(RefundOut, status_code=201)
@api.doc(description=f"Ask for a deposit back less deductions, each with its reason.\n\n```mermaid\n"
                     f"{rules.REFUND.mermaid()}\n```")
def request_refund(account_id, json_data):
    account = account_row(account_id)
    require_role_at(account.site_id, *COLLECTORS)
    return rules.request(db_session(), account, key=f"desk:{uuid.uuid4()}", actor=principal().subject, **json_data)


@api.get("/accounts/<account_id>/refunds")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(RefundOut))
def list_refunds(account_id, query_data):
    stmt = select(Refund).where(Refund.account_id == account_row(account_id).id)
    return keyset_page(db_session(), stmt, (Refund.created_at, Refund.id), query_data)


@api.get("/refunds/<refund_id>")
@api.auth_required(auth)
@api.output(RefundOut)
def get_refund(refund_id):
    return _refund(refund_id)


@api.post("/refunds/<refund_id>/approve")
@api.auth_required(auth)
@api.input(DecisionIn)
@api.output(RefundOut)
def approve_refund(refund_id, json_data):
    return take_step(Refund, refund_id, "refund", rules.decide, {"action": "approve", **json_data})


@api.post("/refunds/<refund_id>/reject")
@api.auth_required(auth)
@api.input(DecisionIn)
@api.output(RefundOut)
def reject_refund(refund_id, json_data):
    return take_step(Refund, refund_id, "refund", rules.decide, {"action": "reject", **json_data})


@api.post("/refunds/<refund_id>/pay")
@api.auth_required(auth)
@api.output(RefundOut)
def pay_refund(refund_id):
    return take_step(Refund, refund_id, "refund", rules.pay, {})
