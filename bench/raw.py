"""The baseline: plain kombu publish -> consume on the same broker, with no database and no confirms.

It is what the broker and the client library give without the chassis' guarantees, so the full path's
figures are read as a fraction of it. Producer and consumer are separate processes, as in the full path.
Messages are persistent, the size of a real envelope, on a durable queue; the consumer acks each one.
"""

from __future__ import annotations

import multiprocessing
import time

from kombu import Connection, Consumer, Producer, Queue

from bench.infra import machine_cpu_seconds
from shared.bus.envelope import CONTENT_TYPE

QUEUE = "bench.raw"
PREFETCH = 256


def _consume(url: str, count: int, ready, results) -> None:
    """Ack `count` messages; hand back the time of the last one and every publish->ack latency."""
    latencies: list[float] = []

    def on_message(message) -> None:
        message.ack()
        latencies.append(time.time() - float(message.headers["x-published-at"]))

    with Connection(url) as connection:
        queue = Queue(QUEUE, durable=True)
        # prefetch_count given here is applied before basic.consume; a qos() afterwards would not bind it.
        with Consumer(connection.channel(), queues=[queue], on_message=on_message, prefetch_count=PREFETCH):
            ready.set()
            while len(latencies) < count:
                connection.drain_events(timeout=60)
    results.put((time.time(), latencies))


def run(url: str, count: int, size: int, rate: float | None = None) -> tuple[float, list[float], float]:
    """Publish `count` messages (paced at `rate` per second, or flat out).

    Answers (msgs/s, publish->ack latencies, the machine's CPU seconds from first publish to last ack).
    """
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    consumer = context.Process(target=_consume, args=(url, count, ready, results), daemon=True)
    with Connection(url) as connection:
        Queue(QUEUE, durable=True)(connection.default_channel).declare()
        consumer.start()
        if not ready.wait(60):
            raise RuntimeError("raw consumer did not start")
        producer = Producer(connection.channel())
        body = b"x" * size
        cpu_at_start, started = machine_cpu_seconds(), time.time()
        for i in range(count):
            if rate:
                delay = started + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            producer.publish(body, routing_key=QUEUE, content_type=CONTENT_TYPE, content_encoding="binary",
                             delivery_mode=2, headers={"x-published-at": repr(time.time())})
        finished, latencies = results.get(timeout=600)
        cpu = machine_cpu_seconds() - cpu_at_start
    consumer.join(10)
    return count / (finished - started), latencies, cpu
