"""Events places publishes on `occupants.events`; contracts in proto/psp/occupants/v1/places.proto."""

from __future__ import annotations

from collections.abc import Mapping

from psp.occupants.v1.places_pb2 import (
    BuildingRegistered,
    HolidayOverride,
    ReceptionFrame,
    SiteRegistered,
    SiteUpdated,
    UnitChanged,
    UnitRegistered,
)

from services.occupants.places.tables import Building, Site


def _site(message_type, site: Site):
    return message_type(
        site_id=site.id, code=site.code, name=site.name, time_zone=site.time_zone,
        reception_hours=[ReceptionFrame(**frame) for frame in site.reception_hours],
        holiday_overrides=[HolidayOverride(**override) for override in site.holiday_overrides],
    )


def site_registered(site: Site) -> SiteRegistered:
    return _site(SiteRegistered, site)


def site_updated(site: Site) -> SiteUpdated:
    return _site(SiteUpdated, site)


def building_registered(building: Building | Mapping) -> BuildingRegistered:
    """From a `buildings` row or entity."""
    row = building if isinstance(building, Mapping) else columns(building)
    return BuildingRegistered(
        building_id=row["id"], site_id=row["site_id"], code=row["code"], name=row["name"],
        floors_above_ground=row["floors_above_ground"], floors_below_ground=row["floors_below_ground"],
    )


def unit_registered(unit: Mapping) -> UnitRegistered:
    """From a `units` row (an import builds thousands, so no entity is needed)."""
    return UnitRegistered(
        unit_id=unit["id"], site_id=unit["site_id"], building_id=unit["building_id"], floor=unit["floor"],
        number=unit["number"], kind=unit["kind"], floor_area_m2=str(unit["floor_area_m2"]), state=unit["state"],
    )


def unit_changed(unit: Mapping, *, previous_state: str, reason: str) -> UnitChanged:
    return UnitChanged(
        unit_id=unit["id"], site_id=unit["site_id"], building_id=unit["building_id"], floor=unit["floor"],
        number=unit["number"], kind=unit["kind"], floor_area_m2=str(unit["floor_area_m2"]), state=unit["state"],
        previous_state=previous_state, reason=reason,
    )


def columns(entity) -> dict:
    """An entity's column values, as a row of its table."""
    return {column.key: getattr(entity, column.key) for column in entity.__table__.columns}
