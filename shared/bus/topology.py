"""Exchanges and queues, declared idempotently by every process at start.

Each publishing service owns one durable topic exchange `<service>.events`. Each consuming service owns one
durable queue `<service>.inbox` bound to the routing keys it handles, a ladder of retry queues whose
messages expire back into the inbox after a growing delay, and a dead-letter queue `<service>.inbox.dead`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kombu import Exchange, Queue

from shared.bus.envelope import exchange_name

DEFAULT_EXCHANGE = Exchange("")


def events_exchange(service: str) -> Exchange:
    return Exchange(exchange_name(service), type="topic", durable=True)


@dataclass(frozen=True)
class Subscription:
    """One consumer's queues and the (producer, routing key) pairs bound to its inbox."""

    consumer: str
    routes: tuple[tuple[str, str], ...]
    retry_delays: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))

    @property
    def inbox(self) -> str:
        return f"{self.consumer}.inbox"

    @property
    def dead_letters(self) -> str:
        return f"{self.inbox}.dead"

    def retry_queue(self, attempt: int) -> str:
        """The queue a message waits in before its `attempt`-th retry (1-based)."""
        return f"{self.inbox}.retry.{attempt}"

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def queues(self) -> list[Queue]:
        inbox = Queue(self.inbox, durable=True)
        bound = [
            Queue(self.inbox, exchange=events_exchange(producer), routing_key=key, durable=True)
            for producer, key in self.routes
        ]
        retries = [
            Queue(
                self.retry_queue(attempt),
                durable=True,
                queue_arguments={
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.inbox,
                },
            )
            for attempt, delay in enumerate(self.retry_delays, start=1)
        ]
        return [inbox, *bound, *retries, Queue(self.dead_letters, durable=True)]


def declare(channel, *, publishers: list[str], subscriptions: list[Subscription]) -> None:
    """Declare exchanges, queues and bindings. Safe to repeat: declarations are idempotent."""
    for service in publishers:
        events_exchange(service)(channel).declare()
    for subscription in subscriptions:
        for producer, _ in subscription.routes:
            events_exchange(producer)(channel).declare()
        for queue in subscription.queues():
            queue(channel).declare()
