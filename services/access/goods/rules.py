"""Goods release (ACC-3): the occupant (or someone for them) applies; large items need the occupant's own
confirmation; the service centre issues the release slip (放行条); the gate guard checks the slip and records
the exit. Plain functions over a session."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from services.access.goods.tables import GoodsRelease
from services.access.models import chassis, utcnow
from services.access.places.tables import Unit
from shared import audit
from shared.problems import Problem, unprocessable
from shared.roles import CUSTOMER_SERVICE, SECURITY_GUARD
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)
GOODS = Workflow("goods release", "applied", [
    # The occupant confirms (a token of their own, or the front desk with them at the counter).
    Step("applied", "confirm", "confirmed"),
    Step("applied", "issue_slip", "slip_issued", roles=CS),
    Step("confirmed", "issue_slip", "slip_issued", roles=CS),
    Step("slip_issued", "release", "released", roles={SECURITY_GUARD}),
    *[Step(state, "cancel", "cancelled", roles=CS) for state in ("applied", "confirmed", "slip_issued")],
], final=("released", "cancelled"))


def apply(session: Session, unit: Unit, *, person_id: str, carrier_name: str, items: list[dict],
          large_items: bool, actor: str) -> GoodsRelease:
    release = GoodsRelease(organization_id=unit.organization_id, site_id=unit.site_id, unit_id=unit.unit_id,
                           person_id=person_id, carrier_name=carrier_name, items=items, large_items=large_items,
                           state=GOODS.initial, applied_by=actor)
    session.add(release)
    session.flush()
    _audit(session, release, "apply", actor, None, data={"items": items, "large_items": large_items})
    return release


def confirm(session: Session, release: GoodsRelease, *, actor: str, roles, reason: str = "") -> GoodsRelease:
    """Only the occupant the goods belong to confirms, or the front desk with them present."""
    if actor != release.person_id and not CS.intersection(roles):
        raise Problem(403, "Forbidden", "Only the occupant, or the front desk with them, confirms a release.")
    step = GOODS.step(release.state, "confirm", roles)
    release.confirmed_by = actor
    return _move(session, release, step, actor, reason)


def issue_slip(session: Session, release: GoodsRelease, *, actor: str, roles, reason: str = "") -> GoodsRelease:
    step = GOODS.step(release.state, "issue_slip", roles)
    if release.large_items and release.state != "confirmed":
        raise Problem(409, "Conflict", "Large items leave only with the occupant's confirmation.",
                      field="action", extra={"state": release.state, "allowed": ["confirm", "cancel"]})
    release.slip_number = f"FX{utcnow():%Y%m%d}-{secrets.token_hex(3).upper()}"
    return _move(session, release, step, actor, reason, data={"slip_number": release.slip_number})


def release(session: Session, goods: GoodsRelease, *, actor: str, roles, slip_number: str, gate: str,
            reason: str = "") -> GoodsRelease:
    """The gate guard checks the slip presented against the record and lets the goods out."""
    step = GOODS.step(goods.state, "release", roles)
    if slip_number != goods.slip_number:
        raise unprocessable("slip_number", "The slip presented is not this release's.")
    goods.released_by, goods.released_at, goods.gate = actor, utcnow(), gate
    return _move(session, goods, step, actor, reason, data={"gate": gate})


def cancel(session: Session, goods: GoodsRelease, *, actor: str, roles, reason: str = "") -> GoodsRelease:
    return _move(session, goods, GOODS.step(goods.state, "cancel", roles), actor, reason)


def _move(session: Session, goods: GoodsRelease, step: Step, actor: str, reason: str,
          data: dict | None = None) -> GoodsRelease:
    before = goods.state
    goods.state, goods.updated_at = step.target, utcnow()
    _audit(session, goods, step.action, actor, before, reason=reason, data=data)
    return goods


def _audit(session: Session, goods: GoodsRelease, action: str, actor: str, from_state: str | None,
           reason: str = "", data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, goods, entity="goods_release", action=action, actor=actor,
                     from_state=from_state, to_state=goods.state, reason=reason, data=data)
