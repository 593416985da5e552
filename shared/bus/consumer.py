"""Idempotent consumers: the inbox row and the effect commit together, the ack comes after.

Deliveries are handled a batch at a time in one transaction: the inbox rows go in as one statement, and
consecutive events of one type reach their handler together when it takes batches. Only if a handler fails
is the batch redone with each message inside its own savepoint, so the failure does not undo its
neighbours. A message id already in the inbox (or earlier in the batch) is a duplicate and changes nothing.
A handler that raises sends its message to the next retry queue (published with a confirm before the
original is acked); after the last attempt it goes to the dead-letter queue. When the database itself is
unreachable the whole batch is returned to the queue untouched, and no attempt is spent.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.protobuf.message import DecodeError, Message
from kombu import Connection, Consumer, Queue
from opentelemetry import trace
from sqlalchemy import Table, delete
from sqlalchemy.orm import Session, sessionmaker

from shared import bulk, db, metrics, tracing
from shared.bus.connection import is_rabbitmq
from shared.bus.envelope import Envelope, Received, event_type_of, producer_of, unpack
from shared.bus.outbox import PUBLISHED_AT_HEADER
from shared.bus.publisher import Outgoing, Publisher
from shared.bus.topology import Subscription

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-attempt"
RETRY_AT_HEADER = "x-retry-at"
ERROR_HEADER = "x-last-error"

Handler = Callable[[Session, Received], None]
BatchHandler = Callable[[Session, list[Received]], None]


@dataclass(frozen=True)
class Route:
    message_cls: type[Message]
    handler: Handler | BatchHandler
    batched: bool


class Handlers:
    """A service's event handlers, registered by payload message type.

        handlers = Handlers("ticketing")

        @handlers.on(PersonRegistered)
        def remember_person(session, event): ...

        @handlers.on_batch(PersonRegistered)      # a burst becomes one statement, e.g. for a read model
        def remember_people(session, events): ...

    A per-event handler runs inside its event's trace span, so events it records continue that trace;
    a batch handler runs inside the spans of all its events at once.
    """

    def __init__(self, consumer: str):
        self.consumer = consumer
        self.routes: dict[str, Route] = {}

    def on(self, message_cls: type[Message]) -> Callable[[Handler], Handler]:
        return self._register(message_cls, batched=False)

    def on_batch(self, message_cls: type[Message]) -> Callable[[BatchHandler], BatchHandler]:
        return self._register(message_cls, batched=True)

    def _register(self, message_cls: type[Message], batched: bool) -> Callable:
        def register(handler):
            event_type = event_type_of(message_cls)
            if event_type in self.routes:
                # One handler an event type: a second would silently replace the first. Capabilities that
                # both need an event share one handler that calls each of them.
                taken = self.routes[event_type].handler
                raise ValueError(f"{self.consumer} handles {event_type} already, in {taken.__module__}."
                                 f"{taken.__qualname__}; {handler.__module__}.{handler.__qualname__} cannot too")
            self.routes[event_type] = Route(message_cls, handler, batched)
            return handler

        return register

    def subscription(self, retry_delays: tuple[float, ...]) -> Subscription:
        bindings = tuple((producer_of(r.message_cls), key) for key, r in sorted(self.routes.items()))
        return Subscription(self.consumer, bindings, retry_delays)


class _HandlerFailed(Exception):
    """A handler raised while the batch ran without savepoints: the batch must be redone isolated."""


class _Unhandleable(Exception):
    """The message can never succeed (undecodable, unknown type): dead-letter it without retries."""


@dataclass
class _Outcome:
    message: object
    event_type: str
    result: str  # handled | duplicate | failed | unhandleable | requeued
    error: str = ""
    dead: bool = False


@dataclass
class _Delivery:
    """A decoded message, the first with its id in its batch: what its handler needs and what its inbox row
    records."""

    message: object
    message_id: str
    route: Route
    event: Received

    @property
    def event_type(self) -> str:
        return self.event.envelope.type


class InboxConsumer:
    def __init__(
        self,
        handlers: Handlers,
        subscription: Subscription,
        sessions: sessionmaker,
        inbox: Table,
        batch_size: int,
        prefetch: int,
        linger_seconds: float = 0.0,
    ):
        self.handlers = handlers
        self.subscription = subscription
        self.service = subscription.consumer
        self.sessions = sessions
        self.inbox = inbox
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.linger_seconds = linger_seconds
        self.multiple_acks = False
        self._buffer: list = []
        # A series per event type from the start, so a burst handled before the first scrape shows in rate().
        for event_type in handlers.routes:
            metrics.BUS_EVENT_LATENCY.labels(self.service, event_type)

    # -- the loop ---------------------------------------------------------------------------------------

    def consume(self, connection: Connection, stop, on_ready: Callable[[], None] = lambda: None) -> None:
        channel = connection.channel()
        publisher = Publisher(connection)
        self.multiple_acks = is_rabbitmq(connection)
        self._buffer.clear()  # deliveries from a lost connection cannot be acked; the broker redelivers them
        # prefetch_count given here is applied before basic.consume; a later qos() would not bind this consumer.
        with Consumer(channel, queues=[Queue(self.subscription.inbox)], on_message=self._buffer.append,
                      prefetch_count=self.prefetch):
            on_ready()
            while not stop.is_set():
                self._fill_batch(connection)
                connection.heartbeat_check()  # reading the socket above kept the broker's side counted
                if self._buffer:
                    batch = self._buffer[:]
                    self._buffer.clear()
                    self.handle_batch(batch, publisher)

    def _fill_batch(self, connection: Connection) -> None:
        """Wait for a delivery, then take what arrives within the linger; never wait to fill a batch."""
        try:
            connection.drain_events(timeout=0.5)
            linger_until = time.monotonic() + self.linger_seconds
            while len(self._buffer) < self.batch_size:
                connection.drain_events(timeout=max(0.0, linger_until - time.monotonic()))
        except socket.timeout:
            pass

    # -- one batch --------------------------------------------------------------------------------------

    def handle_batch(self, batch: list, publisher: Publisher) -> None:
        try:
            outcomes = self._apply(batch)
        except Exception as exc:
            if not db.is_unreachable(exc):
                raise
            log.warning("database unreachable; returning %d deliveries to the queue", len(batch))
            for message in batch:
                message.requeue()
            time.sleep(1.0)
            return
        self._settle(outcomes, publisher)

    def _apply(self, batch: list) -> list[_Outcome]:
        """Apply the whole batch in one go; only if a handler fails, redo it isolating each message.

        Savepoints cost round trips on every message, so they are paid only for batches that need them.
        """
        settled, deliveries = self._triage(batch)
        try:
            return settled + self._apply_together(deliveries)
        except _HandlerFailed:
            return settled + self._apply_each(deliveries)

    def _apply_together(self, deliveries: list[_Delivery]) -> list[_Outcome]:
        with self.sessions() as session, session.begin():
            fresh = self._claim(session, deliveries)
            outcomes = [_Outcome(d.message, d.event_type, "duplicate") for d in deliveries if d.message_id not in fresh]
            deliveries = [d for d in deliveries if d.message_id in fresh]
            for route, run in itertools.groupby(deliveries, key=lambda d: d.route):
                self._run_handler(session, route, list(run))
            return outcomes + [_Outcome(d.message, d.event_type, "handled") for d in deliveries]

    def _apply_each(self, deliveries: list[_Delivery]) -> list[_Outcome]:
        with self.sessions() as session, session.begin():
            return [self._apply_isolated(session, delivery) for delivery in deliveries]

    def _triage(self, batch: list) -> tuple[list[_Outcome], list[_Delivery]]:
        """Settle what needs no handler (undecodable messages, a message id seen earlier in the batch);
        decode the rest, in order."""
        outcomes, deliveries, seen = [], [], set()
        for message in batch:
            message_id = message.properties.get("message_id", "")
            try:
                route, event = self._decode(message)
            except _Unhandleable as exc:
                outcomes.append(_Outcome(message, "unknown", "unhandleable", str(exc)))
                continue
            if message_id in seen:
                outcomes.append(_Outcome(message, event.envelope.type, "duplicate"))
                continue
            seen.add(message_id)
            deliveries.append(_Delivery(message, message_id, route, event))
        return outcomes, deliveries

    def _claim(self, session: Session, deliveries: list[_Delivery]) -> set[str]:
        """Write the deliveries' inbox rows; answers the ids that were not there yet (the others are
        duplicates). One statement, and a concurrent consumer holding the same id waits for this one."""
        now = datetime.now(timezone.utc)
        rows = [{"message_id": d.message_id, "event_type": d.event_type, "handled_at": now} for d in deliveries]
        return bulk.insert_new(session, self.inbox, rows, key="message_id")

    def _run_handler(self, session: Session, route: Route, deliveries: list[_Delivery]) -> None:
        try:
            if route.batched:
                # Nested, the last delivery's context is the current one; only recorded spans need the others.
                with ExitStack() as spans:
                    for delivery in deliveries if tracing.recording() else deliveries[-1:]:
                        spans.enter_context(_processing(delivery))
                    route.handler(session, [d.event for d in deliveries])
            else:
                for delivery in deliveries:
                    with _processing(delivery):
                        route.handler(session, delivery.event)
            session.flush()  # a constraint the handlers broke is their failure, not the commit's
        except Exception as exc:
            if db.is_unreachable(exc):
                raise
            raise _HandlerFailed from exc

    def _apply_isolated(self, session: Session, delivery: _Delivery) -> _Outcome:
        route = delivery.route
        with _processing(delivery) as span:
            savepoint = session.begin_nested()
            try:
                if not self._claim(session, [delivery]):
                    savepoint.commit()
                    return _Outcome(delivery.message, delivery.event_type, "duplicate")
                route.handler(session, [delivery.event] if route.batched else delivery.event)
                savepoint.commit()
            except Exception as exc:
                if db.is_unreachable(exc):
                    raise
                savepoint.rollback()
                span.record_exception(exc)
                log.warning("handler failed for %s %s: %s", delivery.event_type, delivery.message_id, exc)
                return _Outcome(delivery.message, delivery.event_type, "failed", f"{type(exc).__name__}: {exc}")
        return _Outcome(delivery.message, delivery.event_type, "handled")

    def _decode(self, message) -> tuple[Route, Received]:
        try:
            envelope = Envelope.FromString(message.body)
        except DecodeError as exc:
            raise _Unhandleable(f"body is not an Envelope: {exc}") from exc
        route = self.handlers.routes.get(envelope.type)
        if route is None:
            raise _Unhandleable(f"no handler for {envelope.type!r}")
        try:
            return route, unpack(envelope, route.message_cls)
        except (DecodeError, ValueError) as exc:
            raise _Unhandleable(str(exc)) from exc

    # -- after commit: acks, retries, dead letters ------------------------------------------------------

    def _settle(self, outcomes: list[_Outcome], publisher: Publisher) -> None:
        onward = [self._onward(o) for o in outcomes if o.result in ("failed", "unhandleable")]
        if onward:
            confirmed = publisher.publish([outgoing for _, outgoing in onward])
            for outcome, outgoing in onward:
                if confirmed[outgoing.message_id] is not None:
                    # Not safely parked elsewhere: leave it to the broker to deliver again.
                    outcome.message.requeue()
                    outcome.result = "requeued"
        settled = [o for o in outcomes if o.result != "requeued"]
        self._ack([o.message for o in settled])
        now, counts = time.time(), Counter()
        for outcome in settled:
            if outcome.dead:
                label = "dead_lettered"
                metrics.BUS_DEAD_LETTERED.labels(self.service, outcome.event_type).inc()
            elif outcome.result == "failed":
                label = "retried"
            else:
                label = outcome.result
                published_at = _float(outcome.message.headers.get(PUBLISHED_AT_HEADER))
                if outcome.result == "handled" and published_at:
                    metrics.BUS_EVENT_LATENCY.labels(self.service, outcome.event_type).observe(now - published_at)
            counts[outcome.event_type, label] += 1
        for (event_type, label), count in counts.items():
            metrics.BUS_EVENTS_HANDLED.labels(self.service, event_type, label).inc(count)

    def _ack(self, messages: list) -> None:
        """On RabbitMQ one frame acks the batch: every delivery up to the last tag is settled by now (the
        requeued ones were rejected first). Virtual transports ignore `multiple`, so there each is acked."""
        if not messages:
            return
        if self.multiple_acks:
            max(messages, key=lambda m: m.delivery_tag).ack(multiple=True)
        else:
            for message in messages:
                message.ack()

    def _onward(self, outcome: _Outcome) -> tuple[_Outcome, Outgoing]:
        """Where a failed delivery goes next: the next retry queue, or the dead letters."""
        message = outcome.message
        attempt = int(message.headers.get(ATTEMPT_HEADER, 1))
        headers = {**message.headers, ERROR_HEADER: outcome.error[:500]}
        if outcome.result == "failed" and attempt < self.subscription.max_attempts:
            delay = self.subscription.retry_delays[attempt - 1]
            headers.update({ATTEMPT_HEADER: attempt + 1, RETRY_AT_HEADER: repr(time.time() + delay)})
            queue = self.subscription.retry_queue(attempt)
        else:
            outcome.dead = True
            queue = self.subscription.dead_letters
        return outcome, Outgoing(message.properties.get("message_id", ""), "", queue, message.body, headers)

    def prune(self, retention: timedelta) -> int:
        with self.sessions() as session, session.begin():
            result = session.execute(
                delete(self.inbox).where(self.inbox.c.handled_at < datetime.now(timezone.utc) - retention)
            )
        return result.rowcount


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@contextmanager
def _processing(delivery: _Delivery) -> Iterator[trace.Span]:
    """The message's process span, a child of its publish span, with its correlation id current."""
    token = tracing.set_correlation_id(delivery.event.envelope.correlation_id)
    try:
        with tracing.message_span(f"{delivery.event_type} process", delivery.message.headers, trace.SpanKind.CONSUMER,
                                  {"messaging.system": "rabbitmq", "messaging.message.id": delivery.message_id}) as span:
            yield span
    finally:
        tracing.reset_correlation_id(token)
