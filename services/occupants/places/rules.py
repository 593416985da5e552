"""Rules for places (OCC-1). Plain functions over a session; no Flask."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.places.tables import Building, Site, Unit
from shared.problems import Problem

UNIT_KINDS = ("residence", "office", "shop", "parking", "storage")
UNIT_STATES = ("vacant", "occupied", "renovating", "in_custody", "rented")


def create_site(session: Session, organization_id: str, *, code: str, name: str) -> Site:
    duplicate = session.scalar(select(Site.id).where(Site.organization_id == organization_id, Site.code == code))
    if duplicate:
        raise Problem(409, "Conflict", f"A site with code {code!r} exists already.", field="code")
    site = Site(organization_id=organization_id, code=code, name=name)
    session.add(site)
    session.flush()
    return site


def add_building(session: Session, site: Site, *, code: str, name: str) -> Building:
    duplicate = session.scalar(select(Building.id).where(Building.site_id == site.id, Building.code == code))
    if duplicate:
        raise Problem(409, "Conflict", f"Building {code!r} exists already on this site.", field="code")
    building = Building(organization_id=site.organization_id, site_id=site.id, code=code, name=name)
    session.add(building)
    session.flush()
    return building


def add_unit(session: Session, building: Building, *, number: str, floor: int, kind: str,
             floor_area_m2: Decimal, state: str = "vacant") -> Unit:
    duplicate = session.scalar(select(Unit.id).where(Unit.building_id == building.id, Unit.number == number))
    if duplicate:
        raise Problem(409, "Conflict", f"Unit {number!r} exists already in this building.", field="number")
    unit = Unit(organization_id=building.organization_id, site_id=building.site_id, building_id=building.id,
                number=number, floor=floor, kind=kind, state=state, floor_area_m2=floor_area_m2)
    session.add(unit)
    session.flush()
    return unit
