"""The push job: every due change to the system it is for, through the system's adapter; and the poll of
Hikvision devices for their access events.

Due rows are found through the index on `next_attempt_at` and locked with SKIP LOCKED in the transaction
that records the outcome, so two workers never push the same change at once, and a worker that dies
mid-push leaves the change due for the next run. The changes of a batch are pushed side by side (a batch
holds one per system and credential, so none overtakes another of its own credential). An outcome is recorded only if the row still holds the change that was pushed: a newer change that
arrived meanwhile stays due.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import bindparam, event, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from services.access.models import chassis
from services.access.systems import entries, hikvision, rules, webhook
from services.access.systems.outcome import ACKNOWLEDGED, GONE, REFUSED, RETRY, SENT, THROTTLED, Outcome
from services.access.systems.tables import AccessSystem, SyncState
from shared import bulk, policy
from shared.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)
# Every push is in the audit trail; httpx's line per request would repeat it hundreds of times a second.
logging.getLogger("httpx").setLevel(logging.WARNING)

SERVICE = "access"
ACTOR = "access-sync"
BATCH = 200
HTTP_TIMEOUT_SECONDS = 5
PUSHERS = 32
# The push job's wait for a change committed elsewhere (another worker's consumer); in this process a
# commit wakes it at once.
IDLE_WAIT_SECONDS = 0.1
CHANGES_COMMITTED = threading.Event()
_WAKE = "psp.access.sync.wake"
ADAPTERS = {"webhook": webhook.push, "hikvision": hikvision.push}

SYNC_PUSHES = Counter("access_sync_pushes_total", "Changes pushed to door systems, by adapter and outcome.",
                      ["service", "adapter", "outcome"])
SYNC_BACKLOG = Gauge("access_sync_backlog", "Changes a door system has not acknowledged yet.",
                     ["service", "system"], multiprocess_mode="max")
SYNC_OLDEST = Gauge("access_sync_oldest_unacknowledged_seconds",
                    "Age of the oldest change a door system has not acknowledged, 0 when none.",
                    ["service", "system"], multiprocess_mode="max")
REVOCATION_PROPAGATION = Histogram("access_revocation_propagation_seconds",
                                   "Seconds from a pass's revocation to a door system's acknowledgement.",
                                   ["service", "adapter"], buckets=LATENCY_BUCKETS)
# Series from the start, so a first burst shows in rate().
for _adapter in ADAPTERS:
    REVOCATION_PROPAGATION.labels(SERVICE, _adapter)
    for _outcome in (ACKNOWLEDGED, SENT, RETRY, REFUSED, THROTTLED, GONE):
        SYNC_PUSHES.labels(SERVICE, _adapter, _outcome)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@functools.cache
def _client() -> httpx.Client:
    """One client per process, shared by the pushing threads: a client is costly to build (its TLS context)
    and keeps connections to the systems open between runs."""
    return httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, limits=httpx.Limits(max_connections=PUSHERS * 2))


def push_due(sessions: sessionmaker) -> int:
    """Push every change due now, a batch per transaction, then wait until a change is committed in this
    process (or IDLE_WAIT_SECONDS pass, for changes committed by another); answers how many were pushed."""
    pushed = 0
    while True:
        CHANGES_COMMITTED.clear()
        with sessions() as session, session.begin():
            count = push_batch(session)
        pushed += count
        if count < BATCH:
            break
    CHANGES_COMMITTED.wait(IDLE_WAIT_SECONDS)
    return pushed


def wake_pusher_on_commit(session: Session) -> None:
    """Have this process's push job start at once when the session's changes commit."""
    session.info[_WAKE] = True


@event.listens_for(Session, "after_commit")
def _wake_pusher(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        CHANGES_COMMITTED.set()


def push_batch(session: Session, limit: int = BATCH) -> int:
    now = _now()
    if session.get_bind().dialect.name == "postgresql":
        # What this transaction records is the systems' answers: lost in a crash, the changes are pushed
        # again and the systems know their webhook ids. So it need not wait for the disk.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    due = session.execute(
        select(SyncState, AccessSystem).join(AccessSystem, AccessSystem.id == SyncState.system_id)
        .where(SyncState.next_attempt_at <= now, AccessSystem.state == "active")
        .order_by(SyncState.next_attempt_at).limit(limit).with_for_update(of=SyncState, skip_locked=True)).all()
    if not due:
        return 0
    for row, _ in due:
        session.expunge(row)  # written only by the guarded UPDATE in `_record`
    systems = {system.id: system for _, system in due}
    doors = rules.doors_by_system(session, systems)
    halted: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=min(PUSHERS, len(due))) as pool:
        answers = list(pool.map(lambda row: _push_unless_halted(systems[row.system_id], row, doors, halted),
                                [row for row, _ in due]))
    _record(session, systems, [(row, outcome) for (row, _), outcome in zip(due, answers) if outcome], _now())
    return len(due)


def _push_unless_halted(system: AccessSystem, row: SyncState, doors: dict[str, dict[str, str]],
                        halted: dict[str, Outcome]) -> Outcome | None:
    """A batch holds one change per (system, credential), so a system's changes may go side by side. Once a
    system asked to wait (429), its changes not sent yet wait as long; once it is gone (410), they stay."""
    stop = halted.get(system.id)
    if stop is not None:
        return stop if stop.result == THROTTLED else None
    outcome = _push_one(_client(), system, row, doors[system.id])
    if outcome.result in (THROTTLED, GONE):
        halted.setdefault(system.id, outcome)
    return outcome


def _push_one(client: httpx.Client, system: AccessSystem, row: SyncState, doors: dict[str, str]) -> Outcome:
    """A grant carries the system's own numbers of the pass's mapped doors; one with none left (the mapping
    changed) is pushed as a revocation, since the system must then hold nothing for it."""
    system_doors = sorted(doors[door] for door in row.grant.get("door_ids", []) if door in doors)
    if row.action == "grant" and not system_doors:
        row.action = "revoke"
    try:
        outcome = ADAPTERS[system.adapter](client, system, row, system_doors)
    except Exception as exc:  # noqa: BLE001 - one bad change must not stop the others; it is retried
        log.exception("push to system %s failed", system.id)
        outcome = Outcome(RETRY, f"error: {exc.__class__.__name__}")
    SYNC_PUSHES.labels(SERVICE, system.adapter, outcome.result).inc()
    return outcome


def _record(session: Session, systems: dict[str, AccessSystem], outcomes: list[tuple[SyncState, Outcome]],
            now: datetime) -> None:
    """Each row's new state in one statement, audited; a 410 disables its system. A row that took a newer
    change meanwhile keeps it (the change id guards the update); the audit still tells what was pushed."""
    settings: dict[tuple[str, str], tuple[float, float, float]] = {}
    changes, audit_rows = [], []
    for row, outcome in outcomes:
        key = (row.organization_id, row.site_id)
        if key not in settings:
            settings[key] = tuple(float(policy.value(session, chassis, *key, setting))
                                  for setting in (rules.RETRY_BASE, rules.RETRY_MAX, rules.ACK_TIMEOUT))
        change = _changes(row, outcome, now, *settings[key])
        changes.append({**change, "pushed_id": row.id, "pushed_change": row.change_id})
        system = systems[row.system_id]
        if outcome.result == ACKNOWLEDGED and row.action == "revoke":
            REVOCATION_PROPAGATION.labels(SERVICE, system.adapter).observe(
                (now - rules.utc(row.changed_at)).total_seconds())
        audit_rows.append({"organization_id": row.organization_id, "site_id": row.site_id, "entity": "access_sync",
                           "entity_id": row.id, "action": "push", "from_state": row.state,
                           "to_state": change["state"], "actor": ACTOR, "reason": change["reason"][:300],
                           "data": {"system_id": row.system_id, "change_id": row.change_id, "action": row.action,
                                    "attempt": change["attempts"]}, "at": now})
        if outcome.result == GONE and system.state == "active":
            rules.set_state(session, system, "disabled", actor=ACTOR, reason=outcome.reason)
    table = SyncState.__table__
    session.execute(update(table).where(table.c.id == bindparam("pushed_id"),
                                        table.c.change_id == bindparam("pushed_change")), changes)
    bulk.insert(session, chassis.audit_log, audit_rows)


def _changes(row: SyncState, outcome: Outcome, now: datetime, base: float, longest: float, ack_timeout: float) -> dict:
    """The row's columns after this outcome (all of them, so one statement writes a batch)."""
    attempts = row.attempts + 1
    change = {"action": row.action, "state": "failed", "reason": outcome.reason, "attempts": attempts,
              "sent_at": row.sent_at, "acknowledged_at": row.acknowledged_at, "next_attempt_at": None,
              "updated_at": now}
    if outcome.result == ACKNOWLEDGED:
        change.update(state="acknowledged", sent_at=now, acknowledged_at=now)
    elif outcome.result == SENT:
        change.update(state="sent", sent_at=now, next_attempt_at=now + timedelta(seconds=ack_timeout))
    elif outcome.result == THROTTLED:
        change.update(state="pending", attempts=row.attempts, next_attempt_at=outcome.retry_at)
    elif outcome.result == RETRY:
        change.update(next_attempt_at=now + timedelta(seconds=backoff(attempts, base, longest)))
    return change


def backoff(attempts: int, base: float, longest: float) -> float:
    """Exponential with full jitter (half fixed, half random), so many failed changes do not retry in step."""
    ceiling = min(longest, base * 2 ** min(attempts - 1, 30))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def acknowledge(session: Session, system: AccessSystem, change_ids: list[str]) -> int:
    """A system's late acknowledgement of changes it accepted (202); answers how many it settled."""
    now, table = _now(), SyncState.__table__
    rows = session.execute(update(table).where(table.c.system_id == system.id, table.c.change_id.in_(change_ids),
                                               table.c.state == "sent")
                           .values(state="acknowledged", acknowledged_at=now, next_attempt_at=None, reason="",
                                   updated_at=now)
                           .returning(table.c.id, table.c.organization_id, table.c.site_id, table.c.action,
                                      table.c.changed_at, table.c.change_id)).all()
    for row in rows:
        if row.action == "revoke":
            REVOCATION_PROPAGATION.labels(SERVICE, system.adapter).observe(
                (now - rules.utc(row.changed_at)).total_seconds())
    bulk.insert(session, chassis.audit_log, [
        {"organization_id": row.organization_id, "site_id": row.site_id, "entity": "access_sync", "entity_id": row.id,
         "action": "acknowledge", "from_state": "sent", "to_state": "acknowledged", "actor": f"system:{system.id}",
         "reason": "", "data": {"change_id": row.change_id}, "at": now} for row in rows])
    return len(rows)


# -- reading Hikvision devices' events ------------------------------------------------------------------------

def poll_devices(sessions: sessionmaker) -> int:
    """Read every active Hikvision device's new access events; answers how many were kept. Each device is
    locked while read, so two workers never read one at once."""
    with sessions() as session:
        ids = session.scalars(select(AccessSystem.id).where(AccessSystem.adapter == "hikvision",
                                                            AccessSystem.state == "active")).all()
    kept = 0
    for system_id in ids:
        with sessions() as session, session.begin():
            system = session.scalar(select(AccessSystem).where(AccessSystem.id == system_id)
                                    .with_for_update(skip_locked=True))
            if system is not None:
                kept += _read(session, _client(), system)
    return kept


def _read(session: Session, client: httpx.Client, system: AccessSystem) -> int:
    try:
        reported = hikvision.events_after(client, system, system.last_event_serial)
    except hikvision.DeviceError as exc:
        log.warning("events of system %s not read: %s", system.id, exc.reason)
        return 0
    kept = 0
    for entry in reported:
        try:
            kept += entries.record(session, system, entry) is not None
        except entries.DoorNotMapped:
            entries.refuse(session, system, entry)
        system.last_event_serial = max(system.last_event_serial, entry["serial"])
    return kept


# -- metrics ----------------------------------------------------------------------------------------------

def observe_backlog(sessions: sessionmaker) -> None:
    """Per system: changes not acknowledged, and the age of the oldest (the alert's measure)."""
    now = _now()
    with sessions() as session:
        systems = session.scalars(select(AccessSystem.id)).all()
        waiting = {row.system_id: row for row in session.execute(
            select(SyncState.system_id, func.count().label("count"), func.min(SyncState.changed_at).label("oldest"))
            .where(SyncState.state != "acknowledged").group_by(SyncState.system_id))}
    for system_id in systems:
        row = waiting.get(system_id)
        SYNC_BACKLOG.labels(SERVICE, system_id).set(row.count if row else 0)
        SYNC_OLDEST.labels(SERVICE, system_id).set((now - rules.utc(row.oldest)).total_seconds() if row else 0)
