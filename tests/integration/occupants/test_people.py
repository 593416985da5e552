"""People and occupancy on PostgreSQL: the name search's own index, keyset pages over dates, and the
move-out's events through the outbox to the bus."""

import pytest
from psp.occupants.v1.people_pb2 import OccupancyEnded
from sqlalchemy import text

from shared.bus.envelope import Envelope, unpack
from tests.conftest import ORG_B, bearer

pytestmark = pytest.mark.integration

MANAGER = bearer(roles=("site_manager",))


def register(api, site_id, full_name, phone):
    response = api.post("/v1/persons", json={"site_id": site_id, "full_name": full_name, "phone": phone},
                        headers=bearer())
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def new_unit(api, site_id, number="101"):
    building = api.post(f"/v1/sites/{site_id}/buildings", json={"code": f"B{number}", "name": "Tower"},
                        headers=MANAGER).get_json()
    response = api.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER, json={
        "number": number, "floor": 1, "kind": "residence", "floor_area_m2": "89.50"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def names(api, site_id, **params):
    response = api.get("/v1/persons", query_string={"site_id": site_id, **params}, headers=bearer())
    assert response.status_code == 200, response.get_json()
    return [p["full_name"] for p in response.get_json()["items"]]


def test_name_search_finds_any_part_of_a_name_through_its_index(occupants_api, demo_site, databases):
    for i, name in enumerate(("王小明", "李小红", "王伟", "Emma Walker", "100% Pure_Name", "小")):
        register(occupants_api, demo_site, name, f"1380000000{i}")
    assert names(occupants_api, demo_site, q="小") == ["小", "李小红", "王小明"]
    assert names(occupants_api, demo_site, q="小明") == ["王小明"]
    assert names(occupants_api, demo_site, q="WALK") == ["Emma Walker"]
    assert names(occupants_api, demo_site, q="0% p") == ["100% Pure_Name"]
    assert names(occupants_api, demo_site, q="_") == ["100% Pure_Name"]
    assert names(occupants_api, demo_site, q="王明") == []
    assert names(occupants_api, demo_site, phone="+86138000000") == [
        "王小明", "李小红", "王伟", "Emma Walker", "100% Pure_Name", "小"]

    # Among many people the planner takes the name pieces' index rather than reading every name.
    with databases["occupants"].engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO persons (id, organization_id, site_id, kind, full_name, phone, email, preferred_language,"
            " preferred_channels, emergency_contact_name, emergency_contact_phone, emergency_contact_relation,"
            " contact_name, id_number, registered_by, registered_at)"
            " SELECT gen_random_uuid(), organization_id, site_id, kind, 'Person ' || n, phone, '', 'zh-CN', '[]',"
            " '', '', '', '', '', 'test', now() FROM persons, generate_series(1, 5000) AS n WHERE full_name = '王伟'"))
        connection.execute(text("ANALYZE persons"))
        plan = "\n".join(connection.execute(text(
            "EXPLAIN SELECT id FROM persons WHERE site_id = :site AND person_name_grams(full_name) @> "
            "person_name_grams('小明') ORDER BY full_name, id LIMIT 21"), {"site": demo_site}).scalars())
    assert "ix_persons_name_grams" in plan


def test_unit_search_and_occupancy_pages_on_postgresql(occupants_api, demo_site):
    unit = new_unit(occupants_api, demo_site)
    for day, name in (("2024-01-03", "丙"), ("2024-01-01", "甲"), ("2024-01-02", "乙")):
        person = register(occupants_api, demo_site, name, "13900000000")
        response = occupants_api.post(f"/v1/units/{unit}/occupancies", headers=bearer(),
                                      json={"person_id": person, "role": "household_member", "start_date": day})
        assert response.status_code == 201, response.get_json()
    path = f"/v1/units/{unit}/occupancies"
    first = occupants_api.get(path, query_string={"limit": 2}, headers=bearer()).get_json()
    rest = occupants_api.get(path, query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=bearer()).get_json()
    assert [o["start_date"] for o in first["items"] + rest["items"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert names(occupants_api, demo_site, unit_id=unit) == ["丙", "乙", "甲"]
    assert names(occupants_api, demo_site, unit_number="101", limit=1) == ["丙"]
    assert occupants_api.get(path, headers=bearer(ORG_B)).status_code == 404


def test_a_move_out_is_recorded_with_its_event_and_a_refused_one_leaves_nothing(occupants_api, demo_site, databases):
    unit = new_unit(occupants_api, demo_site)
    owner = register(occupants_api, demo_site, "张伟", "13700000000")
    occupants_api.post(f"/v1/units/{unit}/occupancies", headers=bearer(),
                       json={"person_id": owner, "role": "owner", "start_date": "2024-01-01"})
    refused = occupants_api.post(f"/v1/units/{unit}/move-out", headers=bearer(),
                                 json={"reason": "move_out", "end_date": "2023-12-31"})
    assert refused.status_code == 422 and refused.get_json()["field"] == "end_date"
    db = databases["occupants"]
    assert db.scalar("SELECT count(*) FROM outbox WHERE event_type = 'occupancy.ended.v1'") == 0
    assert db.scalar("SELECT state FROM occupancies") == "current"

    moved = occupants_api.post(f"/v1/units/{unit}/move-out", headers=bearer(),
                               json={"reason": "move_out", "end_date": "2026-06-30"})
    assert moved.status_code == 200 and [o["state"] for o in moved.get_json()] == ["ended"]
    assert db.scalar("SELECT state FROM units WHERE id = :id", id=unit) == "vacant"
    with db.engine.connect() as connection:
        [blob] = connection.execute(text(
            "SELECT envelope FROM outbox WHERE event_type = 'occupancy.ended.v1'")).scalars()
    event = unpack(Envelope.FromString(blob), OccupancyEnded).payload
    assert (event.unit_id, event.person_id, event.reason, event.end_date, event.unit_vacated) == (
        unit, owner, "move_out", "2026-06-30", True)
