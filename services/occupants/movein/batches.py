"""Concentrated move-in (集中入伙): when a new site opens, a move-in team receives the occupants in batches of
appointment slots over its first weeks, instead of one at a time at the front desk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.models import chassis
from services.occupants.movein.tables import MoveInBatch, MoveInSlot
from services.occupants.places.tables import Site
from shared import audit
from shared.problems import unprocessable


def create_batch(session: Session, site: Site, *, actor: str, name: str, starts_on: date, ends_on: date,
                 slots: Sequence[dict]) -> MoveInBatch:
    """A batch and its slots, each inside the batch's days (site time)."""
    if ends_on < starts_on:
        raise unprocessable("ends_on", "The batch ends before it starts.")
    local = ZoneInfo(site.time_zone)
    for i, slot in enumerate(slots):
        if slot["ends_at"] <= slot["starts_at"]:
            raise unprocessable(f"slots.{i}.ends_at", "The slot ends before it starts.")
        if not starts_on <= slot["starts_at"].astimezone(local).date() <= ends_on:
            raise unprocessable(f"slots.{i}.starts_at", f"Not within the batch's days {starts_on}..{ends_on}.")
    batch = MoveInBatch(organization_id=site.organization_id, site_id=site.id, name=name, starts_on=starts_on,
                        ends_on=ends_on, created_by=actor)
    session.add(batch)
    session.flush()
    session.add_all(MoveInSlot(organization_id=site.organization_id, batch_id=batch.id, starts_at=s["starts_at"],
                               ends_at=s["ends_at"], capacity=s["capacity"], booked=0) for s in slots)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id,
                 entity="move_in_batch", entity_id=batch.id, action="create", actor=actor,
                 data={"name": name, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                       "slots": len(slots)})
    return batch


def slots_of(session: Session, batch: MoveInBatch) -> list[MoveInSlot]:
    return session.scalars(select(MoveInSlot).where(MoveInSlot.batch_id == batch.id)
                           .order_by(MoveInSlot.starts_at, MoveInSlot.id)).all()


def concentrated(session: Session, site_id: str, first_day: date, last_day: date) -> bool:
    """Whether a concentrated move-in runs at the site on any of these days."""
    return session.scalar(select(MoveInBatch.id).where(
        MoveInBatch.site_id == site_id, MoveInBatch.starts_on <= last_day, MoveInBatch.ends_on >= first_day)
        .limit(1)) is not None


