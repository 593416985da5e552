"""HTTP boundary of places (OCC-1): sites with their calendars, buildings, units, and imports of a register.

Reading needs only sight of the site; registering and changing places needs a manager's or a CS supervisor's
role at that site.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, File, Integer, List, Nested, String
from apiflask.schemas import FileSchema
from apiflask.validators import Length, OneOf, Range, Regexp
from flask import Response
from sqlalchemy import select

from services.occupants.places import imports, rules
from services.occupants.places.tables import Building, ImportJob, ImportProblem, Site, Unit
from shared.auth import ALL_SITES, auth, in_organization, principal, require_role_at, require_roles, visible_site
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.web import db_session, get_visible

api = APIBlueprint("places", __name__, url_prefix="/v1")

_Code = String(required=True, validate=Length(1, 40))
_Name = String(required=True, validate=Length(1, 200))
_TimeZone = String(validate=Length(1, 64), metadata={"description": "IANA time zone name.",
                                                      "example": rules.DEFAULT_TIME_ZONE})
_WHY = {"description": "Why, for the audit trail."}
_EDITORS = f"Needs one of the roles at the site: {', '.join(rules.EDITORS)}."


class ReceptionFrame(Schema):
    weekday = Integer(required=True, validate=Range(1, 7), metadata={"description": "ISO weekday, 1 = Monday."})
    opens = String(required=True, validate=Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
                   metadata={"description": "Local time HH:MM.", "example": "08:30"})
    closes = String(required=True, validate=Regexp(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"),
                    metadata={"description": "Local time HH:MM, after `opens`.", "example": "18:00"})


class HolidayOverride(Schema):
    date = Date(required=True)
    kind = String(required=True, validate=OneOf(rules.HOLIDAY_KINDS),
                  metadata={"description": "`holiday`, or `workday` for a make-up working day (调休)."})
    name = String(required=True, validate=Length(1, 100), metadata={"example": "国庆节"})


class HolidayOverrideOut(HolidayOverride):
    date = String(metadata={"format": "date", "description": "YYYY-MM-DD, local to the site."})


_HOURS = "Weekly frames; several a day allowed; a weekday without frames is closed."
_OVERRIDES = "Operator overrides of the national holiday calendar, one per date."


class SiteIn(Schema):
    code = _Code
    name = _Name
    time_zone = String(validate=Length(1, 64),
                       metadata={**_TimeZone.metadata, "description": "IANA time zone name. Default: the "
                                 f"organization's policy {rules.TIME_ZONE.key} ({rules.DEFAULT_TIME_ZONE} unless "
                                 "changed)."})
    reception_hours = List(Nested(ReceptionFrame), validate=Length(max=42),
                           metadata={"description": f"{_HOURS} Default: the organization's policy "
                                                    f"{rules.RECEPTION_HOURS.key} (unless changed, SPEC X-4's "
                                                    "Mon–Fri 08:30–18:00, Sat–Sun 09:00–17:00)."})
    holiday_overrides = List(Nested(HolidayOverride), validate=Length(max=400), load_default=list,
                             metadata={"description": _OVERRIDES})


class SitePatch(Schema):
    name = String(validate=Length(1, 200))
    time_zone = _TimeZone
    reception_hours = List(Nested(ReceptionFrame), validate=Length(max=42), metadata={"description": _HOURS})
    holiday_overrides = List(Nested(HolidayOverride), validate=Length(max=400),
                             metadata={"description": _OVERRIDES})
    reason = String(load_default="", validate=Length(max=500), metadata=_WHY)


class SiteOut(Schema):
    id = String()
    code = String()
    name = String()
    time_zone = String()
    reception_hours = List(Nested(ReceptionFrame))
    holiday_overrides = List(Nested(HolidayOverrideOut))
    created_at = UtcDateTime()


class BuildingIn(Schema):
    code = _Code
    name = _Name
    floors_above_ground = Integer(load_default=None, allow_none=True, validate=Range(1, rules.FLOORS[1]))
    floors_below_ground = Integer(load_default=None, allow_none=True, validate=Range(0, -rules.FLOORS[0]))


class BuildingOut(Schema):
    id = String()
    site_id = String()
    code = String()
    name = String()
    floors_above_ground = Integer(allow_none=True)
    floors_below_ground = Integer(allow_none=True)


class UnitIn(Schema):
    number = String(required=True, validate=Length(1, 40))
    floor = Integer(required=True, validate=Range(*rules.FLOORS),
                    metadata={"description": "Negative below ground; within the building's floors where known."})
    kind = String(required=True, validate=OneOf(rules.UNIT_KINDS))
    state = String(load_default="vacant", validate=OneOf(rules.UNIT_STATES))
    floor_area_m2 = DecimalString(required=True, places=2, minimum=0, exclusive_minimum=True)


class UnitPatch(Schema):
    state = String(validate=OneOf(rules.UNIT_STATES))
    kind = String(validate=OneOf(rules.UNIT_KINDS))
    floor_area_m2 = DecimalString(places=2, minimum=0, exclusive_minimum=True,
                                  metadata={"description": "A corrected floor area in m²."})
    reason = String(required=True, validate=Length(1, 500), metadata=_WHY)


class UnitOut(Schema):
    id = String()
    site_id = String()
    building_id = String()
    number = String()
    floor = Integer()
    kind = String()
    state = String()
    floor_area_m2 = DecimalString(places=2)


class UnitQuery(PageQuery):
    building_id = String(validate=Length(1, 36))
    state = String(validate=OneOf(rules.UNIT_STATES))
    kind = String(validate=OneOf(rules.UNIT_KINDS))


class ImportIn(Schema):
    file = File(required=True, metadata={"description": "The register as .csv or .xlsx (first sheet)."})


class ImportProblemOut(Schema):
    row = Integer(metadata={"description": "Row in the file; the header is row 1."})
    field = String(attribute="column", metadata={"description": "The column at fault, or `file`."})
    value = String(metadata={"description": "What the row holds there (at most 100 characters)."})
    message = String(metadata={"description": "What is wrong and why."})


class ImportJobOut(Schema):
    id = String()
    site_id = String()
    filename = String()
    format = String()
    state = String(metadata={"description": "pending, validating, applying, applied or rejected."})
    total_rows = Integer()
    processed_rows = Integer(metadata={"description": "Rows checked so far."})
    problem_count = Integer()
    buildings_created = Integer()
    units_created = Integer()
    uploaded_by = String()
    created_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)
    problems = Nested(page_of(ImportProblemOut), metadata={"description": "The report, paged (`limit`, `cursor`)."})


def site_row(site_id: str) -> Site:
    """The site, if the caller's organization has it and the caller sees it; otherwise 404."""
    return get_visible(Site, visible_site(site_id), "site")


def _editable(site_id: str) -> frozenset[str]:
    return require_role_at(site_id, *rules.EDITORS)


# -- sites --------------------------------------------------------------------------------------------------

@api.post("/sites")
@api.auth_required(auth)
@idempotent
@api.input(SiteIn)
@api.output(SiteOut, status_code=201)
@api.doc(description="Publishes site.registered.v1. A new site has no staff yet, so this needs one of the roles "
                     f"held at every site of the organization: {', '.join(rules.EDITORS)}.")
def create_site(json_data):
    require_roles(*rules.EDITORS)
    return rules.create_site(db_session(), principal().organization_id, **json_data)


@api.get("/sites")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(SiteOut))
def list_sites(query_data):
    stmt = in_organization(select(Site), Site)
    caller = principal()
    if ALL_SITES not in caller.sites:
        stmt = stmt.where(Site.id.in_([*caller.sites, *caller.site_roles]))
    return keyset_page(db_session(), stmt, (Site.code, Site.id), query_data)


@api.get("/sites/<site_id>")
@api.auth_required(auth)
@api.output(SiteOut)
def get_site(site_id):
    return site_row(site_id)


@api.patch("/sites/<site_id>")
@api.auth_required(auth)
@api.input(SitePatch)
@api.output(SiteOut)
@api.doc(description="Change the name, time zone, reception hours or holiday overrides (each list is replaced "
                     f"whole); publishes site.updated.v1. {_EDITORS}")
def update_site(site_id, json_data):
    site = site_row(site_id)
    _editable(site.id)
    return rules.update_site(db_session(), site, actor=principal().subject, **json_data)


# -- buildings ----------------------------------------------------------------------------------------------

@api.post("/sites/<site_id>/buildings")
@api.auth_required(auth)
@idempotent
@api.input(BuildingIn)
@api.output(BuildingOut, status_code=201)
@api.doc(description=_EDITORS)
def add_building(site_id, json_data):
    site = site_row(site_id)
    _editable(site.id)
    return rules.add_building(db_session(), site, **json_data)


@api.get("/sites/<site_id>/buildings")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(BuildingOut))
def list_buildings(site_id, query_data):
    site = site_row(site_id)
    return keyset_page(db_session(), select(Building).where(Building.site_id == site.id),
                       (Building.code, Building.id), query_data)


@api.get("/buildings/<building_id>")
@api.auth_required(auth)
@api.output(BuildingOut)
def get_building(building_id):
    return get_visible(Building, building_id, "building")


# -- units --------------------------------------------------------------------------------------------------

@api.post("/buildings/<building_id>/units")
@api.auth_required(auth)
@idempotent
@api.input(UnitIn)
@api.output(UnitOut, status_code=201)
@api.doc(description=_EDITORS)
def add_unit(building_id, json_data):
    building = get_visible(Building, building_id, "building")
    _editable(building.site_id)
    return rules.add_unit(db_session(), building, **json_data)


@api.get("/sites/<site_id>/units")
@api.auth_required(auth)
@api.input(UnitQuery, location="query")
@api.output(page_of(UnitOut))
def list_units(site_id, query_data):
    stmt = select(Unit).where(Unit.site_id == site_row(site_id).id)
    for column in ("building_id", "state", "kind"):
        if query_data.get(column):
            stmt = stmt.where(getattr(Unit, column) == query_data[column])
    return keyset_page(db_session(), stmt, (Unit.building_id, Unit.number, Unit.id), query_data)


@api.get("/units/<unit_id>")
@api.auth_required(auth)
@api.output(UnitOut)
def get_unit(unit_id):
    return get_visible(Unit, unit_id, "unit")


@api.patch("/units/<unit_id>")
@api.auth_required(auth)
@api.input(UnitPatch)
@api.output(UnitOut)
@api.doc(description="A new state, or a corrected kind or floor area, with why; audited, publishes "
                     f"unit.changed.v1. {_EDITORS} A state not reachable from the current one answers 409 "
                     f"naming the allowed ones:\n\n```mermaid\n{rules.UNIT_STATE.mermaid()}\n```")
def change_unit(unit_id, json_data):
    unit = get_visible(Unit, unit_id, "unit")
    held = _editable(unit.site_id)
    return rules.change_unit(db_session(), unit, actor=principal().subject, held_roles=held, **json_data)


# -- imports ------------------------------------------------------------------------------------------------

@api.post("/sites/<site_id>/imports")
@api.auth_required(auth)
@idempotent
@api.input(ImportIn, location="files")
@api.output(ImportJobOut, status_code=202)
@api.doc(description=(
    "Upload a register of the site's buildings and units (multipart, field `file`; .csv or .xlsx, at most "
    f"{imports.MAX_BYTES // (1024 * 1024)} MiB and {imports.MAX_ROWS} rows). The answer is the import job; "
    "follow it at `GET /v1/imports/{id}`. It applies whole, or is rejected with a report of every problem "
    f"and changes nothing. {_EDITORS} A template is at `GET /v1/imports/template`.\n\n"
    + imports.COLUMNS_HELP
    + f"\n\n```mermaid\n{imports.IMPORT.mermaid()}\n```"))
def upload_import(site_id, files_data):
    site = site_row(site_id)
    _editable(site.id)
    upload = files_data["file"]
    content = upload.stream.read(imports.MAX_BYTES + 1)
    job = imports.submit(db_session(), site, filename=upload.filename or "", content_type=upload.mimetype or "",
                         content=content, uploaded_by=principal().subject)
    return _job(job, {})


@api.get("/imports/template")
@api.auth_required(auth)
@api.output(FileSchema, content_type="text/csv", status_code=200)
@api.doc(description="A sample register with every column, to fill in and upload.")
def import_template():
    return Response(imports.TEMPLATE.encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="units-template.csv"'})


@api.get("/imports/<job_id>")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(ImportJobOut)
@api.doc(description="The import's state, progress and report of problems (paged).")
def get_import(job_id, query_data):
    return _job(get_visible(ImportJob, job_id, "import"), query_data)


def _job(job: ImportJob, page: dict) -> dict:
    problems = keyset_page(db_session(), select(ImportProblem).where(ImportProblem.job_id == job.id),
                           (ImportProblem.id,), page)
    shown = (name for name in ImportJobOut._declared_fields if name != "problems")
    return {**{name: getattr(job, name) for name in shown}, "problems": problems}
