"""Places (OCC-1) on PostgreSQL and RabbitMQ: imports run by the worker, claimed once, applied whole."""

import io
import threading
import uuid
from collections import Counter

import openpyxl
import pytest
from kombu import Exchange, Queue, binding
from psp.occupants.v1 import places_pb2

from services.occupants.places import imports
from shared.bus.connection import connect
from shared.bus.envelope import Envelope
from shared.config import Settings
from tests.conftest import ORG_B, bearer, running_workers, wait_until

pytestmark = pytest.mark.integration

MANAGER = bearer(roles=("site_manager",))
HEADER = "building,building_name,unit,floor,kind,area_m2,state\n"


@pytest.fixture
def places_listener(platform_env):
    """A queue bound to every places event on occupants' exchange, as ticketing's and billing's will be: the
    relay publishes an event only once some queue takes it. Answers a function that drains it to envelopes."""
    exchange = Exchange("occupants.events", type="topic", durable=True)
    keys = ("site.*.v1", "building.*.v1", "unit.*.v1")
    queue = Queue(f"test.places.{uuid.uuid4().hex[:8]}", bindings=[binding(exchange, routing_key=k) for k in keys])
    with connect(Settings()) as connection:
        channel = connection.default_channel
        exchange(channel).declare()
        bound = queue(channel)
        bound.declare()
        received: list[Envelope] = []

        def drain() -> list[Envelope]:
            while (message := bound.get(no_ack=True)) is not None:
                received.append(Envelope.FromString(message.body))
            return received

        yield drain
        bound.delete()


def register(prefix: str, count: int) -> bytes:
    rows = [f"{prefix},Tower {prefix},{i},{1 + i // 40 % 150},residence,{60 + i % 50}.25,vacant" for i in range(count)]
    return (HEADER + "\n".join(rows) + "\n").encode()


def upload(api, site_id, content, filename="units.csv", content_type="text/csv"):
    response = api.post(f"/v1/sites/{site_id}/imports", headers=MANAGER, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(content), filename, content_type)})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def job(api, job_id, query=""):
    return api.get(f"/v1/imports/{job_id}{query}", headers=MANAGER).get_json()


def test_the_worker_applies_an_upload_and_its_unit_events_reach_the_bus(occupants_api, demo_site, databases,
                                                                        places_listener):
    job_id = upload(occupants_api, demo_site, register("A", 250))
    with running_workers("occupants"):
        wait_until(lambda: job(occupants_api, job_id)["state"] == "applied", what="the import applied")
        wait_until(lambda: len(places_listener()) == 252, what="its events on the bus")
    assert Counter(e.type for e in places_listener()) == {
        "site.registered.v1": 1, "building.registered.v1": 1, "unit.registered.v1": 250}
    first = places_pb2.UnitRegistered()
    next(e for e in places_listener() if e.type == "unit.registered.v1").payload.Unpack(first)
    assert (first.site_id, first.floor_area_m2, first.state) == (demo_site, "60.25", "vacant")
    done = job(occupants_api, job_id)
    assert (done["total_rows"], done["processed_rows"], done["units_created"], done["buildings_created"]) == (
        250, 250, 250, 1)
    occupants = databases["occupants"]
    assert occupants.scalar("SELECT count(*) FROM units WHERE site_id = :site", site=demo_site) == 250
    assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = 'unit.registered.v1'") == 250
    assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = 'building.registered.v1'") == 1
    assert occupants.scalar("SELECT sum(floor_area_m2) FROM units") == sum(60 + i % 50 for i in range(250)) + 62.5
    assert occupants.scalar("SELECT octet_length(content) FROM import_jobs") == 0
    assert occupants_api.get(f"/v1/imports/{job_id}", headers=bearer(ORG_B)).status_code == 404


def test_jobs_are_claimed_once_by_workers_racing_for_them(occupants_api, demo_site, databases):
    """Two workers at once over three jobs: each job is applied by exactly one of them."""
    jobs = [upload(occupants_api, demo_site, register(code, 6000)) for code in ("A", "B", "C")]
    sessions = occupants_api.application.extensions["psp"].sessions
    handled = []
    racers = [threading.Thread(target=lambda: handled.append(imports.run_pending(sessions))) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=300)
    assert sum(handled) == 3
    assert [job(occupants_api, j)["state"] for j in jobs] == ["applied"] * 3
    occupants = databases["occupants"]
    assert occupants.scalar("SELECT count(*) FROM units") == 18000
    assert occupants.scalar("SELECT count(DISTINCT building_id) FROM units") == 3
    assert occupants.scalar("SELECT count(*) FROM outbox WHERE event_type = 'unit.registered.v1'") == 18000
    assert occupants.scalar("SELECT count(*) FROM audit_log WHERE entity = 'import' AND action = 'finish'") == 3
    assert occupants.scalar("SELECT min(processed_rows) FROM import_jobs") == 6000


def test_a_register_with_bad_rows_changes_nothing_and_reports_every_row(occupants_api, demo_site, databases):
    occupants = databases["occupants"]
    first = upload(occupants_api, demo_site, register("A", 30))
    imports.run_pending(occupants_api.application.extensions["psp"].sessions)
    assert job(occupants_api, first)["state"] == "applied"
    units, events = occupants.count("units"), occupants.count("outbox")
    again = register("A", 40).replace(b"A,Tower A,35,", b"A,Tower A,35,nine")  # 30 taken, one bad floor
    second = upload(occupants_api, demo_site, again)
    imports.run_pending(occupants_api.application.extensions["psp"].sessions)
    report = job(occupants_api, second, "?limit=200")
    assert report["state"] == "rejected" and report["problem_count"] == 31
    problems = report["problems"]["items"]
    assert [p["row"] for p in problems] == list(range(2, 32)) + [37]
    assert {p["field"] for p in problems[:30]} == {"unit"} and problems[30]["field"] == "floor"
    assert (occupants.count("units"), occupants.count("outbox")) == (units, events)


def test_an_xlsx_register_from_a_spreadsheet_applies(occupants_api, demo_site, databases):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["building", "building_name", "unit", "floor", "kind", "area_m2", "state"])
    for i in range(1, 101):
        sheet.append(["X", "Tower X" if i == 1 else None, f"{i:04d}", 1 + i // 10, "office", 55.5, "空置"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job_id = upload(occupants_api, demo_site, buffer.getvalue(), "register.xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    imports.run_pending(occupants_api.application.extensions["psp"].sessions)
    assert job(occupants_api, job_id)["units_created"] == 100
    assert databases["occupants"].scalar("SELECT count(*) FROM units WHERE kind = 'office' AND state = 'vacant' "
                                         "AND floor_area_m2 = 55.50") == 100


def test_calendar_and_unit_changes_are_published_through_the_outbox(occupants_api, demo_site, databases,
                                                                    places_listener):
    occupants = databases["occupants"]
    patched = occupants_api.patch(f"/v1/sites/{demo_site}", headers=MANAGER, json={
        "holiday_overrides": [{"date": "2027-02-06", "kind": "workday", "name": "春节调休"}], "reason": "2027 calendar"})
    assert patched.status_code == 200
    building = occupants_api.post(f"/v1/sites/{demo_site}/buildings", headers=MANAGER,
                                  json={"code": "A", "name": "Tower A"}).get_json()
    unit = occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER,
                              json={"number": "101", "floor": 1, "kind": "residence", "floor_area_m2": "89.5"}
                              ).get_json()
    assert occupants_api.patch(f"/v1/units/{unit['id']}", headers=MANAGER,
                               json={"state": "renovating", "reason": "Decoration permit"}).status_code == 200
    with running_workers("occupants"):
        wait_until(lambda: len(places_listener()) == 5, what="every event on the bus")
    assert [e.type for e in places_listener()] == [
        "site.registered.v1", "site.updated.v1", "building.registered.v1", "unit.registered.v1", "unit.changed.v1"]
    updated, changed = places_pb2.SiteUpdated(), places_pb2.UnitChanged()
    places_listener()[1].payload.Unpack(updated)
    places_listener()[4].payload.Unpack(changed)
    assert [(o.date, o.kind) for o in updated.holiday_overrides] == [("2027-02-06", "workday")]
    assert (changed.state, changed.previous_state, changed.reason) == ("renovating", "vacant", "Decoration permit")
    assert occupants.scalar("SELECT to_state FROM audit_log WHERE entity = 'unit'") == "renovating"
