"""The SLA timer benchmark: BENCH_SLA_DEADLINES (100,000) open deadlines falling due over one minute on
PostgreSQL, fired by the real `sla-firing` job in BENCH_SLA_WORKERS (2) ticketing worker processes.

Half are warnings, half breaches, spread evenly over the minute, a fifth on reception-hours clocks (their
alerts look up the site's calendar and policy). Every one must reach the outbox exactly once; the figure is
the lateness of each event (its outbox row's time minus the instant it was due) at the 99th percentile, and
the workers' CPU per deadline (the relay publishing the events to RabbitMQ included).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from psp.events.v1.envelope_pb2 import Envelope
from psp.ticketing.v1.sla_pb2 import TicketSlaBreached, TicketSlaWarning
from sqlalchemy import func, select

from bench.infra import WorkerProcess, cpu_by_process, databases, exact_quantile, progress, vhost
from services.ticketing.models import chassis
from services.ticketing.sla.tables import Deadline, StaffMember
from shared import bulk, db
from shared.bus.envelope import unpack

MUST_BE_ZERO = ("sla_timer_missing_or_duplicate_events",)
SPREAD_SECONDS = 60
LEAD_SECONDS = 25
STAGES = ("dispatch", "arrival_plan", "first_reply", "answer", "resolution", "return_visit")
CHAIN = ("cs_specialist", "cs_supervisor", "site_manager", "property_manager", "general_manager")


def run(deadlines: int, worker_count: int = int(os.environ.get("BENCH_SLA_WORKERS", "2"))) -> list[dict]:
    logs = Path(tempfile.mkdtemp(prefix="psp-bench-sla-"))
    with vhost() as bus_url, databases(["ticketing"]) as urls:
        engine = db.make_engine(urls["ticketing"])
        sessions = db.make_sessionmaker(engine)
        organization_id, sites = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(10)]
        _seed_staff(sessions, organization_id, sites)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
        env.update(BUS_URL=bus_url, TICKETING_DATABASE_URL=urls["ticketing"], PSP_VAR_DIR=str(logs),
                   AUTH_JWT_SECRET=secrets.token_urlsafe(32))
        workers = [WorkerProcess("ticketing", env, logs) for _ in range(worker_count)]
        try:
            for worker in workers:
                worker.wait_ready()
            first_due = datetime.now(timezone.utc) + timedelta(seconds=LEAD_SECONDS)
            progress(f"sla_timer_lateness: {deadlines} deadlines due over {SPREAD_SECONDS} s from "
                     f"{first_due:%H:%M:%S}, {worker_count} worker process(es)")
            due = _seed_deadlines(sessions, organization_id, sites, deadlines, first_due)
            if datetime.now(timezone.utc) >= first_due:
                raise RuntimeError("seeding took longer than the lead: raise LEAD_SECONDS")
            cpu_before = cpu_by_process(workers)["ticketing worker"]
            fired = _wait_fired(sessions, deadlines, first_due + timedelta(seconds=SPREAD_SECONDS + 120))
            cpu = cpu_by_process(workers)["ticketing worker"] - cpu_before
            problems = sum((worker.problems() for worker in workers), Counter())
        finally:
            for worker in workers:
                worker.stop()
        lateness, kinds, duplicates = _lateness(sessions, due)
        engine.dispose()
    if problems:
        progress(f"  worker problems: {dict(problems)}")
    missing = deadlines - len(lateness)
    p50, p99 = exact_quantile(0.5, lateness), exact_quantile(0.99, lateness)
    progress(f"  fired {fired}, events {dict(kinds)}, missing {missing}, duplicates {duplicates}; lateness p50 "
             f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms; worker CPU "
             f"{cpu:.1f} s = {cpu / deadlines * 1e6:.0f} µs per deadline")
    return [
        {"bench": "sla_timer_lateness_p99_ms", "value": round(p99 * 1000, 1), "unit": "ms", "target": "<= 2000",
         "p50_ms": round(p50 * 1000, 1), "max_ms": round(max(lateness) * 1000, 1), "deadlines": deadlines,
         "workers": worker_count, "worker_cpu_us_per_deadline": round(cpu / deadlines * 1e6, 1)},
        {"bench": "sla_timer_missing_or_duplicate_events", "value": missing + duplicates, "unit": "events",
         "target": "0"},
    ]


def _seed_staff(sessions, organization_id: str, sites: list[str]) -> None:
    now = datetime.now(timezone.utc)
    with sessions() as session, session.begin():
        bulk.insert(session, StaffMember.__table__, [{
            "member_id": str(uuid.uuid4()), "organization_id": organization_id, "user_id": f"{role}-{site}",
            "full_name": role, "active": True, "reachable": True, "site_roles": {site: [role]}, "version": 1, "updated_at": now,
        } for site in sites for role in CHAIN])


def _seed_deadlines(sessions, organization_id: str, sites: list[str], count: int,
                    first_due: datetime) -> dict[tuple[str, str], datetime]:
    """Rows as the clocks write them, every one firing within the minute; answers when each is due."""
    now, due, rows = datetime.now(timezone.utc), {}, []
    for i in range(count):
        fires = first_due + timedelta(seconds=SPREAD_SECONDS * i / count)
        ticket_id, stage, warning = str(uuid.uuid4()), STAGES[i % len(STAGES)], i % 2 == 0
        site = sites[i % len(sites)]
        rows.append({
            "id": str(uuid.uuid4()), "organization_id": organization_id, "site_id": site, "ticket_id": ticket_id,
            "ticket_number": f"B-{i:06d}", "owner_id": f"cs_specialist-{site}", "stage": stage,
            "clock": "reception" if i % 5 == 0 else "calendar", "started_at": now,
            "due_at": fires + timedelta(days=1) if warning else fires, "warn_at": fires if warning else None,
            "state": "running", "next_fire_at": fires, "paused_at": None, "paused_seconds": 0.0, "pauses": 0,
            "warned_at": None, "breached_at": None, "met_at": None, "updated_at": now})
        due[(ticket_id, stage)] = fires
    for start in range(0, count, 10_000):
        with sessions() as session, session.begin():
            bulk.insert(session, Deadline.__table__, rows[start:start + 10_000])
    return due


def _wait_fired(sessions, count: int, give_up: datetime) -> int:
    while True:
        with sessions() as session:
            fired = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.next_fire_at.is_(None)
                                                                                    | (Deadline.state == "warned")))
        if fired >= count or datetime.now(timezone.utc) > give_up:
            return fired
        time.sleep(1)


def _lateness(sessions, due: dict[tuple[str, str], datetime]) -> tuple[list[float], Counter, int]:
    """Each event's outbox time minus its due instant, the events by type, and how many repeated a firing."""
    lateness, kinds, seen, duplicates = [], Counter(), set(), 0
    with sessions() as session:
        rows = session.execute(select(chassis.outbox.c.event_type, chassis.outbox.c.envelope,
                                      chassis.outbox.c.created_at)).all()
    for event_type, raw, created_at in rows:
        kind = TicketSlaBreached if event_type == "ticket.sla_breached.v1" else TicketSlaWarning
        event = unpack(Envelope.FromString(raw), kind).payload
        key = (event.ticket_id, event.stage)
        kinds[event_type] += 1
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        lateness.append((created_at - due[key]).total_seconds())
    return lateness, kinds, duplicates
