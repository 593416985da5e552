"""HTTP boundary of recipients: how a person is reached, and the categories they opted out of (NTF-1)."""

from __future__ import annotations

from datetime import datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import List, String
from sqlalchemy import delete, select

from services.notifications.delivery.rules import CATEGORIES, EXEMPT
from services.notifications.delivery.tables import OptOut
from services.notifications.models import Recipient, chassis
from services.notifications.recipients.tables import StaffMember
from shared import audit, roles
from shared.auth import ALL_SITES, Principal, auth, principal, require_role_at
from shared.problems import unprocessable
from shared.web import db_session, get_visible

api = APIBlueprint("recipients", __name__, url_prefix="/v1")


def directory_roles(caller: Principal, site_id: str) -> frozenset[str]:
    """The caller's roles at a site per notifications' copy of the staff directory."""
    member = db_session().scalars(select(StaffMember).where(
        StaffMember.organization_id == caller.organization_id, StaffMember.user_id == caller.subject,
        StaffMember.active.is_(True))).first()
    if member is None:
        return frozenset()
    return frozenset(member.site_roles.get(site_id, ())) | frozenset(member.site_roles.get(ALL_SITES, ()))


class RecipientOut(Schema):
    person_id = String()
    full_name = String()
    phone = String()
    email = String()
    language = String()
    channels = List(String())
    opt_outs = List(String(), metadata={"description": "Categories the person receives nothing of."})


def _recipient(person_id: str) -> Recipient:
    """Staff who see the person's site, or the person themselves."""
    caller = principal()
    person = db_session().get(Recipient, person_id) if caller.subject == person_id else None
    if person is None or person.organization_id != caller.organization_id:
        person = get_visible(Recipient, person_id, "recipient")
    person.opt_outs = db_session().scalars(select(OptOut.category).where(
        OptOut.organization_id == person.organization_id, OptOut.person_id == person_id)
        .order_by(OptOut.category)).all()
    return person


def _may_change_opt_outs(person: Recipient) -> None:
    """The person, or customer service at the person's site."""
    if principal().subject != person.person_id:
        require_role_at(person.site_id or ALL_SITES, *roles.CUSTOMER_SERVICE)


@api.get("/recipients/<person_id>")
@api.auth_required(auth)
@api.output(RecipientOut)
def get_recipient(person_id):
    return _recipient(person_id)


@api.put("/recipients/<person_id>/opt-outs/<category>")
@api.auth_required(auth)
@api.output(RecipientOut)
def opt_out(person_id, category):
    """Stop a category of messages to the person. Legal notices and emergencies cannot be opted out of."""
    if category not in CATEGORIES:
        raise unprocessable("category", f"One of: {', '.join(CATEGORIES)}.")
    if category in EXEMPT:
        raise unprocessable("category", f"{category} messages cannot be opted out of.")
    person = _recipient(person_id)
    _may_change_opt_outs(person)
    if category not in person.opt_outs:
        db_session().add(OptOut(organization_id=person.organization_id, person_id=person_id, category=category,
                                created_at=datetime.now(timezone.utc)))
        audit.record(db_session(), chassis.audit_log, organization_id=person.organization_id,
                     site_id=person.site_id or None, entity="recipient", entity_id=person_id, action="opt_out",
                     actor=principal().subject, data={"category": category})
    return _recipient(person_id)


@api.delete("/recipients/<person_id>/opt-outs/<category>")
@api.auth_required(auth)
@api.output(RecipientOut)
def opt_in(person_id, category):
    person = _recipient(person_id)
    _may_change_opt_outs(person)
    if category in person.opt_outs:
        db_session().execute(delete(OptOut).where(OptOut.organization_id == person.organization_id,
                                                  OptOut.person_id == person_id, OptOut.category == category))
        audit.record(db_session(), chassis.audit_log, organization_id=person.organization_id,
                     site_id=person.site_id or None, entity="recipient", entity_id=person_id, action="opt_in",
                     actor=principal().subject, data={"category": category})
    return _recipient(person_id)
