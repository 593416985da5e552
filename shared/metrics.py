"""Prometheus metrics every service exposes.

Names follow Prometheus conventions (base units, `_total` counters) and carry a `service` label, never ids.
Under gunicorn, prometheus_client's multiprocess mode is on (PROMETHEUS_MULTIPROC_DIR), so gauges say how
the workers' values combine.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

SERVICE_START_TIME = Gauge(
    "service_start_time_seconds",
    "Unix time the process started.",
    ["service", "process"],
    multiprocess_mode="min",
)
SERVICE_READY = Gauge(
    "service_ready",
    "1 when the process last found its dependencies reachable, else 0.",
    ["service", "process"],
    multiprocess_mode="livemin",
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
BUS_EVENT_LATENCY = Histogram(
    "bus_event_latency_seconds",
    "Seconds from an event's publication to the end of its handling.",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
)
BUS_EVENTS_PUBLISHED = Counter(
    "bus_events_published_total", "Events the outbox relay published with confirms.", ["service", "event_type"]
)
BUS_EVENTS_UNROUTED = Counter(
    "bus_events_unrouted_total",
    "Published events no queue was bound for: no service subscribes to their type (yet).",
    ["service", "event_type"],
)
BUS_EVENTS_HANDLED = Counter(
    "bus_events_handled_total",
    "Deliveries a consumer finished, by outcome: handled, duplicate, retried, dead_lettered.",
    ["service", "event_type", "outcome"],
)
BUS_OUTBOX_PENDING = Gauge(
    "bus_outbox_pending_events", "Outbox rows not yet published.", ["service"], multiprocess_mode="max"
)
BUS_OUTBOX_OLDEST_AGE = Gauge(
    "bus_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row, 0 when none.",
    ["service"],
    multiprocess_mode="max",
)
BUS_DEAD_LETTERED = Counter(
    "bus_dead_lettered_total", "Messages moved to a dead-letter queue.", ["service", "event_type"]
)
# `task`, not `job`: Prometheus keeps `job` for the scrape job.
WORKER_JOB_RUNS = Counter(
    "worker_job_runs_total",
    "Runs of a worker's scheduled jobs (outbox relay upkeep, imports, deadlines, …), by outcome: ok, failed.",
    ["service", "task", "outcome"],
)
BUS_QUEUE_DEPTH = Gauge(
    "bus_queue_depth_messages",
    "Messages ready in a consumer's queue.",
    ["service", "queue"],
    multiprocess_mode="max",
)


def mark_started(service: str, process: str) -> None:
    SERVICE_START_TIME.labels(service, process).set(time.time())


def set_ready(service: str, process: str, ready: bool) -> None:
    SERVICE_READY.labels(service, process).set(1 if ready else 0)


def render() -> tuple[bytes, str]:
    """The exposition text, merged across gunicorn workers when in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
