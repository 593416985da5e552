"""Events people publishes on `occupants.events`; contracts in proto/psp/occupants/v1/events.proto and
people.proto. Resident ID numbers never travel in events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import (
    CompanyPersonnelChanged,
    OccupancyEnded,
    OccupancyStarted,
    OwnershipTransferred,
    PersonUpdated,
)

from services.occupants.people.tables import Occupancy, PersonnelEntry


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _person(person: Mapping) -> dict:
    return {
        "person_id": person["id"], "kind": person["kind"], "full_name": person["full_name"],
        "phone": person["phone"], "email": person["email"], "preferred_language": person["preferred_language"],
        "preferred_channels": person["preferred_channels"], "site_id": person["site_id"],
        "birthday": _day(person["birthday"]), "emergency_contact_name": person["emergency_contact_name"],
        "emergency_contact_phone": person["emergency_contact_phone"],
        "emergency_contact_relation": person["emergency_contact_relation"], "contact_name": person["contact_name"],
    }


def person_registered(person: Mapping) -> PersonRegistered:
    """From a `persons` row."""
    return PersonRegistered(**_person(person))


def person_updated(person: Mapping) -> PersonUpdated:
    return PersonUpdated(**_person(person))


def occupancy_started(occupancy: Occupancy) -> OccupancyStarted:
    return OccupancyStarted(
        occupancy_id=occupancy.id, site_id=occupancy.site_id, unit_id=occupancy.unit_id,
        person_id=occupancy.person_id, role=occupancy.role, start_date=_day(occupancy.start_date),
        end_date=_day(occupancy.end_date), share="" if occupancy.share is None else str(occupancy.share),
        notice_channels=occupancy.notice_channels,
    )


def occupancy_ended(occupancy: Occupancy, *, unit_vacated: bool) -> OccupancyEnded:
    return OccupancyEnded(
        occupancy_id=occupancy.id, site_id=occupancy.site_id, unit_id=occupancy.unit_id,
        person_id=occupancy.person_id, role=occupancy.role, reason=occupancy.end_reason or "",
        end_date=_day(occupancy.end_date), unit_vacated=unit_vacated,
    )


def ownership_transferred(*, site_id: str, unit_id: str, former: Iterable[str], new: Iterable[str],
                          transferred_on: date) -> OwnershipTransferred:
    return OwnershipTransferred(site_id=site_id, unit_id=unit_id, former_owner_ids=list(former),
                                new_owner_ids=list(new), transferred_on=_day(transferred_on))


def personnel_changed(entry: PersonnelEntry, change: str) -> CompanyPersonnelChanged:
    return CompanyPersonnelChanged(
        company_id=entry.company_id, site_id=entry.site_id, entry_id=entry.id, change=change,
        full_name=entry.full_name, phone=entry.phone, position=entry.position, pass_needed=entry.pass_needed,
    )
