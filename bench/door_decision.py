"""The door benchmark: POST /v1/decisions (a reader asking per swipe) on PostgreSQL, against a hello-world
Flask app under the same gunicorn settings in the same run.

1. Load: BENCH_DOOR_PASSES (20,000) card passes over 10 sites of 20 doors each, their zones, as issuing
   leaves them (rows and the organization's change number).
2. Both apps start as production starts an API: `gunicorn -c python:shared.gunicorn_conf`. A reader's
   machine token asks about a swipe mix: 80 % granted, then outside the pass's scope, unknown cards,
   unknown doors.
3. Throughput: BENCH_DOOR_CLIENTS (8) clients flat out for BENCH_DOOR_SECONDS (10) against each app
   (hello-world before and after; their mean is the baseline).
4. Latency: decisions paced at BENCH_DOOR_RATE (1,000) a second; p99 from when each was due; hello-world
   paced at the same rate beside it.
5. Every answer must be 200 with the reason expected, and once the API has stopped every decision answered is
   recorded, once (`door_decisions_lost`, `door_decisions_duplicated`: must be zero).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import urllib.request
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from bench import http_load
from bench.apps import Gunicorn, MOST_PER_PHASE, api_env, flat_out, gunicorn_logs, paced
from bench.infra import databases, exact_quantile, progress
from services.access.changes import ChangeCounter
from services.access.decisions.tables import Decision
from services.access.doors.tables import Door, Zone
from services.access.passes.tables import Pass
from services.access.places.tables import Site
from shared import auth, bulk, db
from shared.config import Settings

MUST_BE_ZERO = ("door_decisions_lost", "door_decisions_duplicated")
SITES, DOORS_PER_SITE = 10, 20


def run() -> list[dict]:
    passes = int(os.environ.get("BENCH_DOOR_PASSES", "20000"))
    seconds = float(os.environ.get("BENCH_DOOR_SECONDS", "10"))
    clients = int(os.environ.get("BENCH_DOOR_CLIENTS", "8"))
    rate = float(os.environ.get("BENCH_DOOR_RATE", "1000"))
    with gunicorn_logs("psp-bench-doors-") as logs:
        return _run(logs, passes, seconds, clients, rate)


def _run(logs: Path, passes: int, seconds: float, clients: int, rate: float) -> list[dict]:
    with databases(["access"]) as urls, ExitStack() as stack:
        organization_id = str(uuid.uuid4())
        swipes = _load(urls["access"], organization_id, passes)
        secret = secrets.token_urlsafe(32)
        env = api_env("access", urls["access"], secret, logs)
        hello = stack.enter_context(Gunicorn("hello", "bench.hello:app", env, logs))
        access = Gunicorn("access", "services.access.app:create_app()", env, logs)
        stack.enter_context(access)
        hello.wait_ready("/hello")
        access.wait_ready("/livez")

        token = auth.mint(Settings(AUTH_JWT_SECRET=secret), subject="reader-bench", organization_id=organization_id,
                          roles=[], sites=["*"], machine=True)
        headers = {"Authorization": f"Bearer {token}"}
        asks = [http_load.request(access.port, "/v1/decisions", headers, method="POST",
                                  body=json.dumps({"door_id": door, "credential": card}).encode())
                for door, card, _ in swipes]
        hellos = [http_load.request(hello.port, "/hello")]
        progress(f"door_decision: gunicorn WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, {clients} "
                 f"clients, {seconds:.0f} s a phase, {passes} passes; load average {os.getloadavg()[0]:.2f}")
        _expect_reasons(access.port, headers, swipes)
        answered = len(swipes)
        for port, requests in ((hello.port, hellos), (access.port, asks)):
            warm = http_load.flat_out(port, requests, clients=clients, seconds=2, most=MOST_PER_PHASE)
            if set(warm.statuses) != {200}:
                raise RuntimeError(f"warm-up answered {dict(warm.statuses)}")
            answered += warm.answered if port == access.port else 0
        before = flat_out("hello-world", hello.port, hellos, clients, seconds)
        decided = flat_out("decisions", access.port, asks, clients, seconds)
        after = flat_out("hello-world", hello.port, hellos, clients, seconds)
        baseline = (before.rate + after.rate) / 2
        decided_paced = paced("decisions", access.port, asks, rate, seconds)
        hello_paced = paced("hello-world", hello.port, hellos, rate, seconds)
        answered += decided.answered + decided_paced.answered
        # Stopping the API writes out what its recorders still hold.
        access.__exit__()
        recorded, distinct = _recorded(urls["access"])
    p99, hello_p99 = (exact_quantile(0.99, o.latencies) * 1000 for o in (decided_paced, hello_paced))
    progress(f"  {answered} decisions answered, {recorded} recorded")
    return [
        {"bench": "door_decision", "value": round(decided.rate, 1), "unit": "decisions/s",
         "baseline": round(baseline, 1), "ratio": round(decided.rate / baseline, 3), "target": ">= 0.7"},
        {"bench": "door_decision_p99_ms", "value": round(p99, 2), "unit": "ms", "baseline": round(hello_p99, 2),
         "ratio": round(p99 / hello_p99, 3) if hello_p99 else None, "target": f"<= 5 at {rate:.0f}/s"},
        {"bench": "door_decisions_lost", "value": max(answered - distinct, 0), "unit": "decisions", "target": "0"},
        {"bench": "door_decisions_duplicated", "value": recorded - distinct, "unit": "decisions", "target": "0"},
    ]


def _load(url: str, organization_id: str, passes: int) -> list[tuple[str, str, str]]:
    """The passes, doors and zones; answers 2,000 swipes (door, card, reason expected) in a fixed order."""
    now = datetime.now(timezone.utc)
    rng = random.Random(7)
    sites, zones, doors, rows = [], [], [], []
    doors_of: dict[str, list[str]] = {}
    for s in range(SITES):
        site_id, zone_id = str(uuid.uuid4()), str(uuid.uuid4())
        sites.append({"site_id": site_id, "organization_id": organization_id, "code": f"S{s}", "name": f"Site {s}",
                      "time_zone": "Asia/Shanghai", "updated_at": now})
        zones.append({"id": zone_id, "organization_id": organization_id, "site_id": site_id, "name": "Lobby",
                      "created_at": now})
        for d in range(DOORS_PER_SITE):
            door_id = str(uuid.uuid4())
            doors_of.setdefault(site_id, []).append(door_id)
            doors.append({"id": door_id, "organization_id": organization_id, "site_id": site_id, "building_id": None,
                          "name": f"Door {d}", "kind": "door", "zone_ids": [zone_id] if d % 2 else [], "version": 1,
                          "created_at": now, "updated_at": now})
    for n in range(passes):
        site = sites[n % SITES]["site_id"]
        own = doors_of[site][(n // SITES) % DOORS_PER_SITE]
        rows.append({"id": str(uuid.uuid4()), "organization_id": organization_id, "site_id": site, "kind": "resident",
                     "person_id": None, "holder_name": f"住户{n}", "unit_id": None, "credential": f"CARD{n:08d}",
                     "credential_kind": "card", "valid_from": now - timedelta(days=1),
                     "valid_until": now + timedelta(days=365), "door_ids": [own],
                     "zone_ids": [zones[n % SITES]["id"]], "max_uses": 0, "uses": 0, "state": "active",
                     "revoked_at": None, "revocation_reason": None, "source": "staff", "source_id": None,
                     "issued_by": "bench", "host_person_id": None, "version": 1, "created_at": now, "updated_at": now})
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        bulk.insert(session, Site.__table__, sites)
        bulk.insert(session, Zone.__table__, zones)
        bulk.insert(session, Door.__table__, doors)
        bulk.insert(session, Pass.__table__, rows)
        session.add(ChangeCounter(organization_id=organization_id, version=1))
    engine.dispose()
    swipes = []
    for i in range(2000):
        row = rows[rng.randrange(passes)]
        site_doors = doors_of[row["site_id"]]
        kind = i % 10
        if kind < 8:
            swipes.append((row["door_ids"][0], row["credential"], "granted"))
        elif kind == 8:
            outside = next(d for d in site_doors[::2] if d != row["door_ids"][0])
            swipes.append((outside, row["credential"], "outside_scope"))
        else:
            swipes.append((rng.choice(site_doors), f"NOCARD{i}", "unknown_credential"))
    return swipes


def _expect_reasons(port: int, headers: dict, swipes: list[tuple[str, str, str]]) -> None:
    """Each swipe once, checking its answer: a fast wrong answer is no answer."""
    for door, card, expected in swipes:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/decisions", method="POST",
                                         data=json.dumps({"door_id": door, "credential": card}).encode(),
                                         headers={**headers, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            reason = json.load(answer)["reason"]
        if reason != expected:
            raise RuntimeError(f"door {door}, card {card}: {reason}, expected {expected}")


def _recorded(url: str) -> tuple[int, int]:
    """Decisions recorded, and distinct ones (a decision is its asker, door, card and moment)."""
    engine = db.make_engine(url)
    with engine.connect() as connection:
        recorded = connection.scalar(select(func.count()).select_from(Decision))
        distinct = connection.scalar(select(func.count()).select_from(
            select(Decision.door_id, Decision.credential, Decision.decided_at).distinct().subquery()))
    engine.dispose()
    return recorded, distinct
