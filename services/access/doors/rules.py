"""Registering zones and doors. A door joining a zone widens every live pass naming the zone, so those
passes are announced again with their doors resolved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import changes
from services.access.doors.tables import Door, Zone
from services.access.models import chassis, utcnow
from services.access.passes import events
from services.access.passes.tables import LIVE, Pass
from shared import audit
from shared.bus import outbox
from shared.problems import unprocessable


def add_zone(session: Session, *, organization_id: str, site_id: str, name: str, actor: str) -> Zone:
    zone = Zone(organization_id=organization_id, site_id=site_id, name=name)
    session.add(zone)
    session.flush()
    audit.record_for(session, chassis.audit_log, zone, entity="zone", action="register", actor=actor,
                     data={"name": name})
    return zone


def checked_zones(session: Session, organization_id: str, site_id: str, zone_ids: list[str]) -> list[str]:
    """The zone ids without repeats, each one of the site's; otherwise a 422 naming `zone_ids`."""
    return _of_site(session, Zone, organization_id, site_id, zone_ids, "zone_ids", "zone")


def checked_doors(session: Session, organization_id: str, site_id: str, door_ids: list[str]) -> list[str]:
    """The door ids without repeats, each one of the site's; otherwise a 422 naming `door_ids`."""
    return _of_site(session, Door, organization_id, site_id, door_ids, "door_ids", "door")


def _of_site(session: Session, model, organization_id: str, site_id: str, ids: list[str], field: str,
             what: str) -> list[str]:
    unique = list(dict.fromkeys(ids))
    found = set(session.scalars(select(model.id).where(model.organization_id == organization_id,
                                                       model.site_id == site_id, model.id.in_(unique))))
    unknown = [i for i in unique if i not in found]
    if unknown:
        raise unprocessable(field, f"No such {what} at this site: {', '.join(unknown)}.")
    return unique


def add_door(session: Session, *, organization_id: str, site_id: str, building_id: str | None, name: str,
             kind: str, zone_ids: list[str], actor: str) -> Door:
    door = Door(organization_id=organization_id, site_id=site_id, building_id=building_id, name=name, kind=kind,
                zone_ids=checked_zones(session, organization_id, site_id, zone_ids),
                version=changes.bump(session, organization_id))
    session.add(door)
    session.flush()
    audit.record_for(session, chassis.audit_log, door, entity="door", action="register", actor=actor,
                     data={"name": name, "kind": kind, "zone_ids": door.zone_ids})
    _widen_passes(session, door, door.zone_ids)
    return door


def change_zones(session: Session, door: Door, *, zone_ids: list[str], actor: str) -> Door:
    before = list(door.zone_ids)
    door.zone_ids = checked_zones(session, door.organization_id, door.site_id, zone_ids)
    door.version = changes.bump(session, door.organization_id)
    door.updated_at = utcnow()
    audit.record_for(session, chassis.audit_log, door, entity="door", action="change_zones", actor=actor,
                     data={"from": before, "to": door.zone_ids})
    _widen_passes(session, door, sorted(set(door.zone_ids) | set(before)))
    return door


def doors_of(session: Session, organization_id: str, site_id: str, door_ids: list[str],
             zone_ids: list[str]) -> list[str]:
    """A scope resolved to doors: those named, and every door of the zones."""
    resolved = dict.fromkeys(door_ids)
    if zone_ids:
        wanted = set(zone_ids)
        for door_id, in_zones in session.execute(select(Door.id, Door.zone_ids).where(
                Door.organization_id == organization_id, Door.site_id == site_id)):
            if wanted.intersection(in_zones):
                resolved.setdefault(door_id)
    return list(resolved)


def _widen_passes(session: Session, door: Door, zone_ids: list[str]) -> None:
    """Live passes naming one of the zones, announced again with their doors as they are now."""
    if not zone_ids:
        return
    wanted = set(zone_ids)
    touched = [p for p in session.scalars(select(Pass).where(
        Pass.organization_id == door.organization_id, Pass.site_id == door.site_id, Pass.state == LIVE))
        if wanted.intersection(p.zone_ids)]
    outbox.record_many(session, chassis.outbox, [
        events.issued(p, doors_of(session, p.organization_id, p.site_id, p.door_ids, p.zone_ids)) for p in touched],
        organization_id=door.organization_id)
