"""Rules for people and occupancy (OCC-2, OCC-4, OCC-5). Plain functions over a session; no Flask."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from services.occupants.archives.rules import ensure_owner_archive, keep_former_owner_archive
from services.occupants.contacts import normalise_email, normalise_phone
from services.occupants.models import chassis
from services.occupants.people import events
from services.occupants.people.tables import Occupancy, Person, PersonnelEntry
from services.occupants.places import rules as places
from services.occupants.places.tables import Site, Unit
from shared import audit, bulk, roles
from shared.bus.outbox import record, record_many
from shared.paging import keyset_page
from shared.problems import Problem, unprocessable
from shared.workflow import Step, Workflow

PERSON_KINDS = ("individual", "company")
LANGUAGES = ("zh-CN", "en")
CHANNELS = ("sms", "email", "app")
OCCUPANCY_ROLES = ("owner", "tenant", "household_member", "company_staff", "agent")
END_REASONS = ("move_out", "lease_end")
# Who sees a resident ID number whole at the record's site; everyone else sees it masked.
ID_NUMBER_ROLES = frozenset({roles.SITE_MANAGER, roles.CS_SUPERVISOR, roles.PROPERTY_MANAGER, roles.GENERAL_MANAGER})
WHOLE = Decimal(100)

OCCUPANCY = Workflow("occupancy", "current", [Step("current", "end", "ended")], final=["ended"])
PERSONNEL_ENTRY = Workflow("personnel entry", "listed", [Step("listed", "remove", "removed")], final=["removed"])
# A move-out ends everyone's occupancy; a lease end everyone's but the owners'.
_ENDED_BY = {"move_out": set(OCCUPANCY_ROLES), "lease_end": set(OCCUPANCY_ROLES) - {"owner"}}


def _conflict(field: str, why: str) -> Problem:
    return Problem(409, "Conflict", why, field=field)


# -- identity and contact details ---------------------------------------------------------------------------


_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                       "61 62 63 64 65 71 81 82 83".split())
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_id_number(raw: str, today: date) -> str:
    """A resident ID number (GB 11643): province code, a real birth date not in the future, check digit."""
    number = raw.strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise ValueError("A resident ID number is 17 digits and a check digit (0-9 or X).")
    if number[:2] not in _PROVINCES:
        raise ValueError("The first two digits are not a province code.")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("Digits 7-14 are not a real birth date.") from None
    if born > today or born.year < 1900:
        raise ValueError("The birth date is in the future or before 1900.")
    if number[17] != "10X98765432"[sum(int(d) * w for d, w in zip(number, _WEIGHTS)) % 11]:
        raise ValueError("The check digit does not match.")
    return number


def mask_id_number(number: str) -> str:
    """110***********123X: enough to tell two people apart at the counter, not enough to use."""
    return number[:3] + "*" * (len(number) - 7) + number[-4:] if number else ""


def shown_id_number(number: str, roles_at_site: Iterable[str]) -> str:
    return number if ID_NUMBER_ROLES.intersection(roles_at_site) else mask_id_number(number)


def _checked(field: str, check, value: str, *args) -> str:
    if not value:
        return ""
    try:
        return check(value, *args)
    except ValueError as exc:
        raise unprocessable(field, str(exc)) from None


# -- persons ------------------------------------------------------------------------------------------------

_PERSON_DEFAULTS = {
    "kind": "individual", "phone": "", "email": "", "preferred_language": "zh-CN", "preferred_channels": ["sms"],
    "birthday": None, "emergency_contact": None, "contact_name": "", "id_number": "",
}


def _person_columns(fields: Mapping, today: date) -> dict:
    """Validated, normalised column values from a person's fields (as the API or an import gives them)."""
    fields = {**_PERSON_DEFAULTS, **fields}
    contact = fields.pop("emergency_contact") or {}
    if fields["birthday"] is not None and fields["birthday"] > today:
        raise unprocessable("birthday", "A birthday cannot be in the future.")
    columns = {
        **fields,
        "phone": _checked("phone", normalise_phone, fields["phone"]),
        "email": _checked("email", normalise_email, fields["email"]),
        "id_number": _checked("id_number", check_id_number, fields["id_number"], today),
        "preferred_channels": list(fields["preferred_channels"]),
        "emergency_contact_name": contact.get("name", ""),
        "emergency_contact_phone": _checked("emergency_contact.phone", normalise_phone, contact.get("phone", "")),
        "emergency_contact_relation": contact.get("relation", ""),
    }
    if not (columns["phone"] or columns["email"]):
        raise unprocessable("phone", "Give a phone number or an e-mail address.")
    return columns


def register_person(session: Session, site: Site, *, registered_by: str, **fields) -> Person:
    """Record the person and, in the same transaction, the `person.registered.v1` event. `fields` are
    Person's columns, with `emergency_contact` as {name, phone, relation}."""
    [row] = _register(session, site, [fields], registered_by)
    return session.get(Person, row["id"])


def register_people(session: Session, site: Site, people: Sequence[dict], *, registered_by: str) -> list[str]:
    """Register many people at once (each given as `register_person`'s fields), as an import of a site's
    occupants does; returns their ids. The people, their audit rows and their events go in as one
    statement each."""
    return [row["id"] for row in _register(session, site, people, registered_by)]


def _register(session: Session, site: Site, people: Sequence[Mapping], registered_by: str) -> list[dict]:
    now = datetime.now(timezone.utc)
    rows = [{"id": str(uuid.uuid4()), "organization_id": site.organization_id, "site_id": site.id,
             **_person_columns(fields, now.date()), "registered_by": registered_by, "registered_at": now}
            for fields in people]
    bulk.insert(session, Person.__table__, rows)
    bulk.insert(session, chassis.audit_log, [
        {"organization_id": site.organization_id, "site_id": site.id, "entity": "person", "entity_id": row["id"],
         "action": "register", "from_state": None, "to_state": None, "actor": registered_by, "reason": "",
         "data": {}, "at": now} for row in rows])
    record_many(session, chassis.outbox, [events.person_registered(row) for row in rows],
                organization_id=site.organization_id)
    return rows


def _columns(row) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def update_person(session: Session, person: Person, *, actor: str, **changes) -> Person:
    """Change the given fields; the audit row names them (not their values: an ID number stays out of the
    trail), and `person.updated.v1` carries the whole new record. Giving the same values changes nothing."""
    today = datetime.now(timezone.utc).date()
    current = _columns(person)
    current["emergency_contact"] = {"name": person.emergency_contact_name, "phone": person.emergency_contact_phone,
                                    "relation": person.emergency_contact_relation}
    given = {key: current[key] for key in (*_PERSON_DEFAULTS, "full_name")}
    new = _person_columns({**given, **changes}, today)
    changed = sorted(key for key, value in new.items() if getattr(person, key) != value)
    if not changed:
        return person
    for key in changed:
        setattr(person, key, new[key])
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=person.organization_id, site_id=person.site_id,
                 entity="person", entity_id=person.id, action="update", actor=actor, data={"changed": changed})
    record(session, chassis.outbox, events.person_updated(_columns(person)), organization_id=person.organization_id)
    return person


# -- occupancy ----------------------------------------------------------------------------------------------


def start_occupancy(session: Session, *, unit: Unit, person_id: str, role: str, start_date: date,
                    share: Decimal | None, actor: str, end_date: date | None = None,
                    notice_channels: Sequence[str] = ()) -> Occupancy:
    """Link the person to the unit from `start_date`. A vacant unit's first owner or tenant makes it
    occupied or rented; any other unit state is left as it is, since only people can say why it is so."""
    occupancy = _start(session, unit=unit, person_id=person_id, role=role, start_date=start_date, share=share,
                       actor=actor, end_date=end_date, notice_channels=notice_channels)
    if role in ("owner", "tenant") and unit.state == "vacant":
        places.change_unit(session, unit, state="occupied" if role == "owner" else "rented", actor=actor,
                           reason=f"{role} moved in", held_roles=None)
    return occupancy


def _start(session: Session, *, unit: Unit, person_id: str, role: str, start_date: date, share: Decimal | None,
           actor: str, end_date: date | None = None, notice_channels: Sequence[str] = ()) -> Occupancy:
    if role not in OCCUPANCY_ROLES:
        raise unprocessable("role", f"One of: {', '.join(OCCUPANCY_ROLES)}.")
    person = session.get(Person, person_id)
    if person is None or person.organization_id != unit.organization_id or person.site_id != unit.site_id:
        raise unprocessable("person_id", "No such person at the unit's site.")
    if end_date is not None and end_date < start_date:
        raise unprocessable("end_date", "The end date is before the start date.")
    if role != "owner" and share is not None:
        raise unprocessable("share", "Only an owner holds a share.")
    if role == "owner":
        share = WHOLE if share is None else share
        if not 0 < share <= WHOLE:
            raise unprocessable("share", "A share is more than 0 and at most 100 percent.")
        _check_owner_shares(session, unit, start_date, end_date, share)
    duplicate = session.scalar(select(Occupancy.id).where(
        Occupancy.unit_id == unit.id, Occupancy.person_id == person_id, Occupancy.role == role,
        Occupancy.state == "current"))
    if duplicate:
        raise _conflict("person_id", f"The person is already a current {role} of this unit.")
    occupancy = Occupancy(organization_id=unit.organization_id, site_id=unit.site_id, unit_id=unit.id,
                          person_id=person_id, role=role, state=OCCUPANCY.initial, start_date=start_date,
                          end_date=end_date, share=share, notice_channels=list(notice_channels), started_by=actor)
    session.add(occupancy)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=unit.organization_id, site_id=unit.site_id,
                 entity="occupancy", entity_id=occupancy.id, action="start", to_state=occupancy.state, actor=actor,
                 data={"unit_id": unit.id, "person_id": person_id, "role": role})
    record(session, chassis.outbox, events.occupancy_started(occupancy), organization_id=unit.organization_id)
    return occupancy


def _check_owner_shares(session: Session, unit: Unit, start: date, end: date | None, share: Decimal) -> None:
    """The owners' shares held on any one day may not add up to more than the whole unit. The sum only
    grows where an occupancy starts, so the new period's first day and the later starts within it are
    the days to check."""
    overlapping = select(Occupancy).where(
        Occupancy.unit_id == unit.id, Occupancy.role == "owner",
        or_(Occupancy.end_date.is_(None), Occupancy.end_date >= start))
    if end is not None:
        overlapping = overlapping.where(Occupancy.start_date <= end)
    owners = session.scalars(overlapping).all()
    for day in {start, *(o.start_date for o in owners if o.start_date > start)}:
        held = sum((o.share for o in owners if o.start_date <= day and (o.end_date is None or o.end_date >= day)),
                   Decimal(0))
        if held + share > WHOLE:
            raise _conflict("share", f"A {share}% share from {day} overlaps the existing owner set, which holds "
                                     f"{held}% then.")


def _current(session: Session, unit: Unit) -> list[Occupancy]:
    return list(session.scalars(select(Occupancy).where(Occupancy.unit_id == unit.id, Occupancy.state == "current")
                                .order_by(Occupancy.start_date, Occupancy.id)))


def _end(session: Session, occupancy: Occupancy, *, reason: str, end_date: date, actor: str,
         field: str = "end_date") -> None:
    step = OCCUPANCY.step(occupancy.state, "end")
    if end_date < occupancy.start_date:
        raise unprocessable(field, f"The occupancy started on {occupancy.start_date}, after {end_date}.")
    audit.record(session, chassis.audit_log, organization_id=occupancy.organization_id, site_id=occupancy.site_id,
                 entity="occupancy", entity_id=occupancy.id, action=step.action, from_state=occupancy.state,
                 to_state=step.target, actor=actor, reason=reason)
    occupancy.state, occupancy.end_date, occupancy.end_reason = step.target, end_date, reason


def move_out(session: Session, unit: Unit, *, reason: str, end_date: date, actor: str,
             person_ids: Sequence[str] = ()) -> list[Occupancy]:
    """End the unit's occupancies (OCC-4): on a move-out everyone's, on a lease end everyone's but the
    owners'; or only the given people's."""
    _check_reason(reason)
    current = _current(session, unit)
    ending = [o for o in current if o.role in _ENDED_BY[reason] and (not person_ids or o.person_id in person_ids)]
    unknown = set(person_ids) - {o.person_id for o in ending}
    if unknown:
        raise unprocessable("person_ids", f"Not occupying this unit in a role a {reason} ends: "
                                           f"{', '.join(sorted(unknown))}.")
    if not ending:
        raise _conflict("reason", f"Nobody occupies this unit in a role a {reason} ends.")
    _finish(session, unit, current, ending, reason=reason, end_date=end_date, actor=actor)
    return ending


def end_occupancy(session: Session, occupancy: Occupancy, *, reason: str, end_date: date,
                  actor: str) -> Occupancy:
    """End one person's occupancy, e.g. a household member who moves away."""
    OCCUPANCY.step(occupancy.state, "end")
    _check_reason(reason)
    unit = session.get(Unit, occupancy.unit_id)
    _finish(session, unit, _current(session, unit), [occupancy], reason=reason, end_date=end_date, actor=actor)
    return occupancy


def _check_reason(reason: str) -> None:
    if reason not in END_REASONS:
        raise unprocessable("reason", f"One of: {', '.join(END_REASONS)}.")


def _finish(session: Session, unit: Unit, current: list[Occupancy], ending: list[Occupancy], *, reason: str,
            end_date: date, actor: str) -> None:
    """The unit is vacant once nobody remains. Each ended occupancy is published, so access revokes passes
    and keys and billing issues the final bill and refunds the deposit."""
    for occupancy in ending:
        _end(session, occupancy, reason=reason, end_date=end_date, actor=actor)
    vacated = len(ending) == len(current)
    if vacated and unit.state in ("occupied", "rented"):
        places.change_unit(session, unit, state="vacant", actor=actor, reason=reason, held_roles=None)
    session.flush()
    record_many(session, chassis.outbox, [events.occupancy_ended(o, unit_vacated=vacated) for o in ending],
                organization_id=unit.organization_id)


def transfer_ownership(session: Session, unit: Unit, *, new_owners: Sequence[Mapping], transferred_on: date,
                       actor: str) -> dict:
    """OCC-5: the current owners' occupancies end the day before `transferred_on`, the new owners' start on
    it (each {person_id, share}); each former owner's archive is kept apart until its retention date, and
    each new owner gets one. Who lives in the unit does not change, so neither does its state."""
    formers = [o for o in _current(session, unit) if o.role == "owner"]
    if not formers:
        raise _conflict("unit_id", "The unit has no current owner to transfer from; record the owner's "
                                   "occupancy instead.")
    last_day = transferred_on - timedelta(days=1)
    for occupancy in formers:
        _end(session, occupancy, reason="transfer", end_date=last_day, actor=actor, field="transferred_on")
    session.flush()
    started = [_start(session, unit=unit, person_id=owner["person_id"], role="owner", start_date=transferred_on,
                      share=owner.get("share"), actor=actor) for owner in new_owners]
    former_ids = list(dict.fromkeys(o.person_id for o in formers))
    new_ids = [o.person_id for o in started]
    place = {"organization_id": unit.organization_id, "site_id": unit.site_id, "unit_id": unit.id, "actor": actor}
    for person_id in former_ids:
        keep_former_owner_archive(session, person_id=person_id, transferred_on=transferred_on, **place)
    for person_id in new_ids:
        ensure_owner_archive(session, person_id=person_id, **place)
    audit.record(session, chassis.audit_log, organization_id=unit.organization_id, site_id=unit.site_id,
                 entity="unit", entity_id=unit.id, action="transfer_ownership", actor=actor,
                 data={"former_owner_ids": former_ids, "new_owner_ids": new_ids,
                       "transferred_on": transferred_on.isoformat()})
    record_many(session, chassis.outbox, [
        *(events.occupancy_ended(o, unit_vacated=False) for o in formers),
        events.ownership_transferred(site_id=unit.site_id, unit_id=unit.id, former=former_ids, new=new_ids,
                                     transferred_on=transferred_on),
    ], organization_id=unit.organization_id)
    return {"unit_id": unit.id, "former_owner_ids": former_ids, "new_owner_ids": new_ids,
            "transferred_on": transferred_on, "ended": formers, "started": started}


# -- a company's personnel register -------------------------------------------------------------------------


def add_personnel(session: Session, company: Person, *, actor: str, full_name: str, phone: str = "",
                  position: str = "", id_number: str = "", pass_needed: bool = False) -> PersonnelEntry:
    if company.kind != "company":
        raise _conflict("company_id", "Only a company keeps a personnel register.")
    entry = PersonnelEntry(
        organization_id=company.organization_id, site_id=company.site_id, company_id=company.id,
        full_name=full_name, phone=_checked("phone", normalise_phone, phone), position=position,
        id_number=_checked("id_number", check_id_number, id_number, datetime.now(timezone.utc).date()),
        pass_needed=pass_needed, added_by=actor)
    session.add(entry)
    session.flush()
    _personnel_changed(session, entry, PERSONNEL_ENTRY.initial, "added", actor)
    return entry


def remove_personnel(session: Session, entry: PersonnelEntry, *, actor: str) -> PersonnelEntry:
    """The entry stays in the register's history, marked removed; access withdraws the pass."""
    step = PERSONNEL_ENTRY.step("removed" if entry.removed_at else "listed", "remove")
    entry.removed_by, entry.removed_at = actor, datetime.now(timezone.utc)
    _personnel_changed(session, entry, step.target, "removed", actor)
    return entry


def _personnel_changed(session: Session, entry: PersonnelEntry, state: str, change: str, actor: str) -> None:
    audit.record(session, chassis.audit_log, organization_id=entry.organization_id, site_id=entry.site_id,
                 entity="personnel_entry", entity_id=entry.id, action=change,
                 from_state=None if change == "added" else "listed", to_state=state, actor=actor,
                 data={"company_id": entry.company_id})
    record(session, chassis.outbox, events.personnel_changed(entry, change), organization_id=entry.organization_id)


# -- search -------------------------------------------------------------------------------------------------


def phone_prefix(raw: str) -> str:
    """The E.164 prefix a phone search means: "+44 20" as written, "138 0013" as a Chinese number."""
    digits = re.sub(r"[\s()-]", "", raw)
    if not re.fullmatch(r"\+?[0-9]{1,15}", digits):
        raise unprocessable("phone", "Digits, optionally after a +.")
    return digits if digits.startswith("+") else "+86" + digits.lstrip("0")


_PERSONS = Person.__table__.c
_UNITS = Unit.__table__.c
_OCCUPANCIES = Occupancy.__table__.c
_UNIT_FILTERS = ("unit_id", "unit_number", "building_id")


def search(session: Session, organization_id: str, site_id: str, page: dict, *, q: str | None = None,
           phone: str | None = None, unit_id: str | None = None, unit_number: str | None = None,
           building_id: str | None = None) -> dict:
    """A page of the site's persons, as plain rows: name containing `q`, phone starting with `phone` (then
    in phone order), currently occupying the unit (by id, or by number within a building)."""
    values = {"site_id": site_id, "organization_id": organization_id}
    if q:
        values.update(q=q, pattern="%" + re.sub(r"([\\%_])", r"\\\1", q.lower()) + "%")
    if phone:
        # A prefix as a range, which any B-tree answers whatever the database's collation.
        prefix = phone_prefix(phone)
        values.update(phone_from=prefix, phone_to=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    units = dict(unit_id=unit_id, unit_number=unit_number, building_id=building_id)
    values.update((key, value) for key, value in units.items() if value)
    stmt, order = _search_statement(session.get_bind().dialect.name == "postgresql", bool(q), bool(phone),
                                    tuple(key for key in _UNIT_FILTERS if units[key]))
    return keyset_page(session, stmt, order, page, values)


@functools.cache
def _search_statement(postgresql: bool, by_name: bool, by_phone: bool, unit_filters: tuple[str, ...]):
    """The search's statement and order for one combination of filters, their values bound at execution:
    built once, as building it costs as much CPU as running it. Built from the tables' columns rather than
    the mapped attributes: a statement without ORM entities runs as plain Core, which skips the ORM's compile
    and result stages on the busiest list."""
    stmt: Select = select(Person.__table__).where(_PERSONS.site_id == bindparam("site_id"),
                                                  _PERSONS.organization_id == bindparam("organization_id"))
    order = (_PERSONS.full_name, _PERSONS.id)
    if by_name:
        stmt = stmt.where(func.lower(_PERSONS.full_name).like(bindparam("pattern"), escape="\\"))
        if postgresql:
            # Every one- and two-character piece of the query is in the name's GIN-indexed pieces; the LIKE
            # then checks they are in the right order.
            stmt = stmt.where(func.person_name_grams(_PERSONS.full_name).op("@>")(
                func.person_name_grams(bindparam("q"))))
    if by_phone:
        stmt = stmt.where(_PERSONS.phone >= bindparam("phone_from"), _PERSONS.phone < bindparam("phone_to"))
        order = (_PERSONS.phone, _PERSONS.id)
    if unit_filters:
        occupying = (select(_OCCUPANCIES.person_id).join(Unit.__table__, _UNITS.id == _OCCUPANCIES.unit_id)
                     .where(_OCCUPANCIES.site_id == bindparam("site_id"), _OCCUPANCIES.state == "current"))
        columns = {"unit_id": _UNITS.id, "unit_number": _UNITS.number, "building_id": _UNITS.building_id}
        for key in unit_filters:
            occupying = occupying.where(columns[key] == bindparam(key))
        stmt = stmt.where(_PERSONS.id.in_(occupying))
    return stmt, order
