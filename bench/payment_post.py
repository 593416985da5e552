"""The payment benchmark: POST /v1/payments on PostgreSQL (validation, the payer's account locked, its open
charges read, the site's receipt counter, settling the charges oldest first, the audit row, the
payment.received.v1 outbox row: one transaction of nine statements), against a hello-world Flask app under the
same gunicorn settings in the same run.

1. Load: BENCH_PAYMENT_SITES (20) sites of 50 units, each with its owner and a year of monthly charges, as
   bill runs leave them. Payments go round the sites, so receipt numbering contends as a platform of that
   many cashier desks does.
2. Both apps start as production starts an API (`gunicorn -c python:shared.gunicorn_conf`).
3. Throughput: BENCH_PAYMENT_CLIENTS (8) clients flat out for BENCH_PAYMENT_SECONDS (10) against each app
   (hello-world before and after; their mean is the baseline). Every payment carries its own reference.
4. Every answer must be 201, and afterwards each site's receipt numbers run from 1 without a gap or a
   repeat, one per payment, each with its event.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from contextlib import ExitStack
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bench import http_load
from bench.apps import Gunicorn, api_env, flat_out, gunicorn_logs
from bench.infra import databases, progress
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Account, Charge, Payment
from services.billing.models import chassis
from services.billing.places.tables import Occupancy, Payer, Site, Unit
from shared import auth, bulk, db
from shared.config import Settings

UNITS_PER_SITE = 50
MONTHS = 12
# Unique payments prepared per flat-out phase: more than a phase can post on this machine.
PAYMENTS_PER_PHASE = 40_000
MUST_BE_ZERO = ("payment_receipt_gaps",)


def run() -> list[dict]:
    sites = int(os.environ.get("BENCH_PAYMENT_SITES", "20"))
    seconds = float(os.environ.get("BENCH_PAYMENT_SECONDS", "10"))
    clients = int(os.environ.get("BENCH_PAYMENT_CLIENTS", "8"))
    with gunicorn_logs("psp-bench-payments-") as logs:
        return _run(logs, sites, seconds, clients)


def _run(logs: Path, sites: int, seconds: float, clients: int) -> list[dict]:
    with databases(["billing"]) as urls, ExitStack() as stack:
        organization_id = str(uuid.uuid4())
        units = _load(urls["billing"], organization_id, sites)
        secret = secrets.token_urlsafe(32)
        env = api_env("billing", urls["billing"], secret, logs)
        hello = stack.enter_context(Gunicorn("hello", "bench.hello:app", env, logs))
        billing = stack.enter_context(Gunicorn("billing", "services.billing.app:create_app()", env, logs))
        hello.wait_ready("/hello")
        billing.wait_ready("/livez")

        token = auth.mint(Settings(AUTH_JWT_SECRET=secret), subject="cashier", organization_id=organization_id,
                          roles=["cashier"], sites=["*"])
        hellos = [http_load.request(hello.port, "/hello")]
        progress(f"payment_post: gunicorn WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, {clients} "
                 f"clients, {seconds:.0f} s a phase, {sites} sites; load average {os.getloadavg()[0]:.2f}")
        warm = http_load.flat_out(hello.port, hellos, clients=clients, seconds=2, most=10_000)
        warm_payments = _payments(billing.port, token, units, 2_000, "warm")
        warm_billing = http_load.flat_out(billing.port, warm_payments, clients=clients, seconds=2,
                                          most=len(warm_payments))
        if set(warm.statuses) != {200} or set(warm_billing.statuses) != {201}:
            raise RuntimeError(f"warm-up answered {dict(warm.statuses)} and {dict(warm_billing.statuses)}")
        before = flat_out("hello-world", hello.port, hellos, clients, seconds)
        # The prepared payments are unique: one sent twice would answer 409 and fail the phase.
        posted = flat_out("payments", billing.port, _payments(billing.port, token, units, PAYMENTS_PER_PHASE, "run"),
                          clients, seconds, expected=201)
        after = flat_out("hello-world", hello.port, hellos, clients, seconds)
        baseline = (before.rate + after.rate) / 2
        gaps = _gaps(urls["billing"])
    return [
        {"bench": "payment_post", "value": round(posted.rate, 1), "unit": "requests/s",
         "baseline": round(baseline, 1), "ratio": round(posted.rate / baseline, 3), "target": ">= 0.3"},
        {"bench": "payment_receipt_gaps", "value": gaps, "unit": "receipt numbers missing, repeated or unpaid",
         "target": "= 0"},
    ]


def _load(url: str, organization_id: str, sites: int) -> list[tuple[str, str]]:
    """(unit, owner) pairs known to billing's read models, each owing a year of 300.00 a month."""
    now = datetime.now(timezone.utc)
    places, units, payers, occupancies, accounts, charges = [], [], [], [], [], []
    for number in range(sites):
        site_id = str(uuid.uuid4())
        places.append({"site_id": site_id, "organization_id": organization_id, "code": f"S{number}",
                       "name": f"Site {number}", "time_zone": "Asia/Shanghai", "updated_at": now})
        for n in range(UNITS_PER_SITE):
            unit_id, person_id = str(uuid.uuid4()), str(uuid.uuid4())
            units.append({"unit_id": unit_id, "organization_id": organization_id, "site_id": site_id,
                          "building_id": site_id, "number": f"{n + 101}", "kind": "residence",
                          "floor_area_m2": Decimal("120.00"), "state": "occupied", "updated_at": now})
            payers.append({"person_id": person_id, "organization_id": organization_id, "full_name": f"业主{n}",
                           "kind": "individual", "email": "", "phone": f"+86138{n:08d}", "updated_at": now})
            occupancies.append({"occupancy_id": str(uuid.uuid4()), "organization_id": organization_id,
                                "site_id": site_id, "unit_id": unit_id, "person_id": person_id, "role": "owner",
                                "ended": False, "updated_at": now})
            owner = ledger.owner(organization_id, site_id, unit_id, person_id)
            accounts.append(owner)
            charges += [ledger.charge_row(owner, key=f"{unit_id}:fee:{month}", item="management_fee",
                                          amount=Decimal("300.00"), period=f"2026-{month:02d}", description="fee",
                                          source="bill_run", source_id=unit_id, due_on=date(2026, month, 1))
                        for month in range(1, MONTHS + 1)]
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        for table, rows in ((Site, places), (Unit, units), (Payer, payers), (Occupancy, occupancies)):
            bulk.insert(session, table.__table__, rows)
        ledger.open_accounts(session, accounts)
        bulk.insert(session, Charge.__table__, charges)
    engine.dispose()
    return [(unit["unit_id"], payer["person_id"]) for unit, payer in zip(units, payers)]


def _payments(port: int, token: str, units: list[tuple[str, str]], count: int, phase: str) -> list[bytes]:
    """Counter and door-to-door payments of 50.00 to 450.00 going round the sites, and within each site round
    its units, each with its own reference."""
    headers = {"Authorization": f"Bearer {token}"}
    sites = len(units) // UNITS_PER_SITE
    requests = []
    for i in range(count):
        unit_id, person_id = units[(i % sites) * UNITS_PER_SITE + (i // sites) % UNITS_PER_SITE]
        body = {"unit_id": unit_id, "person_id": person_id, "amount": f"{50 + (i % 9) * 50}.00",
                "method": "counter" if i % 3 else "door_to_door", "reference": f"{phase}-{i}"}
        requests.append(http_load.request(port, "/v1/payments", headers, method="POST",
                                          body=json.dumps(body).encode()))
    return requests


def _gaps(url: str) -> int:
    """Receipt numbers missing or repeated at any site, plus payments without their event."""
    engine = db.make_engine(url)
    with engine.connect() as connection:
        by_site = connection.execute(select(Payment.site_id, func.count(), func.count(func.distinct(
            Payment.receipt_number)), func.max(Payment.receipt_number)).group_by(Payment.site_id)).all()
        events = connection.scalar(select(func.count()).select_from(chassis.outbox).where(
            chassis.outbox.c.event_type == "payment.received.v1"))
        accounts = connection.scalar(select(func.count()).select_from(Account))
    engine.dispose()
    payments = sum(count for _, count, _, _ in by_site)
    gaps = sum((count - distinct) + abs(int(highest) - distinct) for _, count, distinct, highest in by_site)
    progress(f"  {payments} payments at {len(by_site)} sites over {accounts} accounts, {events} events, "
             f"{gaps} receipt numbers out of place")
    return gaps + abs(payments - events)
