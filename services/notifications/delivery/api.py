"""HTTP boundary of delivery (NTF-1): the messages and their trail, the in-app inbox with read receipts, the
SMS gateway's signed delivery reports, and the outgoing box of the embedded default."""

from __future__ import annotations

from datetime import datetime, timezone

from apiflask import APIBlueprint, HTTPTokenAuth, Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import current_app, request
from sqlalchemy import or_, select

from services.notifications.delivery import channels, rules
from services.notifications.delivery.tables import Message, Outgoing
from services.notifications.listing import visible
from services.notifications.models import chassis
from shared import audit
from shared.audit import AuditEntryOut
from shared.auth import auth, principal
from shared.fields import UtcDateTime
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import Problem, not_found
from shared.web import db_session

api = APIBlueprint("delivery", __name__, url_prefix="/v1")

gateway = HTTPTokenAuth(header="webhook-signature",
                        description="The SMS gateway's Standard Webhooks signature (`webhook-id`, "
                                    "`webhook-timestamp`, `webhook-signature`) with SMS_GATEWAY_SECRET.")


@gateway.verify_token
def _signed_by_gateway(_signature: str):
    secret = current_app.extensions["psp"].settings.sms_gateway_secret
    return "sms-gateway" if channels.verify(secret, request.headers, request.get_data()) else None


class MessageOut(Schema):
    id = String()
    site_id = String(allow_none=True)
    cause_id = String(metadata={"description": "The event (or notice, or escalation) that caused it."})
    cause_type = String()
    correlation_id = String()
    category = String()
    recipient_kind = String()
    recipient_id = String()
    channel = String()
    address = String()
    language = String()
    template_kind = String()
    template_version = Integer()
    subject = String()
    body = String()
    status = String(validate=OneOf(rules.MESSAGE.states))
    reason = String(metadata={"description": "Why it failed, waits or went on from another channel."})
    attempts = Integer()
    caused_at = UtcDateTime()
    created_at = UtcDateTime()
    next_attempt_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)
    delivered_at = UtcDateTime(allow_none=True)
    read_at = UtcDateTime(allow_none=True)


class MessageDetailOut(MessageOut):
    trail = List(Nested(AuditEntryOut))


class MessageQuery(PageQuery):
    status = String(load_default=None, validate=OneOf(rules.MESSAGE.states))
    channel = String(load_default=None, validate=OneOf(rules.CHANNELS))
    cause_id = String(load_default=None, validate=Length(1, 120))
    recipient_id = String(load_default=None, validate=Length(1, 36))


class DeliveryReportIn(Schema):
    reference = String(required=True, validate=Length(1, 36), metadata={"description": "The message id sent."})
    status = String(required=True, validate=OneOf(["delivered", "failed"]))
    reason = String(load_default="", validate=Length(max=500))


class OutgoingOut(Schema):
    message_id = String()
    channel = String()
    address = String()
    subject = String()
    body = String()
    kept_at = UtcDateTime()


class OutgoingQuery(PageQuery):
    channel = String(load_default=None, validate=OneOf(["email", "sms"]))
    address = String(load_default=None, validate=Length(1, 500))


def _staff_only():
    caller = principal()
    if not caller.roles and not caller.site_roles:
        raise Problem(403, "Forbidden", "Messages are shown to staff.")
    return caller


@api.get("/messages")
@api.auth_required(auth)
@api.input(MessageQuery, location="query")
@api.output(page_of(MessageOut))
def list_messages(query_data):
    _staff_only()
    stmt = visible(Message, query_data, ("status", "channel", "cause_id", "recipient_id"))
    return keyset_page(db_session(), stmt, (Message.created_at, Message.id), query_data)


@api.get("/messages/<message_id>")
@api.auth_required(auth)
@api.output(MessageDetailOut)
def get_message(message_id):
    _staff_only()
    message = db_session().scalars(visible(Message, {"id": message_id}, ("id",))).first()
    if message is None:
        raise not_found("message")
    message.trail = audit.trail(db_session(), chassis.audit_log, organization_id=message.organization_id,
                                entity="message", entity_id=message.id)
    return message


def _inbox():
    caller = principal()
    now = datetime.now(timezone.utc)
    return select(Message).where(
        Message.organization_id == caller.organization_id, Message.user_id == caller.subject,
        Message.channel == "app", Message.status.in_(("delivered", "read")),
        or_(Message.expires_at.is_(None), Message.expires_at > now))


@api.get("/inbox")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(MessageOut))
def list_inbox(query_data):
    """The caller's in-app messages not expired, oldest first."""
    return keyset_page(db_session(), _inbox(), (Message.created_at, Message.id), query_data)


@api.post("/inbox/<message_id>/read")
@api.auth_required(auth)
@api.output(MessageOut)
def read_message(message_id):
    """The read receipt; reading again changes nothing."""
    session = db_session()
    message = session.scalars(_inbox().where(Message.id == message_id)).first()
    if message is None:
        raise not_found("message")
    if message.status != "read":
        rules.apply(session, [rules.Change(_row(message), "read", values={"read_at": datetime.now(timezone.utc)})],
                    actor=principal().subject)
        session.refresh(message)
    return message


def _row(message: Message):
    """The message as the rules take it: a plain row, read in this transaction."""
    return db_session().execute(Message.__table__.select().where(Message.__table__.c.id == message.id)).one()


@api.post("/sms/delivery-reports")
@api.auth_required(gateway)
@api.input(DeliveryReportIn)
@api.output(MessageOut)
def take_delivery_report(json_data):
    """The gateway's report on a text: delivered, or failed (then the recipient's next channel is tried).
    A report on a message already finished changes nothing, so the gateway may repeat it; one arriving
    before the sender recorded the gateway's answer gets 409 and is repeated."""
    session = db_session()
    message = session.get(Message, json_data["reference"])
    if message is None or message.channel != "sms":
        raise not_found("message")
    if message.status == "queued":
        # The gateway answered before the sender recorded its answer: asked again later, it will be "sent".
        raise Problem(409, "Conflict", "The text is still being recorded as sent; report again shortly.",
                      headers={"Retry-After": "1"})
    if message.status == "sent":
        action = "deliver" if json_data["status"] == "delivered" else "fail"
        values = {"delivered_at": datetime.now(timezone.utc)} if action == "deliver" else {}
        rules.apply(session, [rules.Change(_row(message), action, json_data["reason"], values)], actor="sms-gateway")
        session.refresh(message)
    return message


@api.get("/outgoing")
@api.auth_required(auth)
@api.input(OutgoingQuery, location="query")
@api.output(page_of(OutgoingOut))
def list_outgoing(query_data):
    """E-mail and SMS kept instead of sent when no mail server or gateway is configured (`make run`)."""
    _staff_only()
    stmt = visible(Outgoing, query_data, ("channel", "address"))
    return keyset_page(db_session(), stmt, (Outgoing.kept_at, Outgoing.message_id), query_data)
