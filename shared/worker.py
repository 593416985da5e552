"""The worker process of a service: bus consumer, outbox relay and scheduled jobs, one thread each.

It also serves `/livez`, `/readyz` and `/metrics` on WORKER_PORT, so orchestrators can probe it and
Prometheus can scrape the bus metrics, which live here rather than in the API process.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask, Response, jsonify
from kombu import Queue
from werkzeug.serving import make_server

from shared import db, idempotency, logs, metrics, tracing
from shared.bus.connection import connect
from shared.bus.consumer import InboxConsumer
from shared.bus.outbox import Relay, Wakeup, run_relay
from shared.bus.parking import release_due_retries
from shared.bus.publisher import Publisher
from shared.bus.topology import declare
from shared.config import Settings
from shared.health import Readiness
from shared.service import Service

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A task the worker repeats every `every` seconds."""

    name: str
    every: float
    run: Callable[[], object]


@dataclass
class Worker:
    service: Service
    settings: Settings
    platform: list[Service] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.engine = db.make_engine(self.settings.database_url_for(self.service.name), pre_ping=False)
        tracing.instrument_database(self.engine)
        self.sessions = db.make_sessionmaker(self.engine)
        self.subscription = self.service.subscription(self.settings.bus_retry_delays)
        self.relay = Relay(self.service.name, self.engine, self.service.tables.outbox, self.settings.bus_batch_size)
        self.consumer = (
            InboxConsumer(self.service.handlers, self.subscription, self.sessions, self.service.tables.inbox,
                          self.settings.bus_batch_size, self.settings.bus_prefetch, self.settings.bus_linger_ms / 1000)
            if self.subscription else None
        )
        self.readiness = Readiness(self.service.name, "worker", self.engine, self.settings, broker_required=True)

    def declare_topology(self, connection) -> None:
        """The embedded bus keeps bindings only for queues some process declared, so there every worker
        declares the whole platform's topology; on RabbitMQ each declares its own."""
        services = [self.service]
        if self.settings.embedded_bus:
            services += [svc for svc in self.platform if svc.name != self.service.name]
        declare_topology(connection, services, self.settings.bus_retry_delays)

    def _connect(self):
        connection = connect(self.settings)
        connection.ensure_connection(max_retries=1, timeout=5)
        self.declare_topology(connection)
        return connection

    # -- threads ----------------------------------------------------------------------------------------

    def run_consumer(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            try:
                with self._connect() as connection:
                    self.consumer.consume(connection, self.stop, on_ready=lambda: log.info("consuming"))
                    backoff = 0.5
            except Exception:  # noqa: BLE001 - broker or database trouble: log, wait, reconnect
                log.exception("consumer stopped; reconnecting in %.1fs", backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def jobs(self) -> list[Job]:
        jobs = [
            Job("outbox-backlog", 5, self.relay.observe_backlog),
            Job("queue-depth", 15, self.observe_queue_depth),
            Job("prune-outbox", 3600, lambda: self.relay.prune(timedelta(days=self.settings.outbox_retention_days))),
            Job("readiness", 5, self.readiness.check),
            Job("prune-idempotency-keys", 3600, lambda: idempotency.prune(
                self.sessions, self.service.tables.idempotency_keys,
                timedelta(hours=self.settings.idempotency_retention_hours))),
        ]
        jobs += [Job(job.name, job.every, lambda job=job: job.run(self.sessions)) for job in self.service.jobs]
        if self.consumer:
            retention = timedelta(days=self.settings.inbox_retention_days)
            jobs.append(Job("prune-inbox", 3600, lambda: self.consumer.prune(retention)))
            if self.settings.embedded_bus:
                jobs.append(Job("release-retries", 1, self.release_retries))
        return jobs

    def run_job(self, job: Job) -> None:
        while not self.stop.is_set():
            try:
                job.run()
            except Exception:  # noqa: BLE001 - a failed run is logged; the next one comes on schedule
                log.exception("job %s failed", job.name)
                metrics.WORKER_JOB_RUNS.labels(self.service.name, job.name, "failed").inc()
            else:
                metrics.WORKER_JOB_RUNS.labels(self.service.name, job.name, "ok").inc()
            self.stop.wait(job.every)

    def observe_queue_depth(self) -> None:
        if not self.subscription:
            return
        with connect(self.settings) as connection:
            channel = connection.default_channel
            for name in (self.subscription.inbox, self.subscription.dead_letters):
                try:
                    _, depth, _ = Queue(name)(channel).queue_declare(passive=True)
                except connection.channel_errors:
                    # Not declared yet: the consumer declares it on connecting; measure on the next run.
                    return
                metrics.BUS_QUEUE_DEPTH.labels(self.service.name, name).set(depth)

    def release_retries(self) -> None:
        with connect(self.settings) as connection:
            release_due_retries(connection, self.subscription, Publisher(connection))

    # -- process ----------------------------------------------------------------------------------------

    def health_app(self) -> Flask:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per probe is noise
        app = Flask(f"{self.service.name}-worker")
        app.get("/livez")(lambda: jsonify(status="ok"))

        @app.get("/readyz")
        def readyz():
            report = self.readiness.check()
            return jsonify(report), (200 if report["ready"] else 503)

        @app.get("/metrics")
        def metrics_endpoint():
            body, content_type = metrics.render()
            return Response(body, content_type=content_type)

        return app

    def start(self) -> list[threading.Thread]:
        metrics.mark_started(self.service.name, "worker")
        wakeup = Wakeup(self.engine, self.settings.outbox_poll_seconds, self.stop)
        targets = [("relay", lambda: run_relay(self.relay, self._connect, wakeup, self.stop))]
        if self.consumer:
            targets.append(("consumer", self.run_consumer))
        targets += [(job.name, lambda job=job: self.run_job(job)) for job in self.jobs()]
        threads = [threading.Thread(target=fn, name=name, daemon=True) for name, fn in targets]
        for thread in threads:
            thread.start()
        return threads

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then finish the batch in hand and stop."""
        server = make_server("0.0.0.0", self.settings.worker_port, self.health_app(), threaded=True)
        threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        # Everything loaded so far lives as long as the process. A full collection would walk it all
        # (some 100,000 objects, 50 ms during which no thread runs), so it is moved out of the collector's sight.
        gc.freeze()
        threads = self.start()
        log.info("worker started on port %d", self.settings.worker_port)
        self.stop.wait()
        for thread in threads:
            thread.join(timeout=10)
        server.shutdown()
        self.engine.dispose()
        log.info("worker stopped")


def declare_topology(connection, services: list[Service], retry_delays: tuple[float, ...]) -> None:
    subscriptions = [s for s in (svc.subscription(retry_delays) for svc in services) if s]
    declare(connection.default_channel, publishers=[svc.name for svc in services], subscriptions=subscriptions)


def main(service: Service, platform: list[Service]) -> None:
    settings = Settings()
    logs.configure(service.name, settings.log_level)
    tracing.configure(service.name)
    Worker(service, settings, platform).run_forever()

