"""Messages parked outside the inbox: dead letters (listed and replayed by command) and, on the embedded
bus, retries waiting for their delay (virtual transports have no message TTL, so the worker moves them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kombu import Connection, Queue

from shared.bus.consumer import ATTEMPT_HEADER, ERROR_HEADER, RETRY_AT_HEADER
from shared.bus.envelope import Envelope
from shared.bus.publisher import Outgoing, Publisher
from shared.bus.topology import Subscription


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str
    attempts: int
    error: str


def _take_all(connection: Connection, queue_name: str, limit: int = 100_000) -> list:
    """Every message in the queue, unacknowledged: ack what you handle, requeue the rest."""
    queue = Queue(queue_name)(connection.default_channel)
    taken = []
    while len(taken) < limit:
        message = queue.get(no_ack=False, accept=None)
        if message is None:
            break
        taken.append(message)
    return taken


def _describe(message) -> DeadLetter:
    try:
        event_type = Envelope.FromString(message.body).type
    except Exception:  # noqa: BLE001 - a dead letter may be undecodable; list it anyway
        event_type = "undecodable"
    return DeadLetter(
        message_id=message.properties.get("message_id", ""),
        event_type=event_type,
        attempts=int(message.headers.get(ATTEMPT_HEADER, 1)),
        error=str(message.headers.get(ERROR_HEADER, "")),
    )


def list_dead_letters(connection: Connection, subscription: Subscription) -> list[DeadLetter]:
    messages = _take_all(connection, subscription.dead_letters)
    try:
        return [_describe(m) for m in messages]
    finally:
        for message in messages:
            message.requeue()


def replay_dead_letters(
    connection: Connection, subscription: Subscription, message_ids: set[str] | None = None
) -> list[DeadLetter]:
    """Send dead letters (all, or those named) back to the inbox with a fresh set of attempts."""
    messages = _take_all(connection, subscription.dead_letters)
    chosen = [m for m in messages if message_ids is None or m.properties.get("message_id") in message_ids]
    publisher = Publisher(connection)
    try:
        confirmed = publisher.publish([_back_to_inbox(m, subscription) for m in chosen]) if chosen else {}
        replayed = []
        for message in messages:
            if message in chosen and confirmed.get(message.properties.get("message_id")) is None:
                replayed.append(_describe(message))
                message.ack()
            else:
                message.requeue()
        return replayed
    finally:
        publisher.close()


def _back_to_inbox(message, subscription: Subscription) -> Outgoing:
    headers = {k: v for k, v in message.headers.items() if k not in (ATTEMPT_HEADER, RETRY_AT_HEADER, ERROR_HEADER)}
    return Outgoing(message.properties.get("message_id", ""), "", subscription.inbox, message.body, headers)


def release_due_retries(connection: Connection, subscription: Subscription, publisher: Publisher) -> int:
    """Embedded bus only: move retries whose delay has passed back into the inbox."""
    moved = 0
    now = time.time()
    for attempt in range(1, subscription.max_attempts):
        messages = _take_all(connection, subscription.retry_queue(attempt), limit=1000)
        due = [m for m in messages if float(m.headers.get(RETRY_AT_HEADER, 0)) <= now]
        if due:
            publisher.publish(
                [Outgoing(m.properties.get("message_id", ""), "", subscription.inbox, m.body, m.headers) for m in due]
            )
        for message in messages:
            (message.ack if message in due else message.requeue)()
        moved += len(due)
    return moved
