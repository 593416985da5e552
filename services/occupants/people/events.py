"""Events occupants publishes on `occupants.events`; contracts in proto/psp/occupants/v1/events.proto."""

from collections.abc import Mapping

from psp.occupants.v1.events_pb2 import PersonRegistered


def person_registered(person: Mapping) -> PersonRegistered:
    """From a `persons` row."""
    return PersonRegistered(
        person_id=person["id"],
        kind=person["kind"],
        full_name=person["full_name"],
        phone=person["phone"],
        email=person["email"],
        preferred_language=person["preferred_language"],
        preferred_channels=person["preferred_channels"],
        site_id=person["site_id"],
    )
