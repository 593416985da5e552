"""Bulk import of a site's buildings and units from a register kept as CSV or XLSX (OCC-1).

An upload becomes an `import_jobs` row; the worker's `places-imports` job claims it and reads the whole file,
checking every row, before it writes anything. A file with any problem is rejected with a report of each one
(row, column, value, why) and changes nothing; a clean file is applied in one transaction, every unit with its
unit.registered.v1 event, so it applies whole or not at all. A worker that dies half-way leaves its claim to
lapse; the next claim starts the job over, which is safe because nothing was written before the final commit.

The columns are described in COLUMNS_HELP (shown in the API docs); TEMPLATE is a filled-in sample.
"""

from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import openpyxl
from marshmallow import ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.occupants.models import chassis
from services.occupants.places import events, rules
from services.occupants.places.tables import Building, ImportJob, ImportProblem, Site, Unit
from shared import audit, bulk
from shared.bus.outbox import record_many
from shared.fields import DecimalString
from shared.problems import Problem
from shared.workflow import Step, Workflow

log = logging.getLogger(__name__)

COLUMNS = ("building", "building_name", "unit", "floor", "kind", "area_m2", "state")
REQUIRED = ("building", "unit", "floor", "kind", "area_m2")
FORMATS = {"csv": ("text/csv", "application/vnd.ms-excel", "text/plain", "application/octet-stream"),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "application/octet-stream")}
MAX_BYTES = 32 * 1024 * 1024
MAX_ROWS = 200_000
CHUNK_ROWS = 5_000  # rows checked between two progress updates, and written per statement
LEASE = timedelta(minutes=10)
TEMPLATE = (
    "building,building_name,unit,floor,kind,area_m2,state\n"
    "A,Tower A 一号楼,101,1,residence,89.50,vacant\n"
    "A,,102,1,residence,92.00,occupied\n"
    "A,,B1-07,-1,parking,12.50,rented\n"
    "S,Shops 商业街,S01,1,商铺,45.00,空置\n"
)
COLUMNS_HELP = """\
The header row names the columns, in any order, in any case:

```
  building       building code, e.g. "A" (required, at most 40 characters)
  building_name  the building's name: required on at least one row of a building the site does not have yet,
                 which the import then registers; must match the name of a building that exists
  unit           unit number, unique within its building (required, at most 40 characters)
  floor          whole number from -10 to 200, negative below ground (required)
  kind           residence, office, shop, parking, storage, or 住宅, 办公, 商铺, 车位, 储藏室 (required)
  area_m2        floor area in m², e.g. 89.50: more than 0, at most two decimal places (required)
  state          vacant (the default when empty), occupied, renovating, in_custody, rented, or 空置, 已入住,
                 装修中, 托管, 出租
```

CSV files are UTF-8 (with or without BOM) or GB18030, as Excel saves them on a Chinese system.
"""
KIND_NAMES = {"住宅": "residence", "办公": "office", "商铺": "shop", "车位": "parking", "储藏室": "storage"}
STATE_NAMES = {"空置": "vacant", "已入住": "occupied", "装修中": "renovating", "托管": "in_custody", "出租": "rented"}
_LENGTHS = {"building": 40, "building_name": 200, "unit": 40}
_AREA = DecimalString(places=2, minimum=0, exclusive_minimum=True)

# pending -> validating -> applying -> applied, or rejected with its report. A claim whose worker died
# (its lease lapsed) is validated again from the start.
IMPORT = Workflow("import", "pending", [
    Step("pending", "validate", "validating"),
    Step("validating", "validate", "validating"),
    Step("applying", "validate", "validating"),
    Step("validating", "reject", "rejected"),
    Step("validating", "apply", "applying"),
    Step("applying", "reject", "rejected"),
    Step("applying", "finish", "applied"),
], final=("applied", "rejected"))
_CLAIMABLE = tuple(step.source for step in IMPORT.steps if step.action == "validate")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- upload -------------------------------------------------------------------------------------------------

def file_format(filename: str, content_type: str) -> str:
    """"csv" or "xlsx" from the name's extension, if the part's content type fits it; otherwise 422."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in FORMATS:
        raise Problem(422, "Unprocessable Content", "Upload a .csv or .xlsx file.", field="file")
    if content_type.split(";")[0].strip().lower() not in FORMATS[extension]:
        raise Problem(422, "Unprocessable Content",
                      f"A .{extension} file cannot have content type {content_type!r}.", field="file")
    return extension


def submit(session: Session, site: Site, *, filename: str, content_type: str, content: bytes,
           uploaded_by: str) -> ImportJob:
    """Check the file's size, type and header row now, so a wrong file is refused at once (422), and leave
    the rows to the worker."""
    fmt = file_format(filename, content_type)
    if len(content) > MAX_BYTES:
        raise Problem(422, "Unprocessable Content", f"At most {MAX_BYTES // (1024 * 1024)} MiB.", field="file")
    header, _, _ = _rows(content, fmt)
    complaints = [f"{what} columns: {', '.join(names)}" for what, names in (
        ("missing", [c for c in REQUIRED if c not in header]),
        ("unknown", [c for c in header if c and c not in COLUMNS]),
        ("repeated", [c for c in COLUMNS if header.count(c) > 1]),
    ) if names]
    if complaints:
        raise Problem(422, "Unprocessable Content", f"{'; '.join(complaints)}. The columns are: {', '.join(COLUMNS)}.",
                      field="file")
    job = ImportJob(organization_id=site.organization_id, site_id=site.id,
                    filename=filename.replace("\x00", "")[:200], format=fmt,
                    content=content, state=IMPORT.initial, uploaded_by=uploaded_by)
    session.add(job)
    session.flush()
    return job


def _rows(content: bytes, fmt: str) -> tuple[list[str], Iterator[list[str]], int]:
    """The header's column names, an iterator of the data rows as text and how many rows to expect (for the
    progress shown); 422 for an unreadable file."""
    try:
        header, rows, expected = (_csv if fmt == "csv" else _xlsx)(content)
    except Exception as exc:  # noqa: BLE001 - whatever a malformed upload makes the parser raise is its fault
        raise _unreadable(fmt, exc) from exc
    return header, _guarded(rows, fmt), expected


def _guarded(rows: Iterator, fmt: str) -> Iterator[list[str]]:
    """A sheet is parsed as it streams, so a malformed one fails half-way: that too is the file's fault."""
    try:
        yield from rows
    except Exception as exc:  # noqa: BLE001 - see _rows
        raise _unreadable(fmt, exc) from exc


def _unreadable(fmt: str, exc: Exception) -> Problem:
    return Problem(422, "Unprocessable Content", f"Not a readable .{fmt} file ({exc.__class__.__name__}).",
                   field="file")


def _csv(content: bytes):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("gb18030")
    if "\x00" in text:
        raise ValueError("NUL character")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader)]
    rows = list(reader)  # a few seconds for the largest file, and then its length is known
    return header, iter(rows), len(rows)


def _xlsx(content: bytes):
    """read_only streams the sheet's XML instead of building every cell, so memory stays flat; the row count
    is the one the sheet declares (its dimension), if it does."""
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [_cell(value).lower() for value in next(rows)]

    def data():
        try:
            for values in rows:
                yield [_cell(value) for value in values]
        finally:
            workbook.close()

    return header, data(), max((sheet.max_row or 1) - 1, 0)


def _cell(value) -> str:
    """Spreadsheet numbers as the text an operator typed: 101.0 is unit "101", 89.5 is "89.5"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().replace("\x00", "")


# -- the worker's job ---------------------------------------------------------------------------------------

def run_pending(sessions: sessionmaker) -> int:
    """Claim and process import jobs, one at a time, until none is waiting; answers how many it processed."""
    processed = 0
    while (claim := _claim(sessions)) is not None:
        process(sessions, *claim)
        processed += 1
    return processed


def _claim(sessions: sessionmaker) -> tuple[str, str] | None:
    """(job id, claim token) of the oldest waiting job, taken with a conditional UPDATE so only one worker
    gets it; every later write of this worker's is conditional on the token, so a worker that lost its claim
    (it stalled past the lease) cannot write the outcome too."""
    claimable = or_(ImportJob.state == "pending",
                    and_(ImportJob.state.in_(_CLAIMABLE), ImportJob.heartbeat_at < _now() - LEASE))
    for _ in range(10):  # another worker may win each race; give up for this round after a few
        with sessions() as session, session.begin():
            job_id = session.scalar(select(ImportJob.id).where(claimable).order_by(ImportJob.created_at).limit(1))
            if job_id is None:
                return None
            token = str(uuid.uuid4())
            taken = session.execute(
                update(ImportJob).where(ImportJob.id == job_id, claimable)
                .values(state=IMPORT.step(IMPORT.initial, "validate").target, claim=token, heartbeat_at=_now(),
                        processed_rows=0)
            ).rowcount
        if taken:
            return job_id, token
    return None


class ClaimLost(Exception):
    """Another worker took the job over; this one's work is rolled back."""


def _advance(session: Session, job_id: str, claim: str, **values) -> None:
    if not session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.claim == claim)
                           .values(heartbeat_at=_now(), **values)).rowcount:
        raise ClaimLost(job_id)


def process(sessions: sessionmaker, job_id: str, claim: str) -> str:
    """Validate the claimed job's file in chunks (progress committed after each), then reject it with its
    report or apply it in one transaction. Answers the final state."""
    with sessions() as session:
        job = session.get(ImportJob, job_id)
        content, fmt, site_id = job.content, job.format, job.site_id
    try:
        plan = _validate(sessions, job_id, claim, site_id, content, fmt)
        if plan.clean:
            with sessions() as session, session.begin():
                _advance(session, job_id, claim, state=IMPORT.step("validating", "apply").target)
        with sessions() as session, session.begin():
            if plan.clean:
                # Checked again inside the transaction that writes: a unit or building may have come meanwhile.
                plan.check_database(session)
            return (_apply if plan.clean else _reject)(session, job_id, claim, plan)
    except ClaimLost:
        log.warning("import %s was taken over by another worker", job_id)
        return "taken over"


class Plan:
    """What a file would register, and the problems found in it."""

    def __init__(self, site: Site):
        self.site = site
        self.units: list[dict] = []        # checked rows: building code, number, floor, kind, area, state, row
        self.names: dict[str, tuple[str, int]] = {}   # building code -> (name the file gives, row that gave it)
        self.seen: dict[tuple[str, str], int] = {}    # (building, unit) -> first row
        self.problems: list[dict] = []
        self.new_buildings: dict[str, dict] = {}
        self.buildings: dict[str, Building] = {}

    @property
    def clean(self) -> bool:
        return not self.problems

    def problem(self, row: int, column: str, value: str, message: str) -> None:
        self.problems.append({"row": row, "column": column, "value": value[:100], "message": message[:300]})

    def check(self, number: int, cells: dict[str, str]) -> None:
        """The row's own checks, and a unit number the file already had."""
        before = len(self.problems)
        for column, limit in _LENGTHS.items():
            if len(cells[column]) > limit:
                self.problem(number, column, cells[column], f"At most {limit} characters.")
        for column in REQUIRED:
            if not cells[column]:
                self.problem(number, column, "", "Required.")
        floor = None
        if cells["floor"]:
            try:
                floor = int(cells["floor"])
            except ValueError:
                self.problem(number, "floor", cells["floor"], "Not a whole number.")
            else:
                if not rules.FLOORS[0] <= floor <= rules.FLOORS[1]:
                    self.problem(number, "floor", cells["floor"],
                                 f"Must be from {rules.FLOORS[0]} to {rules.FLOORS[1]}.")
        kind = KIND_NAMES.get(cells["kind"], cells["kind"].lower())
        if cells["kind"] and kind not in rules.UNIT_KINDS:
            self.problem(number, "kind", cells["kind"], f"Unknown kind; one of: {', '.join(rules.UNIT_KINDS)}.")
        state = STATE_NAMES.get(cells["state"], cells["state"].lower()) or "vacant"
        if state not in rules.UNIT_STATES:
            self.problem(number, "state", cells["state"], f"Unknown state; one of: {', '.join(rules.UNIT_STATES)}.")
        area = None
        if cells["area_m2"]:
            try:
                area = _AREA.deserialize(cells["area_m2"])
            except ValidationError as exc:
                self.problem(number, "area_m2", cells["area_m2"], " ".join(exc.messages))
        code, unit = cells["building"], cells["unit"]
        if cells["building_name"]:
            name, first = self.names.setdefault(code, (cells["building_name"], number))
            if name != cells["building_name"]:
                self.problem(number, "building_name", cells["building_name"],
                             f"Row {first} names building {code!r} {name!r}.")
        first = self.seen.setdefault((code, unit), number)
        if first != number and code and unit:
            self.problem(number, "unit", unit, f"Unit {unit!r} of building {code!r} is on row {first} already.")
        if len(self.problems) == before:
            self.units.append({"row": number, "building": code, "number": unit, "floor": floor, "kind": kind,
                               "floor_area_m2": area, "state": state})

    def check_database(self, session: Session) -> None:
        """Against the site as it is: buildings the file names but neither has nor registers, names that
        differ from a registered building's, floors outside a building's, unit numbers already taken."""
        self.buildings = {b.code: b for b in session.scalars(select(Building).where(Building.site_id == self.site.id))}
        taken = set(session.execute(select(Building.code, Unit.number).join(Unit, Unit.building_id == Building.id)
                                    .where(Building.site_id == self.site.id)).tuples())
        for code, (name, row) in self.names.items():
            if code in self.buildings and self.buildings[code].name != name:
                self.problem(row, "building_name", name,
                             f"Building {code!r} is registered as {self.buildings[code].name!r}.")
        self.new_buildings = {code: {"id": str(uuid.uuid4()), "organization_id": self.site.organization_id,
                                     "site_id": self.site.id, "code": code, "name": name,
                                     "floors_above_ground": None, "floors_below_ground": None}
                              for code, (name, _) in self.names.items() if code not in self.buildings}
        for unit in self.units:
            building = self.buildings.get(unit["building"])
            if building is None and unit["building"] not in self.new_buildings:
                self.problem(unit["row"], "building", unit["building"],
                             f"Building {unit['building']!r} is not on this site; give its building_name to "
                             "register it.")
            elif building is not None:
                wrong_floor = rules.floor_problem(unit["floor"], building.floors_above_ground,
                                                  building.floors_below_ground)
                if wrong_floor:
                    self.problem(unit["row"], "floor", str(unit["floor"]), wrong_floor)
            if (unit["building"], unit["number"]) in taken:
                self.problem(unit["row"], "unit", unit["number"],
                             f"Unit {unit['number']!r} of building {unit['building']!r} exists already.")
        self.problems.sort(key=lambda p: p["row"])


def _validate(sessions: sessionmaker, job_id: str, claim: str, site_id: str, content: bytes, fmt: str) -> Plan:
    with sessions() as session:
        plan = Plan(session.get(Site, site_id))
        session.expunge(plan.site)
    number = 1
    try:
        header, rows, total = _rows(content, fmt)
        with sessions() as session, session.begin():
            _advance(session, job_id, claim, total_rows=total)
        positions = [(column, header.index(column) if column in header else None) for column in COLUMNS]
        done = 0
        for number, values in enumerate(rows, start=2):
            if done >= MAX_ROWS:
                plan.problem(number, "file", "", f"At most {MAX_ROWS} rows in one import.")
                break
            if not any(values):
                continue  # a blank line between blocks of a register
            values = [v.strip() for v in values] + [""] * (len(header) - len(values))
            plan.check(number, {column: "" if i is None else values[i] for column, i in positions})
            done += 1
            if done % CHUNK_ROWS == 0:
                with sessions() as session, session.begin():
                    _advance(session, job_id, claim, processed_rows=done, total_rows=max(total, done))
    except Problem as unreadable:
        plan.problem(number, "file", "", unreadable.detail)
        return plan
    with sessions() as session:
        if not plan.problems and not plan.units:
            plan.problem(2, "file", "", "The file has no rows.")
        plan.check_database(session)
    with sessions() as session, session.begin():
        _advance(session, job_id, claim, processed_rows=done, total_rows=done)
    return plan


def _apply(session: Session, job_id: str, claim: str, plan: Plan) -> str:
    site = plan.site
    ids = {code: building.id for code, building in plan.buildings.items()}
    ids.update({code: row["id"] for code, row in plan.new_buildings.items()})
    buildings = list(plan.new_buildings.values())
    bulk.insert(session, Building.__table__, buildings)
    record_many(session, chassis.outbox, [events.building_registered(b) for b in buildings],
                organization_id=site.organization_id)
    for start in range(0, len(plan.units), CHUNK_ROWS):
        units = [{"id": str(uuid.uuid4()), "organization_id": site.organization_id, "site_id": site.id,
                  "building_id": ids[unit["building"]], "number": unit["number"], "floor": unit["floor"],
                  "kind": unit["kind"], "state": unit["state"], "floor_area_m2": unit["floor_area_m2"]}
                 for unit in plan.units[start:start + CHUNK_ROWS]]
        bulk.insert(session, Unit.__table__, units)
        record_many(session, chassis.outbox, [events.unit_registered(unit) for unit in units],
                    organization_id=site.organization_id)
    return _finish(session, job_id, claim, plan, "finish", buildings_created=len(buildings),
                   units_created=len(plan.units))


def _reject(session: Session, job_id: str, claim: str, plan: Plan) -> str:
    for start in range(0, len(plan.problems), CHUNK_ROWS):
        bulk.insert(session, ImportProblem.__table__,
                    [{"job_id": job_id, **problem} for problem in plan.problems[start:start + CHUNK_ROWS]])
    return _finish(session, job_id, claim, plan, "reject", problem_count=len(plan.problems))


def _finish(session: Session, job_id: str, claim: str, plan: Plan, action: str, **counts) -> str:
    _advance(session, job_id, claim)  # still ours, or ClaimLost rolls back everything written with it
    job = session.get(ImportJob, job_id)
    before = job.state
    state = IMPORT.step(before, action).target
    _advance(session, job_id, claim, state=state, content=b"", finished_at=_now(), **counts)
    audit.record(session, chassis.audit_log, organization_id=job.organization_id, site_id=job.site_id,
                 entity="import", entity_id=job_id, action=action, from_state=before, to_state=state,
                 actor=job.uploaded_by, reason=f"{job.filename}: {len(plan.units)} rows checked, "
                                               f"{len(plan.problems)} problems", data=counts)
    return state
