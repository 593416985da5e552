"""Places (OCC-1) on SQLite: sites with their calendars, buildings, units, their events, and imports."""

import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from psp.occupants.v1 import places_pb2
from sqlalchemy import func, select, update

from services.occupants.models import chassis
from services.occupants.places import imports
from services.occupants.places.tables import ImportJob, Unit
from shared.bus.envelope import Envelope
from tests.conftest import ORG_B, bearer

MANAGER = bearer(roles=("site_manager",))
SPECIALIST = bearer(roles=("cs_specialist",))
HEADER = "building,building_name,unit,floor,kind,area_m2,state\n"


def sessions(client):
    return client.application.extensions["psp"].sessions


def events(client, message_type):
    """Payloads of this type in the outbox, oldest first."""
    with sessions(client)() as session:
        envelopes = [Envelope.FromString(e) for e in session.scalars(
            select(chassis.outbox.c.envelope).order_by(chassis.outbox.c.id))]
    found = []
    for envelope in envelopes:
        if envelope.payload.Is(message_type.DESCRIPTOR):
            payload = message_type()
            envelope.payload.Unpack(payload)
            found.append(payload)
    return found


def audit_rows(client, entity_id):
    with sessions(client)() as session:
        return session.execute(select(chassis.audit_log).where(chassis.audit_log.c.entity_id == entity_id)
                               .order_by(chassis.audit_log.c.id)).all()


def count(client, model):
    with sessions(client)() as session:
        return session.scalar(select(func.count()).select_from(model))


def problem_field(response, status=422):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json().get("field")


@pytest.fixture
def building(occupants, site):
    response = occupants.post(f"/v1/sites/{site['id']}/buildings", headers=MANAGER,
                              json={"code": "A", "name": "Tower A", "floors_above_ground": 30,
                                    "floors_below_ground": 2})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add_unit(client, building, number="101", floor=1, **fields):
    body = {"number": number, "floor": floor, "kind": "residence", "floor_area_m2": "89.50", **fields}
    return client.post(f"/v1/buildings/{building['id']}/units", json=body, headers=MANAGER)


# -- sites and their calendars ------------------------------------------------------------------------------

def test_a_site_gets_x4s_hours_and_shanghai_time_and_is_published_with_them(occupants, site):
    assert site["time_zone"] == "Asia/Shanghai" and site["holiday_overrides"] == []
    assert {(f["weekday"], f["opens"], f["closes"]) for f in site["reception_hours"]} == {
        *((d, "08:30", "18:00") for d in range(1, 6)), (6, "09:00", "17:00"), (7, "09:00", "17:00")}
    [registered] = events(occupants, places_pb2.SiteRegistered)
    assert registered.site_id == site["id"] and registered.time_zone == "Asia/Shanghai"
    assert [(f.weekday, f.opens, f.closes) for f in registered.reception_hours][:1] == [(1, "08:30", "18:00")]
    assert occupants.get(f"/v1/sites/{site['id']}", headers=SPECIALIST).get_json() == site


@pytest.mark.parametrize(("calendar", "field"), [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"reception_hours": [{"weekday": 1, "opens": "18:00", "closes": "08:30"}]}, "reception_hours.0.closes"),
    ({"reception_hours": [{"weekday": 1, "opens": "08:30", "closes": "12:00"},
                          {"weekday": 1, "opens": "11:00", "closes": "18:00"}]}, "reception_hours.1.opens"),
    ({"reception_hours": [{"weekday": 8, "opens": "08:30", "closes": "12:00"}]}, "reception_hours.0.weekday"),
    ({"reception_hours": [{"weekday": 1, "opens": "8:30", "closes": "12:00"}]}, "reception_hours.0.opens"),
    ({"holiday_overrides": [{"date": "2027-10-01", "kind": "holiday", "name": "国庆节"},
                            {"date": "2027-10-01", "kind": "workday", "name": "调休"}]}, "holiday_overrides.1.date"),
    ({"holiday_overrides": [{"date": "2027-10-01", "kind": "party", "name": "x"}]}, "holiday_overrides.0.kind"),
])
def test_a_bad_calendar_is_refused_naming_the_field_and_changes_nothing(occupants, site, calendar, field):
    assert problem_field(occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay", **calendar},
                                        headers=MANAGER)) == field
    assert problem_field(occupants.patch(f"/v1/sites/{site['id']}", json=calendar, headers=MANAGER)) == field
    assert occupants.get(f"/v1/sites/{site['id']}", headers=MANAGER).get_json() == site
    assert [s["code"] for s in occupants.get("/v1/sites", headers=MANAGER).get_json()["items"]] == ["HG"]
    assert len(events(occupants, places_pb2.SiteUpdated)) == 0


def test_a_manager_at_the_site_changes_hours_and_overrides_audited_and_published(occupants, site):
    calendar = {
        "time_zone": "Asia/Hong_Kong",
        "reception_hours": [{"weekday": 1, "opens": "13:30", "closes": "18:00"},
                            {"weekday": 1, "opens": "08:30", "closes": "12:00"}],
        "holiday_overrides": [{"date": "2027-10-09", "kind": "workday", "name": "调休上班"},
                              {"date": "2027-10-01", "kind": "holiday", "name": "国庆节"}],
        "reason": "Lunch break from November",
    }
    supervisor = bearer(roles=(), sites=(), site_roles={site["id"]: ["cs_supervisor"]})
    response = occupants.patch(f"/v1/sites/{site['id']}", json=calendar, headers=supervisor)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert [f["opens"] for f in changed["reception_hours"]] == ["08:30", "13:30"]
    assert [o["date"] for o in changed["holiday_overrides"]] == ["2027-10-01", "2027-10-09"]
    [updated] = events(occupants, places_pb2.SiteUpdated)
    assert updated.time_zone == "Asia/Hong_Kong"
    assert [(o.date, o.kind, o.name) for o in updated.holiday_overrides] == [
        ("2027-10-01", "holiday", "国庆节"), ("2027-10-09", "workday", "调休上班")]
    [entry] = audit_rows(occupants, site["id"])
    assert entry.reason == "Lunch break from November" and entry.data["before"]["time_zone"] == "Asia/Shanghai"


def test_changing_a_site_needs_a_manager_or_supervisor_there_and_another_organization_sees_nothing(occupants, site):
    other = occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay"}, headers=MANAGER).get_json()
    body = {"name": "Renamed"}
    assert occupants.patch(f"/v1/sites/{site['id']}", json=body, headers=SPECIALIST).status_code == 403
    elsewhere = bearer(roles=(), sites=("*",), site_roles={other["id"]: ["site_manager"]})
    assert occupants.patch(f"/v1/sites/{site['id']}", json=body, headers=elsewhere).status_code == 403
    assert occupants.patch(f"/v1/sites/{site['id']}", json=body, headers=bearer(ORG_B, roles=("site_manager",))
                           ).status_code == 404
    assert occupants.get(f"/v1/sites/{site['id']}", headers=bearer(ORG_B)).status_code == 404
    assert problem_field(occupants.patch(f"/v1/sites/{site['id']}", json={"reason": "nothing"}, headers=MANAGER)
                         ) == "_schema"
    assert occupants.get(f"/v1/sites/{site['id']}", headers=MANAGER).get_json()["name"] == "Harbour Gardens"
    assert audit_rows(occupants, site["id"]) == [] and events(occupants, places_pb2.SiteUpdated) == []


def test_a_site_is_created_only_with_a_managers_or_supervisors_role_across_the_organization(occupants, site):
    body = {"code": "NB", "name": "North Bay"}
    assert occupants.post("/v1/sites", json=body, headers=SPECIALIST).status_code == 403
    held_at_one_site = bearer(roles=("cs_specialist",), site_roles={site["id"]: ["site_manager"]})
    assert occupants.post("/v1/sites", json=body, headers=held_at_one_site).status_code == 403
    assert [s["code"] for s in occupants.get("/v1/sites", headers=MANAGER).get_json()["items"]] == ["HG"]
    assert len(events(occupants, places_pb2.SiteRegistered)) == 1
    assert occupants.post("/v1/sites", json=body, headers=bearer(roles=("cs_supervisor",))).status_code == 201


def test_sites_are_listed_a_page_at_a_time_and_only_those_the_caller_sees(occupants, site):
    for code in ("NB", "SB", "WB"):
        occupants.post("/v1/sites", json={"code": code, "name": code}, headers=MANAGER)
    first = occupants.get("/v1/sites?limit=2", headers=SPECIALIST).get_json()
    rest = occupants.get(f"/v1/sites?limit=2&cursor={first['next_cursor']}", headers=SPECIALIST).get_json()
    assert [s["code"] for s in first["items"] + rest["items"]] == ["HG", "NB", "SB", "WB"]
    assert rest["next_cursor"] is None
    scoped = bearer(sites=(), site_roles={site["id"]: ["steward"]})
    assert [s["code"] for s in occupants.get("/v1/sites", headers=scoped).get_json()["items"]] == ["HG"]
    assert problem_field(occupants.get("/v1/sites?cursor=bogus", headers=SPECIALIST)) == "cursor"


# -- buildings and units ------------------------------------------------------------------------------------

def test_buildings_and_units_are_registered_by_a_manager_and_published(occupants, site, building):
    assert building["floors_above_ground"] == 30
    [registered] = events(occupants, places_pb2.BuildingRegistered)
    assert (registered.code, registered.floors_above_ground, registered.floors_below_ground) == ("A", 30, 2)
    response = add_unit(occupants, building, number="B1-07", floor=-1, kind="parking", floor_area_m2="12.5")
    assert response.status_code == 201, response.get_json()
    unit = response.get_json()
    [published] = events(occupants, places_pb2.UnitRegistered)
    assert (published.unit_id, published.building_id, published.floor, published.number, published.kind,
            published.floor_area_m2, published.state) == (unit["id"], building["id"], -1, "B1-07", "parking",
                                                          "12.50", "vacant")
    assert occupants.get(f"/v1/units/{unit['id']}", headers=SPECIALIST).get_json() == unit
    assert occupants.get(f"/v1/buildings/{building['id']}", headers=SPECIALIST).get_json() == building


def test_units_outside_the_buildings_floors_or_with_a_bad_area_are_refused(occupants, site, building):
    assert problem_field(add_unit(occupants, building, floor=31)) == "floor"
    assert problem_field(add_unit(occupants, building, floor=-3)) == "floor"
    assert problem_field(add_unit(occupants, building, floor_area_m2="12.345")) == "floor_area_m2"
    assert problem_field(add_unit(occupants, building, floor_area_m2="0")) == "floor_area_m2"
    assert problem_field(add_unit(occupants, building, kind="castle")) == "kind"
    assert add_unit(occupants, building).status_code == 201
    assert problem_field(add_unit(occupants, building), status=409) == "number"
    assert count(occupants, Unit) == 1 and len(events(occupants, places_pb2.UnitRegistered)) == 1


def test_registering_places_needs_a_manager_or_supervisor_at_that_site(occupants, site, building):
    other = occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay"}, headers=MANAGER).get_json()
    elsewhere = bearer(roles=("cs_specialist",), site_roles={other["id"]: ["cs_supervisor"]})
    body = {"number": "101", "floor": 1, "kind": "residence", "floor_area_m2": "89.50"}
    assert occupants.post(f"/v1/buildings/{building['id']}/units", json=body, headers=elsewhere).status_code == 403
    assert occupants.post(f"/v1/sites/{site['id']}/buildings", json={"code": "B", "name": "B"},
                          headers=elsewhere).status_code == 403
    assert occupants.post(f"/v1/buildings/{building['id']}/units", json=body,
                          headers=bearer(ORG_B, roles=("site_manager",))).status_code == 404
    here = bearer(roles=("cs_specialist",), site_roles={site["id"]: ["cs_supervisor"]})
    assert occupants.post(f"/v1/buildings/{building['id']}/units", json=body, headers=here).status_code == 201
    assert occupants.get(f"/v1/buildings/{building['id']}", headers=bearer(ORG_B)).status_code == 404


def test_units_are_listed_by_building_state_and_kind_a_page_at_a_time(occupants, site, building):
    other = occupants.post(f"/v1/sites/{site['id']}/buildings", json={"code": "B", "name": "B"},
                           headers=MANAGER).get_json()
    for number, kind, state in (("101", "residence", "vacant"), ("102", "residence", "occupied"),
                                ("103", "shop", "occupied")):
        assert add_unit(occupants, building, number=number, kind=kind, state=state).status_code == 201
    assert add_unit(occupants, other, number="101").status_code == 201
    url = f"/v1/sites/{site['id']}/units"

    def numbers(query):
        page = occupants.get(f"{url}?{query}", headers=SPECIALIST).get_json()
        return [(u["building_id"] == building["id"], u["number"]) for u in page["items"]], page["next_cursor"]

    assert numbers(f"building_id={building['id']}&state=occupied") == ([(True, "102"), (True, "103")], None)
    assert numbers("kind=shop") == ([(True, "103")], None)
    first, cursor = numbers("limit=3")
    rest, end = numbers(f"limit=3&cursor={cursor}")
    assert len(first) == 3 and len(rest) == 1 and end is None and set(first).isdisjoint(rest)
    assert problem_field(occupants.get(f"{url}?state=haunted", headers=SPECIALIST)) == "state"
    assert occupants.get(url, headers=bearer(ORG_B)).status_code == 404


# -- unit state ---------------------------------------------------------------------------------------------

def test_a_unit_state_change_is_audited_with_its_reason_and_published(occupants, site, building):
    unit = add_unit(occupants, building).get_json()
    response = occupants.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                               json={"state": "occupied", "reason": "Keys handed over"})
    assert response.status_code == 200 and response.get_json()["state"] == "occupied"
    [changed] = events(occupants, places_pb2.UnitChanged)
    assert (changed.state, changed.previous_state, changed.reason, changed.floor_area_m2) == (
        "occupied", "vacant", "Keys handed over", "89.50")
    [entry] = audit_rows(occupants, unit["id"])
    assert (entry.from_state, entry.to_state, entry.reason, entry.actor) == ("vacant", "occupied",
                                                                             "Keys handed over", "tester")
    corrected = occupants.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                                json={"floor_area_m2": "91.20", "reason": "Surveyed again"})
    assert corrected.get_json()["floor_area_m2"] == "91.20"
    assert events(occupants, places_pb2.UnitChanged)[-1].floor_area_m2 == "91.20"
    assert audit_rows(occupants, unit["id"])[-1].data == {"floor_area_m2": {"from": "89.50", "to": "91.20"}}


def test_a_state_the_unit_cannot_reach_answers_409_naming_the_allowed_ones(occupants, site, building):
    unit = add_unit(occupants, building, state="occupied").get_json()
    response = occupants.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                               json={"state": "in_custody", "reason": "Owner abroad"})
    assert problem_field(response, status=409) == "action"
    assert response.get_json()["allowed"] == ["vacant", "rented", "renovating"]
    assert problem_field(occupants.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                                         json={"state": "occupied", "reason": "again"}), status=409) == "action"
    for state in ("vacant", "in_custody", "renovating", "rented", "vacant"):
        assert occupants.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                               json={"state": state, "reason": "walk"}).status_code == 200
    assert [e.state for e in events(occupants, places_pb2.UnitChanged)] == [
        "vacant", "in_custody", "renovating", "rented", "vacant"]


def test_a_unit_change_needs_a_reason_a_role_at_the_site_and_the_right_organization(occupants, site, building):
    unit = add_unit(occupants, building).get_json()
    url = f"/v1/units/{unit['id']}"
    assert problem_field(occupants.patch(url, headers=MANAGER, json={"state": "occupied"})) == "reason"
    assert problem_field(occupants.patch(url, headers=MANAGER, json={"reason": "nothing"})) == "state"
    assert occupants.patch(url, headers=SPECIALIST, json={"state": "occupied", "reason": "x"}).status_code == 403
    assert occupants.patch(url, headers=bearer(ORG_B, roles=("site_manager",)),
                           json={"state": "occupied", "reason": "x"}).status_code == 404
    assert occupants.get(url, headers=MANAGER).get_json()["state"] == "vacant"
    assert events(occupants, places_pb2.UnitChanged) == [] and audit_rows(occupants, unit["id"]) == []


# -- imports ------------------------------------------------------------------------------------------------

def upload(client, site, content: bytes, filename="units.csv", content_type="text/csv", headers=MANAGER):
    return client.post(f"/v1/sites/{site['id']}/imports", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), filename, content_type)})


def run_jobs(client):
    return imports.run_pending(sessions(client))


def job(client, job_id, query=""):
    response = client.get(f"/v1/imports/{job_id}{query}", headers=SPECIALIST)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_clean_csv_applies_whole_with_an_event_per_unit(occupants, site, building):
    csv = (HEADER + "A,,1201,12,residence,89.50,occupied\n" + "A,,1202,12,住宅,92,\n\n"
           + "C,Car park 停车场,P-001,-1,parking,12.50,出租\n").encode("utf-8-sig")
    response = upload(occupants, site, csv)
    assert response.status_code == 202, response.get_json()
    pending = response.get_json()
    assert (pending["state"], pending["filename"], pending["format"]) == ("pending", "units.csv", "csv")
    assert run_jobs(occupants) == 1 and run_jobs(occupants) == 0  # claimed once
    done = job(occupants, pending["id"])
    assert (done["state"], done["total_rows"], done["processed_rows"], done["units_created"],
            done["buildings_created"], done["problems"]["items"]) == ("applied", 3, 3, 3, 1, [])
    units = occupants.get(f"/v1/sites/{site['id']}/units", headers=SPECIALIST).get_json()["items"]
    assert sorted((u["number"], u["kind"], u["state"], u["floor_area_m2"]) for u in units) == [
        ("1201", "residence", "occupied", "89.50"), ("1202", "residence", "vacant", "92.00"),
        ("P-001", "parking", "rented", "12.50")]
    published = events(occupants, places_pb2.UnitRegistered)
    assert sorted(u.number for u in published) == ["1201", "1202", "P-001"]
    assert {u.unit_id for u in published} == {u["id"] for u in units}
    [car_park] = [b for b in events(occupants, places_pb2.BuildingRegistered) if b.code == "C"]
    assert car_park.name == "Car park 停车场" and not car_park.HasField("floors_above_ground")
    [entry] = audit_rows(occupants, pending["id"])
    assert (entry.from_state, entry.to_state, entry.actor) == ("applying", "applied", "tester")
    with sessions(occupants)() as session:
        assert session.get(ImportJob, pending["id"]).content == b""  # the file is not kept once done


def test_an_xlsx_register_applies_like_a_csv(occupants, site, building):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Unit", "Building", "Floor", "Kind", "Area_m2"])  # any order, any case
    sheet.append([1501, "A", 15, "office", 120.5])
    sheet.append(["1502", "A", 15.0, "办公", 80])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(occupants, site, buffer.getvalue(), filename="Register.XLSX",
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert response.status_code == 202, response.get_json()
    run_jobs(occupants)
    assert job(occupants, response.get_json()["id"])["state"] == "applied"
    units = occupants.get(f"/v1/sites/{site['id']}/units", headers=SPECIALIST).get_json()["items"]
    assert sorted((u["number"], u["floor"], u["kind"], u["floor_area_m2"]) for u in units) == [
        ("1501", 15, "office", "120.50"), ("1502", 15, "office", "80.00")]


def test_a_file_with_bad_rows_is_rejected_with_a_report_and_changes_nothing(occupants, site, building):
    assert add_unit(occupants, building, number="101").status_code == 201
    outbox_before, units_before = count(occupants, chassis.outbox), count(occupants, Unit)
    csv = (HEADER
           + "A,,102,1,residence,89.50,\n"        # row 2: fine
           + "A,,103,1,castle,89.50,\n"           # row 3: unknown kind
           + "A,,104,1,residence,89.555,\n"       # row 4: bad area
           + "A,,102,1,residence,70,\n"           # row 5: twice in the file
           + "A,,101,1,residence,70,\n"           # row 6: in the database already
           + "Z,,1,1,residence,70,\n"             # row 7: no such building
           + "A,,105,31,residence,70,\n"          # row 8: above the building's floors
           + "A,,106,one,residence,70,haunted\n"  # row 9: floor and state
           + "A,,,1,residence,,\n").encode()      # row 10: unit and area missing
    response = upload(occupants, site, csv)
    assert response.status_code == 202
    run_jobs(occupants)
    report = job(occupants, response.get_json()["id"], "?limit=200")
    assert report["state"] == "rejected" and report["units_created"] == 0
    found = [(p["row"], p["field"]) for p in report["problems"]["items"]]
    assert found == [(3, "kind"), (4, "area_m2"), (5, "unit"), (6, "unit"), (7, "building"), (8, "floor"),
                     (9, "floor"), (9, "state"), (10, "unit"), (10, "area_m2")]
    assert report["problem_count"] == len(found)
    by_row = {p["row"]: p for p in report["problems"]["items"]}
    assert "row 2" in by_row[5]["message"] and "exists already" in by_row[6]["message"]
    assert by_row[3]["value"] == "castle"
    assert count(occupants, Unit) == units_before and count(occupants, chassis.outbox) == outbox_before
    first = job(occupants, report["id"], "?limit=4")
    rest = job(occupants, report["id"], f"?limit=20&cursor={first['problems']['next_cursor']}")
    assert [(p["row"], p["field"]) for p in first["problems"]["items"] + rest["problems"]["items"]] == found


def test_a_register_saved_by_a_chinese_excel_in_gb18030_reads_as_such(occupants, site):
    csv = (HEADER + "一号楼,一号楼 Tower 1,101,1,住宅,89.50,已入住\n").encode("gb18030")
    job_id = upload(occupants, site, csv, content_type="application/vnd.ms-excel").get_json()["id"]
    run_jobs(occupants)
    assert job(occupants, job_id)["state"] == "applied"
    [building] = occupants.get(f"/v1/sites/{site['id']}/buildings", headers=SPECIALIST).get_json()["items"]
    assert (building["code"], building["name"]) == ("一号楼", "一号楼 Tower 1")


def test_a_new_building_without_a_name_or_named_twice_differently_is_reported(occupants, site):
    csv = (HEADER + "N,North,1,1,residence,50,\n" + "N,Nord,2,1,residence,50,\n" + "M,,1,1,residence,50,\n").encode()
    job_id = upload(occupants, site, csv).get_json()["id"]
    run_jobs(occupants)
    assert [(p["row"], p["field"]) for p in job(occupants, job_id)["problems"]["items"]] == [
        (3, "building_name"), (4, "building")]


@pytest.mark.parametrize(("filename", "content_type", "content"), [
    ("units.txt", "text/plain", HEADER.encode()),                       # extension
    ("units.csv", "image/png", HEADER.encode()),                        # content type
    ("units.csv", "text/csv", b"building,unit,floor\nA,1,1\n"),          # missing columns
    ("units.csv", "text/csv", (HEADER.strip() + ",colour\n").encode()),  # unknown column
    ("units.csv", "text/csv", (HEADER.strip() + ",unit\n").encode()),    # a column twice
    ("units.xlsx", "application/octet-stream", b"PK\x03\x04 not really a workbook"),
    ("units.csv", "text/csv", b""),
])
def test_a_wrong_file_is_refused_at_once_naming_the_file(occupants, site, filename, content_type, content):
    assert problem_field(upload(occupants, site, content, filename, content_type)) == "file"
    assert count(occupants, ImportJob) == 0


def test_a_file_over_the_size_limit_is_refused(occupants, site, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    assert problem_field(upload(occupants, site, (HEADER + "A,,1,1,residence,50,\n" * 5).encode())) == "file"
    assert count(occupants, ImportJob) == 0


def test_importing_needs_a_role_at_the_site_and_a_report_is_hidden_from_other_organizations(occupants, site):
    csv = (HEADER + "A,Tower A,1,1,residence,50,\n").encode()
    assert upload(occupants, site, csv, headers=SPECIALIST).status_code == 403
    assert upload(occupants, site, csv, headers=bearer(ORG_B, roles=("site_manager",))).status_code == 404
    job_id = upload(occupants, site, csv).get_json()["id"]
    assert occupants.get(f"/v1/imports/{job_id}", headers=bearer(ORG_B)).status_code == 404
    other = occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay"}, headers=MANAGER).get_json()
    assert occupants.get(f"/v1/imports/{job_id}", headers=bearer(sites=(other["id"],))).status_code == 404


def test_a_job_whose_worker_stopped_is_taken_over_and_the_stalled_worker_writes_nothing(occupants, site):
    job_id = upload(occupants, site, (HEADER + "A,Tower A,1,1,residence,50,\n").encode()).get_json()["id"]
    stalled = imports._claim(sessions(occupants))
    assert stalled[0] == job_id and imports._claim(sessions(occupants)) is None  # held, not claimable
    with sessions(occupants)() as session, session.begin():
        session.execute(update(ImportJob).values(heartbeat_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    assert run_jobs(occupants) == 1
    assert job(occupants, job_id)["state"] == "applied"
    assert imports.process(sessions(occupants), *stalled) == "taken over"
    assert count(occupants, Unit) == 1 and len(events(occupants, places_pb2.UnitRegistered)) == 1


def test_the_template_is_a_register_that_imports_cleanly(occupants, site):
    template = occupants.get("/v1/imports/template", headers=SPECIALIST)
    assert template.status_code == 200 and template.mimetype == "text/csv"
    job_id = upload(occupants, site, template.data).get_json()["id"]
    run_jobs(occupants)
    assert job(occupants, job_id)["units_created"] == 4


def test_a_new_sites_calendar_comes_from_the_organizations_policy_and_a_malformed_one_is_named(occupants, site):
    chief = bearer(roles=("general_manager",))
    hours = [{"weekday": day, "opens": "08:00", "closes": "20:00"} for day in range(1, 8)]
    for key, value in (("places.reception_hours", hours), ("places.time_zone", "Asia/Urumqi")):
        response = occupants.put(f"/v1/policies/{key}", json={"value": value}, headers=chief)
        assert response.status_code == 200, response.get_json()
    created = occupants.post("/v1/sites", json={"code": "NB", "name": "North Bay"}, headers=MANAGER).get_json()
    assert (created["time_zone"], created["reception_hours"]) == ("Asia/Urumqi", hours)
    assert occupants.get(f"/v1/sites/{site['id']}", headers=MANAGER).get_json()["time_zone"] == "Asia/Shanghai"
    occupants.put("/v1/policies/places.reception_hours", json={"value": [{"weekday": 9}]}, headers=chief)
    refused = occupants.post("/v1/sites", json={"code": "SB", "name": "South Bay"}, headers=MANAGER)
    assert problem_field(refused) == "reception_hours" and "places.reception_hours" in refused.get_json()["detail"]
    given = occupants.post("/v1/sites", json={"code": "SB", "name": "South Bay", "reception_hours": hours[:5]},
                           headers=MANAGER)
    assert given.status_code == 201 and len(given.get_json()["reception_hours"]) == 5


def test_a_unit_registered_between_checking_and_writing_rejects_the_import_whole(occupants, site, building,
                                                                                 monkeypatch):
    job_id = upload(occupants, site, (HEADER + "A,,101,1,residence,50,\n" + "A,,102,1,residence,50,\n").encode()
                    ).get_json()["id"]
    checked = imports._validate

    def checked_then_someone_registers_101(*args):
        plan = checked(*args)
        assert add_unit(occupants, building, number="101").status_code == 201
        return plan

    monkeypatch.setattr(imports, "_validate", checked_then_someone_registers_101)
    run_jobs(occupants)
    report = job(occupants, job_id)
    assert report["state"] == "rejected"
    assert [(p["row"], p["field"]) for p in report["problems"]["items"]] == [(2, "unit")]
    assert count(occupants, Unit) == 1 and len(events(occupants, places_pb2.UnitRegistered)) == 1
    [entry] = audit_rows(occupants, job_id)
    assert (entry.from_state, entry.to_state) == ("applying", "rejected")
