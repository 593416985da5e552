"""Registered access-control systems (ACC-5, ACC-6): registration, door mapping, and what each system must
hold after every grant and revocation.

Each (system, credential) pair has one sync row holding the latest change; the push job (`sync.py`) takes
it to the system. A grant goes to the systems that have at least one of the pass's doors mapped; a
revocation goes to every system of the organization, whether it was told of the grant or not, so a card
enrolled by hand or by an older platform stops opening doors too.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone

from psp.access.v1.passes_pb2 import PassIssued, PassRevoked
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.access.models import chassis
from services.access.passes import events as passes_events
from services.access.passes.rules import door_ids_of
from services.access.passes.tables import LIVE, Pass
from services.access.systems.tables import AccessSystem, SyncState, SystemDoor
from shared import audit, bulk, policy
from shared.problems import Problem, unprocessable

ADAPTERS = ("webhook", "hikvision")
STATES = ("active", "disabled")
SYNC_STATES = ("pending", "sent", "acknowledged", "failed")
ENTITY = "access_system"

RETRY_BASE = policy.define("access.sync.retry_base_seconds", 1,
                           "Seconds before the first retry of a change a system did not take; doubled each time.")
RETRY_MAX = policy.define("access.sync.retry_max_seconds", 300,
                          "The longest wait between two attempts to push a change to a system.")
ACK_TIMEOUT = policy.define("access.sync.ack_timeout_seconds", 60,
                            "Seconds a system that accepted a change for later (202) has to acknowledge it "
                            "before the change is sent again.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: 32 random bytes, base64, with the `whsec_` prefix receivers expect."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def register(session: Session, *, organization_id: str, site_id: str, name: str, adapter: str, base_url: str,
             username: str, password: str, time_zone: str, doors: list[dict], actor: str) -> tuple[AccessSystem, str]:
    """A new system with its door mapping; answers it and the secret to give its installer (shown only now)."""
    if adapter == "hikvision" and not (username and password):
        raise unprocessable("password", "A Hikvision device needs the account (username and password) the "
                                        "platform signs in with.")
    secret = new_webhook_secret() if adapter == "webhook" else password
    now = _now()
    # A device's address gets ISAPI paths appended; a webhook URL is used as given.
    base_url = base_url.rstrip("/") if adapter == "hikvision" else base_url
    system = AccessSystem(id=str(uuid.uuid4()), organization_id=organization_id, site_id=site_id, name=name,
                          adapter=adapter, base_url=base_url, secret=secret, username=username,
                          time_zone=time_zone, state="active", disabled_reason="", last_event_serial=0,
                          created_by=actor, created_at=now, updated_at=now)
    session.add(system)
    session.flush()
    _replace_doors(session, system, doors)
    granted = grant_live_passes(session, system)
    audit.record_for(session, chassis.audit_log, system, entity=ENTITY, action="register", actor=actor,
                     to_state="active", data={"adapter": adapter, "doors": len(doors), "passes": granted})
    return system, (secret if adapter == "webhook" else "")


def map_doors(session: Session, system: AccessSystem, doors: list[dict], *, actor: str) -> int:
    """Replace the system's door mapping and push everything again, since what each pass opens there may
    have changed. Answers how many changes were queued."""
    before = len(doors_of(session, system.id))
    _replace_doors(session, system, doors)
    audit.record_for(session, chassis.audit_log, system, entity=ENTITY, action="map_doors", actor=actor,
                     data={"doors_before": before, "doors": len(doors)})
    return resync(session, system, actor=actor, reason="door mapping changed")


def _replace_doors(session: Session, system: AccessSystem, doors: list[dict]) -> None:
    _refuse_duplicates(doors, "door_id")
    _refuse_duplicates(doors, "system_door_id")
    session.query(SystemDoor).filter(SystemDoor.system_id == system.id).delete()
    session.add_all(SystemDoor(system_id=system.id, door_id=door["door_id"], system_door_id=door["system_door_id"])
                    for door in doors)
    session.flush()


def _refuse_duplicates(doors: list[dict], key: str) -> None:
    seen = set()
    for index, door in enumerate(doors):
        if door[key] in seen:
            raise unprocessable(f"doors.{index}.{key}", f"{door[key]} is mapped twice.")
        seen.add(door[key])


def doors_of(session: Session, system_id: str) -> dict[str, str]:
    """{platform door id: the system's door id}."""
    return doors_by_system(session, [system_id])[system_id]


def doors_by_system(session: Session, system_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each system's {platform door id: the system's door id}, in one query."""
    mapping: dict[str, dict[str, str]] = {system_id: {} for system_id in system_ids}
    for system_id, door_id, number in session.execute(
            select(SystemDoor.system_id, SystemDoor.door_id, SystemDoor.system_door_id)
            .where(SystemDoor.system_id.in_(mapping))):
        mapping[system_id][door_id] = number
    return mapping


def resync(session: Session, system: AccessSystem, *, actor: str, reason: str = "") -> int:
    """Queue every credential the system should know about again, as a new change (a system that lost its
    memory, or was offline too long, gets the whole state), with the passes in force it has not been told of.
    Answers how many."""
    grant_live_passes(session, system)
    rows = session.scalars(select(SyncState.id).where(SyncState.system_id == system.id)).all()
    now = _now()
    for row_id in rows:
        session.execute(update(SyncState).where(SyncState.id == row_id).values(
            change_id=str(uuid.uuid4()), state="pending", reason="resync", attempts=0, next_attempt_at=now,
            sent_at=None, acknowledged_at=None, updated_at=now))
    audit.record_for(session, chassis.audit_log, system, entity=ENTITY, action="resync", actor=actor, reason=reason,
                     data={"queued": len(rows)})
    return len(rows)


def set_state(session: Session, system: AccessSystem, state: str, *, actor: str, reason: str) -> None:
    """Disable a system (nothing is pushed to it) or enable it again (everything is pushed again)."""
    if system.state == state:
        raise Problem(409, "Conflict", f"The system is {state} already.", extra={"state": system.state})
    before, system.state = system.state, state
    system.disabled_reason = reason if state == "disabled" else ""
    system.updated_at = _now()
    audit.record_for(session, chassis.audit_log, system, entity=ENTITY,
                     action="disable" if state == "disabled" else "enable",
                     actor=actor, from_state=before, to_state=state, reason=reason)
    if state == "active":
        resync(session, system, actor=actor, reason="enabled")


# -- changes from passes ------------------------------------------------------------------------------------

def grant_of(issued: PassIssued, changed_at: datetime) -> dict:
    return {"action": "grant", "pass_id": issued.pass_id, "site_id": issued.site_id,
            "credential": issued.credential, "changed_at": changed_at,
            "grant": {"kind": issued.kind, "person_id": issued.person_id, "holder_name": issued.holder_name,
                      "credential_kind": issued.credential_kind,
                      "valid_from": issued.valid_from.ToDatetime(tzinfo=timezone.utc).isoformat(),
                      "valid_until": issued.valid_until.ToDatetime(tzinfo=timezone.utc).isoformat(),
                      "door_ids": list(issued.door_ids), "max_uses": issued.max_uses}}


def revocation_of(revoked: PassRevoked, changed_at: datetime) -> dict:
    return {"action": "revoke", "pass_id": revoked.pass_id, "site_id": revoked.site_id,
            "credential": revoked.credential, "changed_at": changed_at,
            "grant": {"credential_kind": revoked.credential_kind, "reason": revoked.reason, "door_ids": []}}


def grant_live_passes(session: Session, system: AccessSystem) -> int:
    """The passes in force at the system's site that open one of its doors, as grants to it alone: what a
    system newly registered, or newly mapped, must hold from the start."""
    now = _now()
    live = session.scalars(select(Pass).where(Pass.organization_id == system.organization_id,
                                              Pass.site_id == system.site_id, Pass.state == LIVE,
                                              Pass.valid_until > now)).all()
    return record_changes(session, system.organization_id,
                          [grant_of(passes_events.issued(pass_, door_ids_of(session, pass_)), now) for pass_ in live],
                          only=system)

def record_changes(session: Session, organization_id: str, changes: Iterable[dict],
                   only: AccessSystem | None = None) -> int:
    """Sync rows for passes issued or revoked, one per (system, credential) concerned, each the latest
    change of its credential. A change older than the one a row holds (an event redelivered late) is
    dropped. Answers how many rows were queued.

    A change is {"action", "pass_id", "site_id", "credential", "changed_at", "grant": {…, "door_ids"}}; `only`
    limits it to one system.
    """
    systems = [only] if only else session.scalars(
        select(AccessSystem).where(AccessSystem.organization_id == organization_id)).all()
    if not systems:
        return 0
    mapped = {system_id: set(doors) for system_id, doors in doors_by_system(session, [s.id for s in systems]).items()}
    changes = list(changes)
    held = {(row.system_id, row.credential): row for row in session.execute(
        select(SyncState.id, SyncState.system_id, SyncState.credential, SyncState.changed_at, SyncState.action)
        .where(SyncState.system_id.in_(mapped), SyncState.credential.in_({c["credential"] for c in changes})))}
    latest: dict[tuple[str, str], dict] = {}
    for change in changes:
        for system in systems:
            key = (system.id, change["credential"])
            if change["action"] == "revoke" or mapped[system.id].intersection(change["grant"]["door_ids"]):
                latest[key] = _row(system, change)
            elif key in held and held[key].action == "grant":
                # The pass no longer opens any door of this system: what it was granted there goes.
                latest[key] = _row(system, {**change, "action": "revoke"})
    rows = []
    for key, row in latest.items():
        if key in held:
            if utc(held[key].changed_at) > row["changed_at"]:
                continue
            row["id"] = held[key].id  # the row keeps its id across changes
        rows.append(row)
    rows += _revocations_of_replaced_credentials(session, latest)
    bulk.insert(session, SyncState.__table__, rows, update_on=("system_id", "credential"))
    return len(rows)


def _revocations_of_replaced_credentials(session: Session, latest: dict[tuple[str, str], dict]) -> list[dict]:
    """A pass issued again with another card: the old card must stop opening doors on every system."""
    granted = {(row["system_id"], row["pass_id"]): row for row in latest.values() if row["action"] == "grant"}
    if not granted:
        return []
    old = session.execute(select(SyncState).where(
        SyncState.pass_id.in_({key[1] for key in granted}), SyncState.action == "grant")).scalars().all()
    revocations = []
    for row in old:
        new = granted.get((row.system_id, row.pass_id))
        if new and new["credential"] != row.credential and (row.system_id, row.credential) not in latest:
            revocations.append({**new, "id": row.id, "change_id": str(uuid.uuid4()), "credential": row.credential,
                                "action": "revoke", "grant": row.grant})
    return revocations


def _row(system: AccessSystem, change: dict) -> dict:
    now = _now()
    return {"id": str(uuid.uuid4()), "organization_id": system.organization_id, "site_id": change["site_id"],
            "system_id": system.id, "credential": change["credential"], "pass_id": change["pass_id"],
            "action": change["action"], "grant": change["grant"], "change_id": str(uuid.uuid4()),
            "changed_at": change["changed_at"], "state": "pending", "reason": "", "attempts": 0,
            "next_attempt_at": now, "sent_at": None, "acknowledged_at": None, "updated_at": now}


def utc(instant: datetime) -> datetime:
    """SQLite gives back naive UTC times."""
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)
