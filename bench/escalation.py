"""The escalation benchmark: BENCH_ESCALATION_RATE (100) SLA breaches a second for BENCH_ESCALATION_SECONDS
(20), each committed in ticketing's outbox as the firing job commits it, each alerting a supervisor by
e-mail; the figure is the time from the breach's commit to the SMTP server accepting the alert, p99.

The path is the production one: ticketing's worker process relays the outbox to RabbitMQ, notifications'
worker process consumes the event (inbox, recipients from its staff read model, template, message queued
in one transaction) and its sender job hands the message to the mail server (the sink of
bench.notice_email, a process of its own). Every breach must give exactly one e-mail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from psp.ticketing.v1.sla_pb2 import SlaRecipient, TicketSlaBreached

from bench.infra import WorkerProcess, databases, exact_quantile, progress, vhost
from bench.notice_email import Sink
from services.notifications.delivery import rules as delivery
from services.notifications.models import chassis as notifications_chassis
from services.notifications.recipients.tables import Site, StaffMember
from services.ticketing.models import chassis as ticketing_chassis
from shared import bulk, db, policy, tracing
from shared.bus import outbox
from shared.bus.connection import connect
from shared.bus.envelope import timestamp
from shared.config import Settings
from shared.service import load
from shared.worker import declare_topology

MUST_BE_ZERO = ("escalation_lost_or_duplicated",)


def run(rate: float, seconds: float) -> list[dict]:
    logs = Path(tempfile.mkdtemp(prefix="psp-bench-escalation-"))
    sink = Sink(logs)
    try:
        with vhost() as bus_url, databases(["ticketing", "notifications"]) as urls:
            figures = _run(logs, sink, urls, bus_url, rate, seconds)
    except BaseException:
        progress(f"worker logs kept in {logs}")
        raise
    finally:
        sink.stop()
    shutil.rmtree(logs, ignore_errors=True)
    return figures


def _run(logs: Path, sink: Sink, urls: dict, bus_url: str, rate: float, seconds: float) -> list[dict]:
    breaches = int(rate * seconds)
    organization_id, site_id = str(uuid.uuid4()), str(uuid.uuid4())
    members = _seed(urls["notifications"], organization_id, site_id, breaches)
    _declare_queues(bus_url)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(BUS_URL=bus_url, TICKETING_DATABASE_URL=urls["ticketing"],
               NOTIFICATIONS_DATABASE_URL=urls["notifications"], SMTP_URL=sink.url, PSP_VAR_DIR=str(logs),
               AUTH_JWT_SECRET=secrets.token_urlsafe(32))
    workers = [WorkerProcess(service, env, logs) for service in ("ticketing", "notifications")]
    engine = db.make_engine(urls["ticketing"])
    sessions = db.make_sessionmaker(engine)
    try:
        for worker in workers:
            worker.wait_ready()
        progress(f"escalation_latency: {breaches} SLA breaches at {rate:.0f}/s through ticketing's outbox to SMTP")
        committed = _write_breaches(sessions, organization_id, site_id, members, rate)
        sink.wait_for(breaches, 120 + seconds)
        time.sleep(1)  # a duplicate would come right behind
        problems = sum((worker.problems() for worker in workers), Counter())
    finally:
        for worker in workers:
            worker.stop()
        engine.dispose()
    accepted = Counter(correlation for _, _, correlation in sink.accepted())
    first_accepted = {}
    for at, _, correlation in sink.accepted():
        first_accepted.setdefault(correlation, at)
    latencies = [first_accepted[key] - at for key, at in committed.items() if key in first_accepted]
    lost = breaches - len(latencies)
    duplicated = sum(count - 1 for key, count in accepted.items() if key in committed and count > 1)
    if problems:
        progress(f"  worker problems: {dict(problems)}")
    p50, p99 = exact_quantile(0.5, latencies), exact_quantile(0.99, latencies)
    progress(f"  accepted {len(latencies)}, lost {lost}, duplicated {duplicated}; commit → SMTP accepted p50 "
             f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    return [
        {"bench": "escalation_latency_p99_ms", "value": round(p99 * 1000, 1), "unit": "ms", "target": "<= 1000",
         "p50_ms": round(p50 * 1000, 1), "max_ms": round(max(latencies) * 1000, 1), "breaches": breaches,
         "rate_per_s": rate},
        {"bench": "escalation_lost_or_duplicated", "value": lost + duplicated, "unit": "e-mails", "target": "0"},
    ]


def _seed(url: str, organization_id: str, site_id: str, count: int) -> list[str]:
    """A supervisor per breach, so no one's throttle holds an alert back; quiet hours off."""
    engine = db.make_engine(url)
    now = datetime.now(timezone.utc)
    members = [str(uuid.uuid4()) for _ in range(count)]
    with db.make_sessionmaker(engine)() as session, session.begin():
        session.add(Site(site_id=site_id, organization_id=organization_id, name="Bench Court",
                         time_zone="Asia/Shanghai", updated_at=now))
        bulk.insert(session, StaffMember.__table__, [
            {"member_id": member, "organization_id": organization_id, "user_id": f"supervisor-{n}",
             "full_name": f"主管{n}", "phone": "", "email": f"supervisor{n}@example.cn", "channels": ["email"],
             "active": True, "site_roles": {site_id: ["cs_supervisor"]}, "version": 1, "updated_at": now}
            for n, member in enumerate(members)])
        policy.override(session, notifications_chassis, organization_id=organization_id, site_id=None,
                        setting=delivery.QUIET_HOURS, new_value=[], actor="bench")
    engine.dispose()
    return members


def _declare_queues(bus_url: str) -> None:
    """Notifications' queues exist before the first breach is published, as after a deployment's migration."""
    settings = Settings(BUS_URL=bus_url)
    with connect(settings) as connection:
        declare_topology(connection, [load("notifications")], settings.bus_retry_delays)


def _write_breaches(sessions, organization_id: str, site_id: str, members: list[str], rate: float) -> dict:
    """Each breach in its own transaction at its due instant; answers correlation id → commit time."""
    committed, started = {}, time.monotonic()
    for n, member in enumerate(members):
        wait = started + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = datetime.now(timezone.utc)
        breach = TicketSlaBreached(ticket_id=str(uuid.uuid4()), ticket_number=f"BENCH-{n:06d}", site_id=site_id,
                                   stage="dispatch", clock="calendar", due_at=timestamp(now),
                                   deliver_after=timestamp(now),
                                   recipients=[SlaRecipient(member_id=member, user_id=f"supervisor-{n}",
                                                            role="cs_supervisor")])
        key = f"breach-{n}"
        token = tracing.set_correlation_id(key)
        try:
            with sessions() as session, session.begin():
                outbox.record(session, ticketing_chassis.outbox, breach, organization_id=organization_id)
        finally:
            tracing.reset_correlation_id(token)
        committed[key] = time.time()
    return committed
