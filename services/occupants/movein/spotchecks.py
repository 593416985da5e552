"""Spot checks of move-in records (入伙资料抽查): each month the site manager checks a few accepted move-ins'
papers and records at random, more while a concentrated move-in runs; what does not conform is put right."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.occupants.models import chassis, utcnow
from services.occupants.movein.batches import concentrated
from services.occupants.movein.tables import MoveIn, MoveInSpotCheck
from services.occupants.places.tables import Site
from shared.roles import MANAGERS
from shared import audit, bulk, policy
from shared.problems import Problem
from shared.workflow import Step, Workflow

SPOT_CHECK = Workflow("move-in spot check", "scheduled", [
    Step("scheduled", "record", "done", roles=MANAGERS),
], final=("done",))

PER_MONTH_CONCENTRATED = policy.define("movein.spot_checks_per_month_concentrated", 4,
                                       "Move-in records spot-checked per site and month during a concentrated "
                                       "move-in.")
PER_MONTH = policy.define("movein.spot_checks_per_month", 1,
                          "Move-in records spot-checked per site and month otherwise.")
# Move-ins whose records are complete enough to check.
CHECKABLE = ("accepted", "archived")
_IDS = uuid.UUID("3b0f6a52-8f0e-4d2b-9a57-0c6f1e2d4b91")
_random = random.SystemRandom()


def schedule(sessions: sessionmaker) -> int:
    """The worker's job: this month's spot checks at every site with move-ins to check; answers how many it
    added. Each site in its own transaction."""
    with sessions() as session:
        site_ids = session.scalars(select(MoveIn.site_id).where(MoveIn.state.in_(CHECKABLE)).distinct()).all()
    added = 0
    for site_id in site_ids:
        with sessions() as session, session.begin():
            added += schedule_site(session, site_id, utcnow())
    return added


def schedule_site(session: Session, site_id: str, now: datetime) -> int:
    """Fill the month's spot checks (site time) up to the policy's number with move-ins not checked before.

    The site row is claimed (FOR UPDATE SKIP LOCKED) so two workers do not pick at once, and each check's id
    is derived from (site, month, ordinal), so a check is added once however often this runs; a month that
    starts with too few move-ins to check is topped up as more are accepted."""
    site = session.scalar(select(Site).where(Site.id == site_id).with_for_update(skip_locked=True))
    if site is None:
        return 0
    local = now.astimezone(ZoneInfo(site.time_zone))
    first = local.date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    month = first.strftime("%Y-%m")
    setting = PER_MONTH_CONCENTRATED if concentrated(session, site.id, first, last) else PER_MONTH
    wanted = int(policy.value(session, chassis, site.organization_id, site.id, setting))
    taken = set(session.scalars(select(MoveInSpotCheck.ordinal).where(
        MoveInSpotCheck.site_id == site.id, MoveInSpotCheck.month == month)))
    ordinals = [n for n in range(1, wanted + 1) if n not in taken]
    candidates = session.scalars(select(MoveIn.id).where(
        MoveIn.site_id == site.id, MoveIn.state.in_(CHECKABLE),
        MoveIn.id.not_in(select(MoveInSpotCheck.move_in_id))).order_by(MoveIn.id)).all()
    picks = _random.sample(candidates, min(len(ordinals), len(candidates)))
    rows = [{"id": str(uuid.uuid5(_IDS, f"{site.id}/{month}/{ordinal}")), "organization_id": site.organization_id,
             "site_id": site.id, "month": month, "ordinal": ordinal, "move_in_id": move_in_id,
             "state": SPOT_CHECK.initial, "scheduled_at": now, "done_at": None, "done_by": "", "conforming": None,
             "findings": ""} for ordinal, move_in_id in zip(ordinals, picks)]
    added = bulk.insert_new(session, MoveInSpotCheck.__table__, rows, key="id")
    for row in rows:
        if row["id"] in added:
            audit.record(session, chassis.audit_log, organization_id=site.organization_id, site_id=site.id,
                         entity="move_in_spot_check", entity_id=row["id"], action="schedule", actor="scheduler",
                         to_state=row["state"], data={"month": month, "move_in_id": row["move_in_id"]})
    return len(added)


def record(session: Session, check: MoveInSpotCheck, *, actor: str, roles, conforming: bool,
           findings: str = "") -> None:
    """The check is done; what did not conform is in the findings."""
    step = SPOT_CHECK.step(check.state, "record", roles)
    previous = check.state
    # Only from the state it was read in: of two managers recording at once, the second gets a 409 rather
    # than overwriting the first's findings.
    moved = session.execute(update(MoveInSpotCheck).where(
        MoveInSpotCheck.id == check.id, MoveInSpotCheck.state == previous).values(
        state=step.target, done_at=utcnow(), done_by=actor, conforming=conforming, findings=findings))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The spot check was recorded meanwhile; read it again.", field="action")
    audit.record(session, chassis.audit_log, organization_id=check.organization_id, site_id=check.site_id,
                 entity="move_in_spot_check", entity_id=check.id, action=step.action, actor=actor,
                 from_state=previous, to_state=step.target, reason=findings,
                 data={"conforming": conforming})
