"""Issuing, changing and revoking passes (ACC-2), and the rules every pass keeps (ACC-6). Plain functions
over a session; no Flask.

Every change raises the organization's change number (services.access.changes), is audited, and publishes
PassIssued or PassRevoked through the outbox in the same transaction: the registered access-control systems
and the decision API's cache learn of it from there.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.access import changes
from services.access.doors.rules import checked_doors, checked_zones, doors_of
from services.access.models import chassis, utcnow
from services.access.passes import events
from services.access.passes.tables import LIVE, Pass
from shared import audit, policy
from shared.bus import outbox
from shared.db import aware
from shared.problems import Problem, unprocessable
from shared.roles import CUSTOMER_SERVICE, SECURITY_GUARD
from shared.workflow import Step, Workflow

ISSUERS = frozenset({*CUSTOMER_SERVICE, SECURITY_GUARD})
PASS = Workflow("pass", LIVE, [
    Step(LIVE, "change", LIVE, roles=ISSUERS),
    Step(LIVE, "revoke", "revoked", roles=ISSUERS),
], final=("revoked",))
# Who revokes on the platform's own account: a move-out, a permit's end, a pass's expiry.
PLATFORM = "access"

LONGEST_PASS_DAYS = policy.define("access.longest_pass_days", 3650,
                                  "The longest window a pass may have, in days.")


def new_credential() -> str:
    """A QR pass's credential: the token id its offline token carries (16 hex digits)."""
    return secrets.token_hex(8)


def issue(session: Session, *, organization_id: str, site_id: str, kind: str, holder_name: str,
          credential: str | None, credential_kind: str, valid_from: datetime, valid_until: datetime,
          door_ids: list[str], zone_ids: list[str], max_uses: int, source: str, actor: str,
          person_id: str | None = None, unit_id: str | None = None, source_id: str | None = None,
          host_person_id: str | None = None, schedule: dict | None = None, reason: str = "") -> Pass:
    """A new live pass, announced to every registered system. `schedule`: services.access.passes.schedule."""
    valid_from, valid_until = _checked_window(session, organization_id, site_id, valid_from, valid_until)
    door_ids, zone_ids = _checked_scope(session, organization_id, site_id, door_ids, zone_ids)
    if max_uses < 0:
        raise unprocessable("max_uses", "The number of uses cannot be negative.")
    credential = credential or new_credential()
    _refuse_credential_in_use(session, organization_id, credential_kind, credential)
    pass_ = Pass(organization_id=organization_id, site_id=site_id, kind=kind, person_id=person_id,
                 holder_name=holder_name, unit_id=unit_id, credential=credential, credential_kind=credential_kind,
                 valid_from=valid_from, valid_until=valid_until, door_ids=door_ids, zone_ids=zone_ids,
                 max_uses=max_uses, uses=0, state=LIVE, source=source, source_id=source_id, issued_by=actor,
                 host_person_id=host_person_id, schedule=schedule, version=changes.bump(session, organization_id))
    session.add(pass_)
    session.flush()
    audit.record_for(session, chassis.audit_log, pass_, entity="pass", action="issue", actor=actor,
                     to_state=LIVE, reason=reason, data={
                         "kind": kind, "credential_kind": credential_kind, "valid_from": valid_from.isoformat(),
                         "valid_until": valid_until.isoformat(), "door_ids": door_ids, "zone_ids": zone_ids,
                         "max_uses": max_uses, "source": source, "source_id": source_id, "schedule": schedule})
    _announce(session, pass_)
    return pass_


def reschedule(session: Session, pass_: Pass, schedule: dict, *, reason: str) -> Pass:
    """A live pass's schedule changed on the platform's account (an approved overtime), audited; the decision
    API's caches take it with the change number."""
    before = pass_.schedule
    pass_.schedule = schedule
    pass_.version = changes.bump(session, pass_.organization_id)
    pass_.updated_at = utcnow()
    audit.record_for(session, chassis.audit_log, pass_, entity="pass", action="reschedule", actor=PLATFORM,
                     from_state=LIVE, to_state=LIVE, reason=reason, data={"before": before, "after": schedule})
    return pass_


def change(session: Session, pass_: Pass, *, actor: str, roles, valid_from: datetime | None = None,
           valid_until: datetime | None = None, door_ids: list[str] | None = None,
           zone_ids: list[str] | None = None, max_uses: int | None = None, reason: str = "") -> Pass:
    """A live pass's window, scope or use limit changed, and announced again."""
    PASS.step(pass_.state, "change", roles)
    before = {"valid_from": aware(pass_.valid_from).isoformat(), "valid_until": aware(pass_.valid_until).isoformat(),
              "door_ids": list(pass_.door_ids), "zone_ids": list(pass_.zone_ids), "max_uses": pass_.max_uses}
    pass_.valid_from, pass_.valid_until = _checked_window(
        session, pass_.organization_id, pass_.site_id, valid_from or aware(pass_.valid_from),
        valid_until or aware(pass_.valid_until))
    pass_.door_ids, pass_.zone_ids = _checked_scope(
        session, pass_.organization_id, pass_.site_id,
        pass_.door_ids if door_ids is None else door_ids, pass_.zone_ids if zone_ids is None else zone_ids)
    if max_uses is not None:
        if max_uses < 0:
            raise unprocessable("max_uses", "The number of uses cannot be negative.")
        pass_.max_uses = max_uses
    pass_.version = changes.bump(session, pass_.organization_id)
    pass_.updated_at = utcnow()
    audit.record_for(session, chassis.audit_log, pass_, entity="pass", action="change", actor=actor,
                     from_state=LIVE, to_state=LIVE, reason=reason, data={"before": before})
    _announce(session, pass_)
    return pass_


def revoke(session: Session, pass_: Pass, *, reason_code: str, actor: str, roles=None, reason: str = "") -> bool:
    """The pass opens nothing from now on, anywhere. A pass revoked already stays as it was: answers whether
    this revoked it. `roles=None`: the platform revokes on its own account."""
    if pass_.state != LIVE and roles is None:
        return False
    step = PASS.step(pass_.state, "revoke", roles)
    pass_.state = step.target
    pass_.revoked_at = pass_.updated_at = utcnow()
    pass_.revocation_reason = reason_code
    pass_.version = changes.bump(session, pass_.organization_id)
    audit.record_for(session, chassis.audit_log, pass_, entity="pass", action="revoke", actor=actor,
                     from_state=step.source, to_state=step.target, reason=reason, data={"reason_code": reason_code})
    outbox.record(session, chassis.outbox, events.revoked(pass_), organization_id=pass_.organization_id)
    return True


def revoke_all(session: Session, organization_id: str, condition, *, reason_code: str, reason: str) -> int:
    """Revoke every live pass of the organization matching the condition; answers how many."""
    held = session.scalars(select(Pass).where(Pass.organization_id == organization_id, Pass.state == LIVE, condition)
                           .order_by(Pass.id).with_for_update()).all()
    return sum(revoke(session, p, reason_code=reason_code, actor=PLATFORM, reason=reason) for p in held)


def utc(moment: datetime) -> datetime:
    return aware(moment).astimezone(timezone.utc)


def door_ids_of(session: Session, pass_: Pass) -> list[str]:
    return doors_of(session, pass_.organization_id, pass_.site_id, pass_.door_ids, pass_.zone_ids)


def _announce(session: Session, pass_: Pass) -> None:
    outbox.record(session, chassis.outbox, events.issued(pass_, door_ids_of(session, pass_)),
                  organization_id=pass_.organization_id)


def _checked_window(session: Session, organization_id: str, site_id: str, valid_from: datetime,
                    valid_until: datetime) -> tuple[datetime, datetime]:
    valid_from, valid_until = utc(valid_from), utc(valid_until)
    if valid_until <= valid_from:
        raise unprocessable("valid_until", "A pass must end after it starts.")
    if valid_until <= utcnow():
        raise unprocessable("valid_until", "The pass would have ended already.")
    longest = int(policy.value(session, chassis, organization_id, site_id, LONGEST_PASS_DAYS))
    if (valid_until - valid_from).days > longest:
        raise unprocessable("valid_until", f"A pass may last at most {longest} days.")
    return valid_from, valid_until


def _checked_scope(session: Session, organization_id: str, site_id: str, door_ids: list[str],
                   zone_ids: list[str]) -> tuple[list[str], list[str]]:
    if not door_ids and not zone_ids:
        raise unprocessable("door_ids", "A pass must name at least one door or zone.")
    return (checked_doors(session, organization_id, site_id, door_ids),
            checked_zones(session, organization_id, site_id, zone_ids))


def _refuse_credential_in_use(session: Session, organization_id: str, credential_kind: str, credential: str) -> None:
    held = session.scalar(select(Pass.id).where(Pass.organization_id == organization_id, Pass.state == LIVE,
                                                Pass.credential_kind == credential_kind,
                                                Pass.credential == credential))
    if held:
        raise Problem(409, "Conflict", "A live pass holds this credential already; revoke it first.",
                      field="credential")


def expire_due(sessions: sessionmaker, batch: int = 500) -> int:
    """Revoke live passes whose window has ended (a contractor's: its permit ended), so every registered
    system drops them too; answers how many. The decision API refuses them from their end already (`expired`); this tidies the systems' lists.
    SKIP LOCKED: workers running it at once never revoke one pass twice."""
    with sessions() as session, session.begin():
        due = session.scalars(select(Pass).where(Pass.state == LIVE, Pass.valid_until <= utcnow())
                              .order_by(Pass.valid_until).limit(batch).with_for_update(skip_locked=True)).all()
        return sum(revoke(session, p, reason_code="permit_ended" if p.source == "decoration" else "expired",
                          actor=PLATFORM, reason="The pass's window ended.") for p in due)
