"""Transactional outbox: events are rows written with the change, published later by the relay.

A write never needs the broker: the event is committed with the data or not at all. The relay publishes
pending rows in id order with confirms and marks them published; rows it could not publish get a growing
delay. A relay that crashes between publishing and marking leaves rows pending, so they are sent again and
the consumers' inboxes drop the duplicates.

On PostgreSQL a transaction that records events also sends NOTIFY on commit, and an idle relay LISTENs, so
it starts publishing at once instead of at its next poll; the poll stays as the fallback (and is all that
SQLite has).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from google.protobuf.message import Message
from sqlalchemy import Engine, Table, bindparam, delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from shared import bulk, db, metrics, tracing
from shared.bus.connection import keep_alive
from shared.bus.envelope import exchange_name, new_envelope, timestamp
from shared.bus.publisher import UNROUTABLE, Outgoing, Publisher

log = logging.getLogger(__name__)

PUBLISHED_AT_HEADER = "x-published-at"
NOTIFY_CHANNEL = "psp_outbox"
STOP_CHECK_SECONDS = 0.5
_NOTIFY = "psp.outbox.notify"
MAX_BACKOFF_SECONDS = 300


def record(session: Session, outbox: Table, payload: Message, *, organization_id: str) -> str:
    """Write the event in the session's transaction; returns its id."""
    return record_many(session, outbox, [payload], organization_id=organization_id)[0]


def record_many(session: Session, outbox: Table, payloads: Sequence[Message], *, organization_id: str) -> list[str]:
    """Write the events, in order, in one statement of the session's transaction; returns their ids.

    The rows go in at once (after the session's pending changes), so a savepoint rolled back later takes
    them with it.
    """
    correlation_id, trace_headers, now = tracing.correlation_id(), tracing.current_trace_headers(), _now()
    occurred_at = timestamp(now)
    envelopes = [new_envelope(p, organization_id=organization_id, correlation_id=correlation_id,
                              occurred_at=occurred_at) for p in payloads]
    bulk.insert(session, outbox, [
        {"event_id": e.id, "event_type": e.type, "envelope": e.SerializeToString(), "trace_headers": trace_headers,
         "created_at": now, "attempts": 0}
        for e in envelopes
    ])
    session.info[_NOTIFY] = True
    return [e.id for e in envelopes]


@event.listens_for(Session, "before_commit")
def _notify_relay(session: Session) -> None:
    """Wake the relay when this commit lands (PostgreSQL delivers a NOTIFY only if the transaction commits)."""
    if session.info.pop(_NOTIFY, False) and session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Relay:
    """Publishes the outbox. Its statements are plain Core ones, so it works on connections, not sessions."""

    def __init__(self, service: str, engine: Engine, outbox: Table, batch_size: int):
        self.service = service
        self.engine = engine
        self.outbox = outbox
        self.batch_size = batch_size
        self.exchange = exchange_name(service)
        # Built once: constructing a statement costs more than running it on a small batch.
        self._due = (
            select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.envelope, outbox.c.trace_headers,
                   outbox.c.attempts)
            .where(outbox.c.published_at.is_(None))
            .where(or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= bindparam("now")))
            .order_by(outbox.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark_published = (
            update(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True))).values(published_at=bindparam("at"))
        )

    def publish_pending(self, publisher: Publisher) -> int:
        """Publish one batch of due rows; returns how many were taken."""
        now = _now()
        with self.engine.begin() as connection:
            rows = connection.execute(self._due, {"now": now}).all()
            if not rows:
                return 0
            outcome = publisher.publish([self._outgoing(row) for row in rows])
            # An event no service subscribes to (yet) is done with: every subscriber's queue is bound by
            # `migrate` before its release serves, so no queue that wants it can be missing.
            unrouted = [row for row in rows if (outcome[row.event_id] or "").startswith(UNROUTABLE)]
            published = [row for row in rows if outcome[row.event_id] is None] + unrouted
            if published:
                connection.execute(self._mark_published, {"ids": [row.id for row in published], "at": _now()})
            for event_type, count in Counter(row.event_type for row in published).items():
                metrics.BUS_EVENTS_PUBLISHED.labels(self.service, event_type).inc(count)
            for event_type, count in Counter(row.event_type for row in unrouted).items():
                metrics.BUS_EVENTS_UNROUTED.labels(self.service, event_type).inc(count)
            for row in rows:
                error = outcome[row.event_id]
                if error is None or error.startswith(UNROUTABLE):
                    continue
                log.error("event not published", extra={"event_id": row.event_id, "reason": error})
                delay = min(MAX_BACKOFF_SECONDS, 2 ** row.attempts)
                connection.execute(
                    update(self.outbox).where(self.outbox.c.id == row.id).values(
                        attempts=row.attempts + 1, last_error=error, next_attempt_at=now + timedelta(seconds=delay)
                    )
                )
        return len(rows)

    def _outgoing(self, row) -> Outgoing:
        headers = tracing.publish_headers(row.trace_headers, f"{row.event_type} publish", {
            "messaging.system": "rabbitmq", "messaging.destination.name": self.exchange,
            "messaging.message.id": row.event_id,
        })
        headers[PUBLISHED_AT_HEADER] = repr(time.time())
        return Outgoing(row.event_id, self.exchange, row.event_type, row.envelope, headers)

    def observe_backlog(self) -> None:
        with self.engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(self.outbox.c.created_at)).where(self.outbox.c.published_at.is_(None))
            ).one()
        metrics.BUS_OUTBOX_PENDING.labels(self.service).set(count)
        age = (_now() - db.aware(oldest)).total_seconds() if oldest else 0.0
        metrics.BUS_OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

    def prune(self, retention: timedelta) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(self.outbox).where(self.outbox.c.published_at < _now() - retention)
            )
        return result.rowcount


class Wakeup:
    """How an idle relay waits: for a writer's NOTIFY on PostgreSQL, at most `poll_seconds` anywhere."""

    def __init__(self, engine: Engine, poll_seconds: float, stop):
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.stop = stop
        self.listening = None  # a pooled connection kept in autocommit with LISTEN issued

    def wait(self) -> None:
        if self.engine.dialect.name != "postgresql":
            self.stop.wait(self.poll_seconds)
            return
        try:
            if self.listening is None:
                self._listen()
                return  # a commit just before the LISTEN notified no one: the caller looks once more first
            connection = self.listening.driver_connection
            deadline = time.monotonic() + self.poll_seconds
            while not self.stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
                # In slices, so a stopping worker is not held for a whole long poll.
                if any(True for _ in connection.notifies(timeout=min(remaining, STOP_CHECK_SECONDS), stop_after=1)):
                    break
            for _ in connection.notifies(timeout=0):  # the others that came meanwhile: one look serves all
                pass
        except Exception:  # noqa: BLE001 - the database went away; poll until it is back
            log.warning("outbox relay cannot listen for notifications; polling", exc_info=True)
            self.close()
            self.stop.wait(self.poll_seconds)

    def _listen(self) -> None:
        self.listening = self.engine.raw_connection()
        driver = self.listening.driver_connection
        driver.autocommit = True
        driver.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def close(self) -> None:
        if self.listening is not None:
            self.listening.invalidate()
            self.listening = None


def run_relay(relay: Relay, connect, wakeup: Wakeup, stop) -> None:
    """Publish until `stop` is set, reconnecting with a growing delay when the broker goes away."""
    backoff = 0.5
    try:
        while not stop.is_set():
            try:
                with connect() as connection:
                    publisher = Publisher(connection)
                    backoff = 0.5
                    while not stop.is_set():
                        taken = relay.publish_pending(publisher)
                        if taken == 0:
                            # Publishing and its confirms are traffic enough; only an idle relay must
                            # still hear and answer the broker's heartbeats.
                            keep_alive(connection)
                        # A short batch took all that was due; later commits have notified (or the poll
                        # will find them), so there is nothing to look for until then.
                        if taken < relay.batch_size:
                            wakeup.wait()
            except Exception:  # noqa: BLE001 - any failure: log, wait, reconnect
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        wakeup.close()
