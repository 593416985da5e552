"""The doors a pass issued from an event opens when the event names no doors: its unit's building's."""

from __future__ import annotations

from sqlalchemy import select

from services.access.doors.tables import Door
from services.access.places.tables import Unit


def building_doors(session, organization_id: str, site_id: str, unit_id: str | None) -> list[str]:
    """The doors of the unit's building; all the site's doors when the building has none registered."""
    unit = session.get(Unit, unit_id) if unit_id else None
    doors = select(Door.id).where(Door.organization_id == organization_id, Door.site_id == site_id)
    if unit is not None:
        of_building = list(session.scalars(doors.where(Door.building_id == unit.building_id).order_by(Door.id)))
        if of_building:
            return of_building
    return list(session.scalars(doors.order_by(Door.id)))
