"""Passes an event asks for before its site has any door registered (a new site's first permits and
move-ins often come before its doors are set up). Nothing is dropped silently: the pass is held as
`awaiting_doors`, logged, counted and audited, and issued with the building's doors when the site's first door
is registered; a held pass whose reason ends first (the permit completed, the person moved out, its window
closed) is dropped, audited too."""

from __future__ import annotations

import logging

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.models import chassis, utcnow
from services.access.passes import rules
from services.access.passes.tables import HeldPass
from services.access.passes.scope import building_doors
from shared import audit
from shared.db import aware

AWAITING, ISSUED, DROPPED = "awaiting_doors", "issued", "dropped"
HELD = Counter("access_passes_held_total", "Passes held, issued later or dropped, by what happened.",
               ["service", "outcome"])
for _outcome in ("held", ISSUED, DROPPED):
    HELD.labels("access", _outcome)
log = logging.getLogger(__name__)


def hold(session: Session, *, organization_id: str, site_id: str, **wanted) -> HeldPass:
    """Keep the pass `wanted` (rules.issue's arguments bar the doors) until the site has doors."""
    held = HeldPass(organization_id=organization_id, site_id=site_id, state=AWAITING, **wanted)
    session.add(held)
    session.flush()
    _audit(session, held, "hold", None, "The site has no doors registered yet.")
    log.warning("access: %s pass for %s (%s %s) held: site %s has no doors yet", held.kind, held.holder_name,
                held.source, held.source_id, site_id)
    HELD.labels("access", "held").inc()
    return held


def is_held(session: Session, source: str, source_id: str) -> set[str]:
    """The holders' names of passes held for the source (an event replayed holds nothing twice)."""
    return set(session.scalars(select(HeldPass.holder_name).where(HeldPass.source == source,
                                                                    HeldPass.source_id == source_id)))


def release(session: Session, organization_id: str, site_id: str) -> int:
    """Issue the site's held passes now that it has doors; a held pass whose window closed is dropped.
    Answers how many were issued."""
    issued = 0
    for held in _awaiting(session, organization_id, HeldPass.site_id == site_id):
        if aware(held.valid_until) <= utcnow():
            drop(session, held, "The pass's window closed before the site had doors.")
            continue
        pass_ = rules.issue(
            session, organization_id=organization_id, site_id=site_id, kind=held.kind,
            holder_name=held.holder_name, credential=None, credential_kind="qr", valid_from=aware(held.valid_from),
            valid_until=aware(held.valid_until), door_ids=building_doors(session, organization_id, site_id,
                                                                          held.unit_id),
            zone_ids=[], max_uses=0, source=held.source, source_id=held.source_id, person_id=held.person_id,
            unit_id=held.unit_id, schedule=held.schedule, actor=rules.PLATFORM, reason=held.reason)
        held.pass_id = pass_.id
        _audit(session, held, "issue", AWAITING, "The site's first door was registered.")
        HELD.labels("access", ISSUED).inc()
        issued += 1
    return issued


def drop_all(session: Session, organization_id: str, condition, reason: str) -> int:
    held = _awaiting(session, organization_id, condition)
    for one in held:
        drop(session, one, reason)
    return len(held)


def drop(session: Session, held: HeldPass, reason: str) -> None:
    _audit(session, held, "drop", AWAITING, reason, state=DROPPED)
    HELD.labels("access", DROPPED).inc()


def _awaiting(session: Session, organization_id: str, condition) -> list[HeldPass]:
    return list(session.scalars(select(HeldPass).where(HeldPass.organization_id == organization_id,
                                                       HeldPass.state == AWAITING, condition)
                                .order_by(HeldPass.created_at, HeldPass.id).with_for_update()))


def _audit(session: Session, held: HeldPass, action: str, from_state: str | None, reason: str,
           state: str | None = None) -> None:
    if from_state is not None:
        held.state, held.updated_at = state or ISSUED, utcnow()
    audit.record_for(session, chassis.audit_log, held, entity="held_pass", action=action, actor=rules.PLATFORM,
                     from_state=from_state, to_state=held.state, reason=reason,
                     data={"source": held.source, "source_id": held.source_id, "pass_id": held.pass_id})
