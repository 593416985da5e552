"""HTTP boundary of people (OCC-2, OCC-4, OCC-5): persons and companies, occupancies, move-out, ownership
transfer, companies' personnel registers, search."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import jsonify
from marshmallow import ValidationError

from services.occupants import contacts
from services.occupants.people import rules
from services.occupants.people.tables import Occupancy, Person, PersonnelEntry
from services.occupants.places.api import site_row
from services.occupants.places.tables import Unit
from shared.roles import CUSTOMER_SERVICE
from shared.auth import auth, principal, require_role_at, roles_at, visible_site
from shared.fields import DecimalString
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import not_found
from shared.web import db_session, get_visible, read_session

api = APIBlueprint("people", __name__, url_prefix="/v1")


class _Checked(String):
    """A string checked and normalised by a rule (phone → E.164, e-mail, ID number), so a bad value is
    named by the schema like any other field error."""

    def __init__(self, check, *, max_length: int, **kwargs):
        self.check = check
        super().__init__(validate=Length(max=max_length), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            return self.check(value) if value else ""
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def _today():
    return datetime.now(timezone.utc).date()


def phone_field(**kwargs):
    return _Checked(contacts.normalise_phone, max_length=40,
                    metadata={"description": "Any common notation; stored and shown in E.164. A number without a "
                                             "country code is read as Chinese."}, **kwargs)


def id_number_field(**kwargs):
    return _Checked(lambda value: rules.check_id_number(value, _today()), max_length=18,
                    metadata={"description": "Chinese resident ID number (18 characters). Shown whole only to "
                                             "site managers, CS supervisors, property and general managers."},
                    **kwargs)


_Channels = List(String(validate=OneOf(rules.CHANNELS)), validate=Length(max=3))


class EmergencyContact(Schema):
    name = String(required=True, validate=Length(1, 200))
    phone = phone_field(load_default="")
    relation = String(load_default="", validate=Length(max=40))


class PersonChanges(Schema):
    """The fields a change may give; those left out stay as they are."""

    full_name = String(validate=Length(1, 200))
    phone = phone_field()
    email = _Checked(contacts.normalise_email, max_length=200)
    preferred_language = String(validate=OneOf(rules.LANGUAGES))
    preferred_channels = _Channels
    birthday = Date(allow_none=True)
    emergency_contact = Nested(EmergencyContact, allow_none=True)
    contact_name = String(validate=Length(max=200), metadata={"description": "A company's contact person."})
    id_number = id_number_field()


class PersonIn(PersonChanges):
    site_id = String(required=True, validate=Length(36, 36))
    kind = String(load_default="individual", validate=OneOf(rules.PERSON_KINDS))
    full_name = String(required=True, validate=Length(1, 200))
    phone = phone_field(load_default="")
    email = _Checked(contacts.normalise_email, max_length=200, load_default="")
    id_number = id_number_field(load_default="")
    preferred_language = String(load_default="zh-CN", validate=OneOf(rules.LANGUAGES))
    preferred_channels = List(String(validate=OneOf(rules.CHANNELS)), load_default=lambda: ["sms"],
                              validate=Length(max=3))
    birthday = Date(load_default=None, allow_none=True)
    emergency_contact = Nested(EmergencyContact, load_default=None, allow_none=True)
    contact_name = String(load_default="", validate=Length(max=200))


class EmergencyContactOut(Schema):
    name = String()
    phone = String()
    relation = String()


class PersonOut(Schema):
    id = String()
    site_id = String()
    kind = String()
    full_name = String()
    phone = String()
    email = String()
    preferred_language = String()
    preferred_channels = List(String())
    birthday = Date(allow_none=True)
    emergency_contact = Nested(EmergencyContactOut, allow_none=True)
    contact_name = String()
    id_number = String(metadata={"description": "Whole for the roles that need it, masked (110***********123X) "
                                                "for everyone else."})


_PERSON_KEYS = tuple(PersonOut().fields)


class PersonQuery(PageQuery):
    site_id = String(required=True, validate=Length(36, 36))
    q = String(validate=Length(1, 200), metadata={"description": "Part of the name, anywhere in it."})
    phone = String(validate=Length(1, 40), metadata={"description": "Start of the phone number: E.164 with +, "
                                                                    "or a Chinese number without."})
    unit_id = String(validate=Length(36, 36), metadata={"description": "Current occupants of this unit."})
    unit_number = String(validate=Length(1, 40), metadata={"description": "Current occupants of units numbered so."})
    building_id = String(validate=Length(36, 36), metadata={"description": "Current occupants of this building."})


def _shown(person: Person, held=None) -> dict:
    """The person as the caller may see them: the ID number whole only for the roles at its site that
    need it."""
    held = roles_at(person.site_id) if held is None else held
    contact = None
    if person.emergency_contact_name:
        contact = {"name": person.emergency_contact_name, "phone": person.emergency_contact_phone,
                   "relation": person.emergency_contact_relation}
    return {**{key: getattr(person, key, None) for key in _PERSON_KEYS}, "emergency_contact": contact,
            "id_number": rules.shown_id_number(person.id_number, held)}


def _editable(site_id: str) -> None:
    require_role_at(site_id, *CUSTOMER_SERVICE)


@api.post("/persons")
@api.auth_required(auth)
@idempotent
@api.input(PersonIn)
@api.output(PersonOut, status_code=201)
@api.doc(description="Publishes person.registered.v1 (without the ID number). Needs a customer-service role at "
                     "the site.")
def register_person(json_data):
    site = site_row(json_data.pop("site_id"))
    _editable(site.id)
    return _shown(rules.register_person(db_session(), site, registered_by=principal().subject, **json_data))


@api.get("/persons")
@api.auth_required(auth)
@api.input(PersonQuery, location="query")
@api.output(page_of(PersonOut))
@api.doc(description="Name order, or phone order when searching by phone; the filters combine. Another "
                     "organization's site, like one that does not exist, has nobody in it.")
def search_persons(query_data):
    site_id = visible_site(query_data.pop("site_id"))
    filters = {key: query_data.pop(key, None) for key in ("q", "phone", "unit_id", "unit_number", "building_id")}
    page = rules.search(read_session(), principal().organization_id, site_id, query_data, **filters)
    # The caller's roles are looked up only when there is an ID number to show or mask.
    held = roles_at(site_id) if any(person.id_number for person in page["items"]) else frozenset()
    # The items are in PersonOut's shape already, dates aside: answered as they are, they skip a marshmallow
    # dump of every field of every row, a sixth of the search's CPU.
    items = [_shown(person, held) for person in page["items"]]
    for item in items:
        if item["birthday"] is not None:
            item["birthday"] = item["birthday"].isoformat()
    return jsonify(items=items, next_cursor=page["next_cursor"])


@api.get("/persons/<person_id>")
@api.auth_required(auth)
@api.output(PersonOut)
def get_person(person_id):
    return _shown(get_visible(Person, person_id, "person"))


@api.patch("/persons/<person_id>")
@api.auth_required(auth)
@api.input(PersonChanges)
@api.output(PersonOut)
@api.doc(description="Publishes person.updated.v1 with the whole record; the audit entry names the fields changed.")
def change_person(person_id, json_data):
    person = get_visible(Person, person_id, "person")
    _editable(person.site_id)
    return _shown(rules.update_person(db_session(), person, actor=principal().subject, **json_data))


# -- occupancies --------------------------------------------------------------------------------------------


class OccupancyIn(Schema):
    person_id = String(required=True, validate=Length(36, 36))
    role = String(required=True, validate=OneOf(rules.OCCUPANCY_ROLES))
    start_date = Date(required=True)
    end_date = Date(load_default=None, allow_none=True, metadata={"description": "The agreed end, e.g. a lease's."})
    share = DecimalString(load_default=None, allow_none=True, places=2, max_digits=5, minimum=0,
                          exclusive_minimum=True, maximum=100,
                          metadata={"description": "An owner's share in percent; 100 when left out."})
    notice_channels = List(String(validate=OneOf(rules.CHANNELS)), load_default=list, validate=Length(max=3))


class OccupancyOut(Schema):
    id = String()
    site_id = String()
    unit_id = String()
    person_id = String()
    role = String()
    state = String(metadata={"description": "current or ended"})
    start_date = Date()
    end_date = Date(allow_none=True)
    share = DecimalString(places=2, max_digits=5, allow_none=True)
    notice_channels = List(String())
    end_reason = String(allow_none=True)


class OccupancyQuery(PageQuery):
    state = String(validate=OneOf(rules.OCCUPANCY.states))


class EndIn(Schema):
    reason = String(required=True, validate=OneOf(rules.END_REASONS))
    end_date = Date(required=True, metadata={"description": "The last day of the occupancy."})


class MoveOutIn(EndIn):
    person_ids = List(String(validate=Length(36, 36)), load_default=list, validate=Length(max=50),
                      metadata={"description": "Only these people's occupancies; all the reason ends when empty."})


class NewOwner(Schema):
    person_id = String(required=True, validate=Length(36, 36))
    share = DecimalString(load_default=None, allow_none=True, places=2, max_digits=5, minimum=0,
                          exclusive_minimum=True, maximum=100)


class TransferIn(Schema):
    transferred_on = Date(required=True, metadata={"description": "The new owners' first day."})
    new_owners = List(Nested(NewOwner), required=True, validate=Length(1, 10))


class TransferOut(Schema):
    unit_id = String()
    former_owner_ids = List(String())
    new_owner_ids = List(String())
    transferred_on = Date()


def _unit(unit_id: str, *, editing: bool = False) -> Unit:
    unit = get_visible(Unit, unit_id, "unit")
    if editing:
        _editable(unit.site_id)
    return unit


@api.post("/units/<unit_id>/occupancies")
@api.auth_required(auth)
@idempotent
@api.input(OccupancyIn)
@api.output(OccupancyOut, status_code=201)
@api.doc(description="Publishes occupancy.started.v1. Owners' shares held on any one day may not exceed 100 "
                     "(409). A vacant unit's first owner or tenant makes it occupied or rented.")
def start_occupancy(unit_id, json_data):
    return rules.start_occupancy(db_session(), unit=_unit(unit_id, editing=True), actor=principal().subject,
                                 **json_data)


@api.get("/units/<unit_id>/occupancies")
@api.auth_required(auth)
@api.input(OccupancyQuery, location="query")
@api.output(page_of(OccupancyOut))
def list_occupancies(unit_id, query_data):
    stmt = sa.select(Occupancy).where(Occupancy.unit_id == _unit(unit_id).id)
    if query_data.get("state"):
        stmt = stmt.where(Occupancy.state == query_data["state"])
    # A cursor carries the start date as ISO text, which compares with the date only as text.
    started = sa.cast(Occupancy.start_date, sa.String(10)).label("start_date")
    return keyset_page(db_session(), stmt, (started, Occupancy.id), query_data)


@api.post("/occupancies/<occupancy_id>/end")
@api.auth_required(auth)
@idempotent
@api.input(EndIn)
@api.output(OccupancyOut)
@api.doc(description="Publishes occupancy.ended.v1; the unit is vacant once nobody remains.\n\n"
                     f"```mermaid\n{rules.OCCUPANCY.mermaid()}\n```")
def end_occupancy(occupancy_id, json_data):
    occupancy = get_visible(Occupancy, occupancy_id, "occupancy")
    _editable(occupancy.site_id)
    return rules.end_occupancy(db_session(), occupancy, actor=principal().subject, **json_data)


@api.post("/units/<unit_id>/move-out")
@api.auth_required(auth)
@idempotent
@api.input(MoveOutIn)
@api.output(OccupancyOut(many=True))
@api.doc(description="OCC-4. A move-out ends every occupancy of the unit, a lease end every one but the owners'; "
                     "or only those of `person_ids`; answers the occupancies ended. Publishes occupancy.ended.v1 for "
                     "each (access revokes passes and keys, billing issues the final bill and refunds the deposit). "
                     "The unit is vacant once nobody remains.")
def move_out(unit_id, json_data):
    return rules.move_out(db_session(), _unit(unit_id, editing=True), actor=principal().subject, **json_data)


@api.post("/units/<unit_id>/ownership-transfer")
@api.auth_required(auth)
@idempotent
@api.input(TransferIn)
@api.output(TransferOut)
@api.doc(description="OCC-5. The current owners' occupancies end the day before `transferred_on` and the new "
                     "owners' start on it; each former owner's archive is kept apart until its retention date "
                     "and each new owner gets one. "
                     "Publishes occupancy.ended.v1 for each former owner, occupancy.started.v1 for each new one "
                     "and ownership.transferred.v1.")
def transfer_ownership(unit_id, json_data):
    return rules.transfer_ownership(db_session(), _unit(unit_id, editing=True), actor=principal().subject,
                                    **json_data)


# -- a company's personnel register -------------------------------------------------------------------------


class PersonnelIn(Schema):
    full_name = String(required=True, validate=Length(1, 200))
    phone = phone_field(load_default="")
    position = String(load_default="", validate=Length(max=100))
    id_number = id_number_field(load_default="")
    pass_needed = Boolean(load_default=False, metadata={"description": "Whether access issues a building pass."})


class PersonnelOut(Schema):
    id = String()
    company_id = String()
    full_name = String()
    phone = String()
    position = String()
    id_number = String()
    pass_needed = Boolean()
    added_at = DateTime()
    removed_at = DateTime(allow_none=True)


_PERSONNEL_KEYS = tuple(PersonnelOut().fields)


class PersonnelQuery(PageQuery):
    include_removed = Boolean(load_default=False)


def _entry_shown(entry: PersonnelEntry, held) -> dict:
    return {**{key: getattr(entry, key) for key in _PERSONNEL_KEYS},
            "id_number": rules.shown_id_number(entry.id_number, held)}


@api.post("/persons/<company_id>/personnel")
@api.auth_required(auth)
@idempotent
@api.input(PersonnelIn)
@api.output(PersonnelOut, status_code=201)
@api.doc(description="大厦人员情况登记表. Publishes company.personnel_changed.v1 (access issues building passes).")
def add_personnel(company_id, json_data):
    company = get_visible(Person, company_id, "company")
    _editable(company.site_id)
    entry = rules.add_personnel(db_session(), company, actor=principal().subject, **json_data)
    return _entry_shown(entry, roles_at(company.site_id))


@api.get("/persons/<company_id>/personnel")
@api.auth_required(auth)
@api.input(PersonnelQuery, location="query")
@api.output(page_of(PersonnelOut))
def list_personnel(company_id, query_data):
    company = get_visible(Person, company_id, "company")
    stmt = sa.select(PersonnelEntry).where(PersonnelEntry.company_id == company.id)
    if not query_data.pop("include_removed"):
        stmt = stmt.where(PersonnelEntry.removed_at.is_(None))
    page = keyset_page(db_session(), stmt, (PersonnelEntry.full_name, PersonnelEntry.id), query_data)
    held = roles_at(company.site_id)
    return {**page, "items": [_entry_shown(entry, held) for entry in page["items"]]}


@api.delete("/persons/<company_id>/personnel/<entry_id>")
@api.auth_required(auth)
@api.output(PersonnelOut)
@api.doc(description="The entry is kept, marked removed. Publishes company.personnel_changed.v1.\n\n"
                     f"```mermaid\n{rules.PERSONNEL_ENTRY.mermaid()}\n```")
def remove_personnel(company_id, entry_id):
    entry = get_visible(PersonnelEntry, entry_id, "personnel entry")
    if entry.company_id != company_id:
        raise not_found("personnel entry")
    _editable(entry.site_id)
    return _entry_shown(rules.remove_personnel(db_session(), entry, actor=principal().subject),
                        roles_at(entry.site_id))
