"""The bill-run benchmark: a month's run for BENCH_BILL_UNITS (100,000) units with 3 items each on PostgreSQL.

Through the worker's path (`billruns.rules.run_queued`): claim the queued run, then batch after batch of
units in one transaction each: the payers, the accounts, the charges inserted with on-conflict-do-nothing on
their (unit, item, period) key, one bill.issued.v1 outbox row per payer, prepaid money spent, the cursor
moved. Against it, in the same run and database, the same 300,000 charge rows COPYed straight into
`charges`: the fastest way PostgreSQL takes rows, with no pricing, no keys checked and no events. The figure
is the run's charges per second as a fraction of that. The run is then repeated: it must raise nothing new.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select

from bench.infra import databases, progress
from services.billing.billruns import rules as bill_runs
from services.billing.billruns.tables import BillRun
from services.billing.ledger import rules as ledger
from services.billing.ledger.tables import Charge
from services.billing.places.tables import Occupancy, Site, Unit
from services.billing.rates import rules as rates
from shared import bulk, db

PERIOD = "2026-07"
ITEMS = (("management_fee", "per_area", "2.50"), ("elevator_fee", "fixed", "15.00"),
         ("sanitation_fee", "formula", "8.00"))
MUST_BE_ZERO = ("bill_run_repeat_new_charges",)


def run(units: int) -> list[dict]:
    with databases(["billing"]) as urls:
        engine = db.make_engine(urls["billing"])
        sessions = db.make_sessionmaker(engine)
        organization_id = str(uuid.uuid4())
        raw_site, billed_site = _load(sessions, organization_id, units)
        progress(f"bill_run: {units} units × {len(ITEMS)} items")

        raw_seconds = _copy(engine, sessions, organization_id, raw_site)
        charges = units * len(ITEMS)
        progress(f"  raw COPY: {charges / raw_seconds:.0f} charges/s ({raw_seconds:.2f} s)")

        started = time.perf_counter()
        first = _bill(sessions, organization_id, billed_site)
        run_seconds = time.perf_counter() - started
        progress(f"  bill run: {charges / run_seconds:.0f} charges/s ({run_seconds:.2f} s), {first.charges_new} "
                 f"charges, {first.bills_issued} bills")
        if first.charges_new != charges:
            raise RuntimeError(f"the run raised {first.charges_new} charges of {charges}")
        started = time.perf_counter()
        repeated = _bill(sessions, organization_id, billed_site)
        progress(f"  repeated: {repeated.charges_new} new charges ({time.perf_counter() - started:.2f} s)")
        with sessions() as session:
            landed = session.scalar(select(func.count()).select_from(Charge).where(Charge.site_id == billed_site))
        engine.dispose()
    rate, baseline = charges / run_seconds, charges / raw_seconds
    return [
        {"bench": "bill_run", "value": round(rate, 1), "unit": "charges/s", "baseline": round(baseline, 1),
         "ratio": round(rate / baseline, 3), "target": ">= 0.3"},
        {"bench": "bill_run_repeat_new_charges", "value": repeated.charges_new + (landed - charges),
         "unit": "charges raised twice", "target": "= 0"},
    ]


def _load(sessions, organization_id: str, units: int) -> tuple[str, str]:
    """Two sites of `units` units each with an owner, as occupants' events leave billing's read models; the
    items and rates at the billed one."""
    now = datetime.now(timezone.utc)
    sites = [str(uuid.uuid4()), str(uuid.uuid4())]
    with sessions() as session, session.begin():
        bulk.insert(session, Site.__table__, [
            {"site_id": site_id, "organization_id": organization_id, "code": f"B{n}", "name": f"Bench {n}",
             "time_zone": "Asia/Shanghai", "updated_at": now} for n, site_id in enumerate(sites)])
        for site_id in sites:
            unit_rows = [{"unit_id": str(uuid.uuid4()), "organization_id": organization_id, "site_id": site_id,
                          "building_id": site_id, "number": str(n), "kind": "residence",
                          "floor_area_m2": Decimal(80 + n % 400 / 10).quantize(Decimal("0.01")),
                          "state": "in_custody" if n % 50 == 0 else "occupied", "updated_at": now}
                         for n in range(units)]
            bulk.insert(session, Unit.__table__, unit_rows)
            bulk.insert(session, Occupancy.__table__, [
                {"occupancy_id": str(uuid.uuid4()), "organization_id": organization_id, "site_id": site_id,
                 "unit_id": row["unit_id"], "person_id": str(uuid.uuid4()), "role": "owner", "ended": False,
                 "updated_at": now} for row in unit_rows])
        for code, basis, price in ITEMS:
            item = rates.create_item(session, organization_id=organization_id, site_id=sites[1], code=code,
                                     name=code, basis=basis, cycle="monthly", actor="bench",
                                     formula="max(area * 0.1, price)" if basis == "formula" else "")
            rates.add_rate(session, item, price=Decimal(price), effective_from=date(2026, 1, 1), effective_to=None,
                           actor="bench")
    return sites[0], sites[1]


def _copy(engine, sessions, organization_id: str, site_id: str) -> float:
    """Seconds to COPY the raw site's charge rows, its accounts opened beforehand (untimed)."""
    with sessions() as session, session.begin():
        owners = session.execute(select(Occupancy.unit_id, Occupancy.person_id).where(
            Occupancy.site_id == site_id)).all()
        ledger.open_accounts(session, [ledger.owner(organization_id, site_id, unit, person) for unit, person in owners])
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor, cursor.copy(
                "COPY charges (id, key, organization_id, site_id, account_id, unit_id, person_id, item, period, "
                "amount, paid, currency, description, source, source_id, state, due_on, created_at) "
                "FROM STDIN") as copy:
            for unit_id, person_id in owners:
                account_id = ledger.account_id(unit_id, person_id)
                for code, _, price in ITEMS:
                    copy.write_row((str(uuid.uuid4()), f"{unit_id}:{code}:{PERIOD}", organization_id, site_id,
                                    account_id, unit_id, person_id, code, PERIOD, price, "0.00", "CNY",
                                    f"{code} {PERIOD}", "bill_run", unit_id, "open", date(2026, 7, 31), now))
        connection.commit()
    finally:
        connection.close()
    return time.perf_counter() - started


def _bill(sessions, organization_id: str, site_id: str) -> BillRun:
    with sessions() as session, session.begin():
        run_id = bill_runs.queue(session, organization_id=organization_id, site_id=site_id, period=PERIOD,
                                 actor="bench").id
    bill_runs.run_queued(sessions)
    with sessions() as session:
        run = session.get(BillRun, run_id)
        if run.state != "done":
            raise RuntimeError(f"the run ended {run.state}")
        session.expunge(run)
        return run
