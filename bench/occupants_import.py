"""The import benchmark: a site's register of BENCH_IMPORT_UNITS (100,000) units from CSV into PostgreSQL.

Through the import path, as the worker runs it: the upload's checks (`imports.submit`), then the job
(`imports.run_pending`): claim, read and check every row against the file and the database, then one
transaction that writes the buildings, the units and one unit.registered.v1 outbox row per unit.
Against it, in the same run and database, the same CSV parsed and its rows COPYed straight into `units`:
the fastest way PostgreSQL takes rows, with no checks and no events. The figure is the import's units per
second as a fraction of that.
"""

from __future__ import annotations

import csv
import io
import time
import uuid

from sqlalchemy import func, select

from bench.infra import databases, progress
from services.occupants.places import imports, rules
from services.occupants.places.tables import Building, ImportJob, Unit
from shared import db

UNITS_PER_FLOOR = 20
FLOORS = 50


def register(units: int) -> bytes:
    """A register of towers of 50 floors × 20 units, as an operator's spreadsheet lists them."""
    lines = ["building,building_name,unit,floor,kind,area_m2,state"]
    per_building = UNITS_PER_FLOOR * FLOORS
    for i in range(units):
        tower, rest = divmod(i, per_building)
        floor, door = divmod(rest, UNITS_PER_FLOOR)
        name = f"Tower {tower + 1}" if rest == 0 else ""
        lines.append(f"T{tower + 1:03d},{name},{floor + 1}{door + 1:02d},{floor + 1},residence,"
                     f"{80 + (i % 400) / 10:.2f},{rules.UNIT_STATES[i % 5]}")
    return ("\n".join(lines) + "\n").encode()


def run(units: int) -> list[dict]:
    content = register(units)
    with databases(["occupants"]) as urls:
        engine = db.make_engine(urls["occupants"])
        sessions = db.make_sessionmaker(engine)
        organization_id = str(uuid.uuid4())
        with sessions() as session, session.begin():
            raw_site = rules.create_site(session, organization_id, code="RAW", name="Raw baseline")
            imported_site = rules.create_site(session, organization_id, code="IMP", name="Imported")
            raw_ids = (raw_site.id, organization_id)
        progress(f"occupants_csv_import: {units} units, {len(content) / 1e6:.1f} MB of CSV")

        raw_seconds = _copy(engine, sessions, content, *raw_ids)
        progress(f"  raw COPY: {units / raw_seconds:.0f} units/s ({raw_seconds:.2f} s)")

        started = time.perf_counter()
        with sessions() as session, session.begin():
            site = session.get(type(imported_site), imported_site.id)
            job_id = imports.submit(session, site, filename="units.csv", content_type="text/csv", content=content,
                                    uploaded_by="bench").id
        imports.run_pending(sessions)
        import_seconds = time.perf_counter() - started
        with sessions() as session:
            job = session.get(ImportJob, job_id)
            landed = session.scalar(select(func.count()).select_from(Unit).where(Unit.site_id == imported_site.id))
            state = job.state
        if state != "applied" or landed != units:
            raise RuntimeError(f"import ended {state} with {landed} of {units} units")
        progress(f"  import: {units / import_seconds:.0f} units/s ({import_seconds:.2f} s)")
        engine.dispose()
    rate, baseline = units / import_seconds, units / raw_seconds
    return [{"bench": "occupants_csv_import", "value": round(rate, 1), "unit": "units/s",
             "baseline": round(baseline, 1), "ratio": round(rate / baseline, 3), "target": ">= 0.25"}]


def _copy(engine, sessions, content: bytes, site_id: str, organization_id: str) -> float:
    """Seconds to parse the CSV and COPY its units in, the buildings registered beforehand (untimed)."""
    with sessions() as session, session.begin():
        names = {}
        for row in csv.DictReader(io.StringIO(content.decode())):
            names.setdefault(row["building"], row["building_name"])
        session.add_all(Building(organization_id=organization_id, site_id=site_id, code=code, name=name)
                        for code, name in names.items())
    with sessions() as session:
        building_ids = dict(session.execute(
            select(Building.code, Building.id).where(Building.site_id == site_id)).all())
    started = time.perf_counter()
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor, cursor.copy(
                "COPY units (id, organization_id, site_id, building_id, number, floor, kind, state, floor_area_m2) "
                "FROM STDIN") as copy:
            for row in csv.DictReader(io.StringIO(content.decode())):
                copy.write_row((str(uuid.uuid4()), organization_id, site_id, building_ids[row["building"]],
                                row["unit"], int(row["floor"]), row["kind"], row["state"], row["area_m2"]))
        connection.commit()
    finally:
        connection.close()
    return time.perf_counter() - started
