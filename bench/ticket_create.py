"""The intake benchmark: POST /v1/tickets on PostgreSQL (validation, the read models' look-ups, the insert,
the site's next number, the SLA deadline rows, the outbox row, the audit row: one transaction), against a
hello-world Flask app under the same gunicorn settings in the same run.

1. Load: BENCH_TICKET_SITES (20) sites with 50 units and 50 occupants each in ticketing's read models, as
   occupants' events leave them. Requests go to the sites in turn, so numbering contends as a platform of
   that many service centres does: a site's counter row is held from its number to the commit.
2. Both apps start as production starts an API: `gunicorn -c python:shared.gunicorn_conf`, bound to the
   loopback. The requests are a front desk's mix: repairs (some emergencies), complaints of each tier,
   inquiries with a promised reply time, help requests, suggestions.
3. Throughput: BENCH_TICKET_CLIENTS (8) clients flat out for BENCH_TICKET_SECONDS (10) against each app
   (hello-world before and after; their mean is the baseline).
4. Latency: intake paced at half its measured maximum for BENCH_TICKET_SECONDS; p99 from when each request
   was due (`bench.http_load.paced`); hello-world paced at the same rate beside it.
5. Every answer must be 201, and afterwards every ticket has its own number, its deadlines and its event.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from bench import http_load
from bench.apps import Gunicorn, MOST_PER_PHASE, api_env, flat_out, gunicorn_logs, paced
from bench.infra import databases, exact_quantile, flush_to_disk, progress
from services.ticketing.models import chassis
from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets.tables import Ticket
from shared import auth, bulk, db
from shared.config import Settings

UNITS_PER_SITE = 50


def run() -> list[dict]:
    sites = int(os.environ.get("BENCH_TICKET_SITES", "20"))
    seconds = float(os.environ.get("BENCH_TICKET_SECONDS", "10"))
    clients = int(os.environ.get("BENCH_TICKET_CLIENTS", "8"))
    with gunicorn_logs("psp-bench-tickets-") as logs:
        return _run(logs, sites, seconds, clients)


def _run(logs: Path, sites: int, seconds: float, clients: int) -> list[dict]:
    with databases(["ticketing"]) as urls, ExitStack() as stack:
        organization_id = str(uuid.uuid4())
        known = _load(urls["ticketing"], organization_id, sites)
        secret = secrets.token_urlsafe(32)
        env = api_env("ticketing", urls["ticketing"], secret, logs)
        hello = stack.enter_context(Gunicorn("hello", "bench.hello:app", env, logs))
        ticketing = stack.enter_context(Gunicorn("ticketing", "services.ticketing.app:create_app()", env, logs))
        hello.wait_ready("/hello")
        ticketing.wait_ready("/livez")

        token = auth.mint(Settings(AUTH_JWT_SECRET=secret), subject="front-desk", organization_id=organization_id,
                          roles=["cs_specialist"], sites=["*"])
        intakes = _intakes(ticketing.port, token, known)
        hellos = [http_load.request(hello.port, "/hello")]
        progress(f"ticket_create: gunicorn WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, {clients} "
                 f"clients, {seconds:.0f} s a phase, {sites} sites; load average {os.getloadavg()[0]:.2f}")

        for port, requests, expected in ((hello.port, hellos, 200), (ticketing.port, intakes, 201)):
            warm = http_load.flat_out(port, requests, clients=clients, seconds=2, most=MOST_PER_PHASE)
            if set(warm.statuses) != {expected}:
                raise RuntimeError(f"warm-up answered {dict(warm.statuses)}")
        before = flat_out("hello-world", hello.port, hellos, clients, seconds)
        intake = flat_out("intake", ticketing.port, intakes, clients, seconds, expected=201)
        after = flat_out("hello-world", hello.port, hellos, clients, seconds)
        baseline = (before.rate + after.rate) / 2

        rate = intake.rate / 2
        progress(f"  page cache written out in {flush_to_disk():.1f} s")
        intake_paced = paced("intake", ticketing.port, intakes, rate, seconds, expected=201)
        hello_paced = paced("hello-world", hello.port, hellos, rate, seconds)
        _check(urls["ticketing"])
    p99, hello_p99 = (exact_quantile(0.99, o.latencies) * 1000 for o in (intake_paced, hello_paced))
    return [
        {"bench": "ticket_create", "value": round(intake.rate, 1), "unit": "requests/s",
         "baseline": round(baseline, 1), "ratio": round(intake.rate / baseline, 3), "target": ">= 0.3"},
        {"bench": "ticket_create_p99_ms", "value": round(p99, 1), "unit": "ms", "baseline": round(hello_p99, 1),
         "ratio": round(p99 / hello_p99, 3) if hello_p99 else None, "target": "<= 50"},
    ]


def _load(url: str, organization_id: str, sites: int) -> list[tuple[str, str, str]]:
    """(site, unit, occupant) triples known to ticketing's read models."""
    now = datetime.now(timezone.utc)
    known, units, reporters = [], [], []
    for _ in range(sites):
        site_id, building_id = str(uuid.uuid4()), str(uuid.uuid4())
        for n in range(UNITS_PER_SITE):
            unit_id, person_id = str(uuid.uuid4()), str(uuid.uuid4())
            units.append({"unit_id": unit_id, "organization_id": organization_id, "site_id": site_id,
                          "building_id": building_id, "floor": n // 4 + 1, "number": f"{n // 4 + 1}{n % 4 + 1:02d}",
                          "kind": "residence", "state": "occupied", "updated_at": now})
            reporters.append({"person_id": person_id, "organization_id": organization_id, "full_name": f"业主{n}",
                              "phone": f"+86138{n:08d}", "site_id": site_id, "updated_at": now})
            known.append((site_id, unit_id, person_id))
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        bulk.insert(session, Unit.__table__, units)
        bulk.insert(session, Reporter.__table__, reporters)
    engine.dispose()
    return known


def _intakes(port: int, token: str, known: list[tuple[str, str, str]]) -> list[bytes]:
    """2,000 intakes in a fixed random order, going round the sites."""
    rng = random.Random(11)
    promised = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
    shapes = [
        {"type": "repair", "location": "in_unit", "subject": "厨房水管漏水 Kitchen pipe leaks"},
        {"type": "repair", "location": "public_area", "emergency": True, "subject": "电梯困人 Lift stuck"},
        {"type": "complaint", "tier": "minor", "subject": "楼上噪音 Noise upstairs"},
        {"type": "complaint", "tier": "important", "subject": "保安态度 Guard was rude"},
        {"type": "complaint", "tier": "major", "subject": "地下室水浸 Basement flooded"},
        {"type": "inquiry", "promised_reply_at": promised, "subject": "停水通知 Water cut notice"},
        {"type": "help", "subject": "老人需要帮助 Elderly occupant needs help"},
        {"type": "suggestion", "subject": "增加充电桩 More chargers"},
    ]
    sites = sorted({site for site, _, _ in known})
    by_site = {site: [(u, p) for s, u, p in known if s == site] for site in sites}
    headers = {"Authorization": f"Bearer {token}"}
    intakes = []
    for i in range(2000):
        site = sites[i % len(sites)]
        unit_id, person_id = rng.choice(by_site[site])
        body = {"site_id": site, "channel": rng.choice(("phone", "walk_in", "app")), "unit_id": unit_id,
                "reporter_id": person_id, "description": "详见电话记录 See the call log.", **shapes[i % len(shapes)]}
        intakes.append(http_load.request(port, "/v1/tickets", headers, method="POST",
                                         body=json.dumps(body, ensure_ascii=False).encode()))
    return intakes


def _check(url: str) -> None:
    """Every ticket kept has its own number at its site, its SLA deadlines and its registered event."""
    engine = db.make_engine(url)
    with engine.connect() as connection:
        tickets = connection.scalar(select(func.count()).select_from(Ticket))
        numbers = connection.scalar(select(func.count()).select_from(
            select(Ticket.site_id, Ticket.number).distinct().subquery()))
        events = connection.scalar(select(func.count()).select_from(chassis.outbox).where(
            chassis.outbox.c.event_type == "ticket.registered.v1"))
        with_deadlines = connection.scalar(select(func.count(func.distinct(Deadline.ticket_id))))
    engine.dispose()
    progress(f"  {tickets} tickets, {numbers} numbers, {events} events, {with_deadlines} with deadlines")
    if not tickets == numbers == events == with_deadlines:
        raise RuntimeError("intake lost or doubled something")
