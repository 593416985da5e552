"""People and occupancy (OCC-2, OCC-4, OCC-5) over HTTP on SQLite: persons and companies, occupancies,
move-out and lease end, ownership transfer, personnel registers, search."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from psp.occupants.v1.archives_pb2 import ArchiveSetAside
from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import (
    CompanyPersonnelChanged,
    OccupancyEnded,
    OccupancyStarted,
    OwnershipTransferred,
    PersonUpdated,
)
from psp.occupants.v1.places_pb2 import UnitChanged
from sqlalchemy import select

from services.occupants.people import rules
from services.occupants.places.tables import Unit
from shared.bus.envelope import Envelope, event_type_of, unpack
from tests.conftest import ORG_B, bearer, create_site

ID_NUMBER = "11010519491231002X"
SUPERVISOR = ("cs_supervisor",)
MANAGER = ("site_manager",)


def _state(client):
    return client.application.extensions["psp"]


def published(client, message_cls) -> list:
    """The payloads of this type in the outbox, oldest first."""
    state = _state(client)
    outbox = state.service.tables.outbox
    with state.engine.connect() as connection:
        blobs = connection.scalars(select(outbox.c.envelope).where(outbox.c.event_type == event_type_of(message_cls))
                                   .order_by(outbox.c.id)).all()
    return [unpack(Envelope.FromString(blob), message_cls).payload for blob in blobs]


def audit_actions(client, entity: str, entity_id: str) -> list[tuple]:
    audit_log = _state(client).service.tables.audit_log
    with _state(client).engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(audit_log.c.action, audit_log.c.from_state, audit_log.c.to_state, audit_log.c.reason)
            .where(audit_log.c.entity == entity, audit_log.c.entity_id == entity_id).order_by(audit_log.c.id))]


def count(client, table: str) -> int:
    with _state(client).engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()


def person(client, site, headers=None, **fields) -> dict:
    body = {"site_id": site["id"], "full_name": "王芳", "phone": "139 0000 0000", **fields}
    response = client.post("/v1/persons", json=body, headers=headers or bearer())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_unit(client, site, number="101", state="vacant") -> dict:
    buildings = client.post(f"/v1/sites/{site['id']}/buildings", json={"code": f"B{number}", "name": "Tower"},
                            headers=bearer(roles=MANAGER))
    assert buildings.status_code == 201, buildings.get_json()
    response = client.post(f"/v1/buildings/{buildings.get_json()['id']}/units", headers=bearer(roles=MANAGER), json={
        "number": number, "floor": 1, "kind": "residence", "floor_area_m2": "89.50", "state": state})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def occupy(client, unit, person_id, role="owner", start="2024-01-01", expect=201, headers=None, **fields):
    response = client.post(f"/v1/units/{unit['id']}/occupancies", headers=headers or bearer(),
                           json={"person_id": person_id, "role": role, "start_date": start, **fields})
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def unit_state(client, unit) -> str:
    return client.get(f"/v1/units/{unit['id']}", headers=bearer()).get_json()["state"]


# -- persons ------------------------------------------------------------------------------------------------


def test_a_person_is_registered_with_normalised_contacts_and_published_without_the_id_number(occupants, site):
    created = person(occupants, site, email="Li.Na@Example.CN", birthday="1985-04-12", id_number=ID_NUMBER.lower(),
                     emergency_contact={"name": "李强", "phone": "+86 137-0000-0000", "relation": "配偶"},
                     preferred_channels=["app", "sms"])
    assert created["phone"] == "+8613900000000"
    assert created["email"] == "Li.Na@example.cn"
    assert created["emergency_contact"] == {"name": "李强", "phone": "+8613700000000", "relation": "配偶"}
    assert created["id_number"] == "110***********002X"
    [event] = published(occupants, PersonRegistered)
    assert (event.person_id, event.phone, event.birthday, event.emergency_contact_phone) == (
        created["id"], "+8613900000000", "1985-04-12", "+8613700000000")
    assert ID_NUMBER not in event.SerializeToString().decode(errors="replace")
    assert [action for action, *_ in audit_actions(occupants, "person", created["id"])] == ["register"]


def test_the_id_number_is_whole_only_for_the_roles_that_need_it_at_the_persons_site(occupants, site):
    created = person(occupants, site, id_number=ID_NUMBER)
    other = create_site(occupants, "NB", "North Bay")
    path = f"/v1/persons/{created['id']}"
    for roles in (SUPERVISOR, ("site_manager",), ("property_manager",), ("general_manager",)):
        held_here = bearer(roles=(), site_roles={site["id"]: list(roles)})
        assert occupants.get(path, headers=held_here).get_json()["id_number"] == ID_NUMBER
    held_elsewhere = bearer(roles=("cs_specialist",), site_roles={other["id"]: list(SUPERVISOR)})
    assert occupants.get(path, headers=held_elsewhere).get_json()["id_number"] == "110***********002X"
    assert occupants.get(path, headers=bearer(roles=("steward",))).get_json()["id_number"] == "110***********002X"


@pytest.mark.parametrize("fields, field", [
    ({"phone": "12345"}, "phone"),
    ({"phone": "", "email": "not-an-address"}, "email"),
    ({"id_number": "11010519491231002Y"}, "id_number"),            # wrong check digit
    ({"id_number": "110105194902300021"}, "id_number"),            # 30 February
    ({"id_number": "110105" + (date.today() + timedelta(days=400)).strftime("%Y%m%d") + "0011"}, "id_number"),
    ({"id_number": "990105194912310021"}, "id_number"),            # no such province
    ({"birthday": (date.today() + timedelta(days=2)).isoformat()}, "birthday"),
    ({"emergency_contact": {"name": "李强", "phone": "999"}}, "emergency_contact.phone"),
    ({"phone": "", "email": ""}, "phone"),
])
def test_bad_details_name_the_field_and_register_nobody(occupants, site, fields, field):
    response = occupants.post("/v1/persons", json={"site_id": site["id"], "full_name": "王芳", "phone": "13900000000",
                                                   **fields}, headers=bearer())
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field
    assert count(occupants, "persons") == 0
    assert published(occupants, PersonRegistered) == []


def test_registering_needs_a_customer_service_role_at_that_site(occupants, site):
    other = create_site(occupants, "NB", "North Bay")
    body = {"site_id": site["id"], "full_name": "王芳", "phone": "13900000000"}
    assert occupants.post("/v1/persons", json=body, headers=bearer(roles=("technician",))).status_code == 403
    elsewhere = bearer(roles=(), site_roles={other["id"]: ["cs_specialist"]}, sites=(site["id"],))
    assert occupants.post("/v1/persons", json=body, headers=elsewhere).status_code == 403
    assert count(occupants, "persons") == 0
    here = bearer(roles=(), site_roles={site["id"]: ["steward"]})
    assert occupants.post("/v1/persons", json=body, headers=here).status_code == 201


def test_a_change_is_audited_by_field_and_published_whole(occupants, site):
    created = person(occupants, site)
    path = f"/v1/persons/{created['id']}"
    refused = occupants.patch(path, json={"phone": "0000"}, headers=bearer())
    assert refused.status_code == 422 and refused.get_json()["field"] == "phone"
    assert occupants.patch(path, json={"preferred_language": "en"}, headers=bearer(ORG_B)).status_code == 404
    assert occupants.patch(path, json={"full_name": "x"}, headers=bearer(roles=("cashier",))).status_code == 403
    assert published(occupants, PersonUpdated) == []

    changed = occupants.patch(path, json={"preferred_language": "en", "id_number": ID_NUMBER}, headers=bearer())
    assert changed.status_code == 200
    assert changed.get_json()["preferred_language"] == "en" and changed.get_json()["phone"] == "+8613900000000"
    [event] = published(occupants, PersonUpdated)
    assert (event.person_id, event.preferred_language, event.full_name) == (created["id"], "en", "王芳")
    audit_log = _state(occupants).service.tables.audit_log
    with _state(occupants).engine.connect() as connection:
        data = connection.scalar(select(audit_log.c.data).where(audit_log.c.action == "update"))
    assert data == {"changed": ["id_number", "preferred_language"]}
    assert occupants.patch(path, json={"preferred_language": "en"}, headers=bearer()).status_code == 200
    assert len(published(occupants, PersonUpdated)) == 1


def test_another_organizations_person_is_not_found(occupants, site):
    created = person(occupants, site)
    assert occupants.get(f"/v1/persons/{created['id']}", headers=bearer(ORG_B)).status_code == 404
    foreign = occupants.get("/v1/persons", query_string={"site_id": site["id"]}, headers=bearer(ORG_B))
    assert foreign.status_code == 200 and foreign.get_json()["items"] == []


# -- occupancies --------------------------------------------------------------------------------------------


def test_the_first_owner_makes_a_vacant_unit_occupied_and_the_first_tenant_one_rented(occupants, site):
    owner, tenant = person(occupants, site)["id"], person(occupants, site, full_name="租户")["id"]
    home, shop = new_unit(occupants, site, "101"), new_unit(occupants, site, "102")
    started = occupy(occupants, home, owner, share="100", notice_channels=["app"])
    assert (started["state"], started["share"], started["role"]) == ("current", "100.00", "owner")
    assert unit_state(occupants, home) == "occupied"
    occupy(occupants, shop, tenant, role="tenant", end_date="2025-12-31")
    assert unit_state(occupants, shop) == "rented"
    assert audit_actions(occupants, "unit", home["id"]) == [("occupied", "vacant", "occupied", "owner moved in")]
    assert [(e.unit_id, e.state) for e in published(occupants, UnitChanged)] == [(home["id"], "occupied"),
                                                                                (shop["id"], "rented")]
    events = published(occupants, OccupancyStarted)
    assert [(e.unit_id, e.person_id, e.role, e.share, e.end_date) for e in events] == [
        (home["id"], owner, "owner", "100.00", ""), (shop["id"], tenant, "tenant", "", "2025-12-31")]
    assert list(events[0].notice_channels) == ["app"]
    assert audit_actions(occupants, "occupancy", started["id"]) == [("start", None, "current", "")]


def test_a_unit_in_another_state_keeps_it_when_someone_moves_in(occupants, site):
    unit = new_unit(occupants, site, state="renovating")
    occupy(occupants, unit, person(occupants, site)["id"])
    assert unit_state(occupants, unit) == "renovating"
    assert audit_actions(occupants, "unit", unit["id"]) == []


@pytest.mark.parametrize("fields, field", [
    ({"end_date": "2023-12-31"}, "end_date"),
    ({"role": "tenant", "share": "10"}, "share"),
    ({"share": "100.001"}, "share"),
    ({"share": "0"}, "share"),
    ({"role": "landlord"}, "role"),
    ({"person_id": "00000000-0000-4000-8000-000000000000"}, "person_id"),
])
def test_a_bad_occupancy_names_the_field_and_changes_nothing(occupants, site, fields, field):
    unit = new_unit(occupants, site)
    body = {"person_id": person(occupants, site)["id"], "role": "owner", "start_date": "2024-01-01", **fields}
    response = occupants.post(f"/v1/units/{unit['id']}/occupancies", json=body, headers=bearer())
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field
    assert count(occupants, "occupancies") == 0 and published(occupants, OccupancyStarted) == []
    assert unit_state(occupants, unit) == "vacant"


def test_owners_shares_on_any_day_may_not_exceed_the_whole_unit(occupants, site):
    unit = new_unit(occupants, site)
    a, b, c = (person(occupants, site, full_name=name)["id"] for name in ("甲", "乙", "丙"))
    occupy(occupants, unit, a, start="2020-01-01", share="60")
    refused = occupy(occupants, unit, b, start="2021-01-01", share="50", expect=409)
    assert "overlaps the existing owner set" in refused["detail"] and refused["field"] == "share"
    # Starts before the 60% owner but runs into their time: the sum is checked where they start too.
    occupy(occupants, unit, c, start="2019-01-01", end_date="2020-06-30", share="50", expect=409)
    occupy(occupants, unit, c, start="2019-01-01", end_date="2019-12-31", share="50")
    occupy(occupants, unit, b, start="2021-01-01", share="40")
    assert count(occupants, "occupancies") == 3


def test_someone_from_another_organization_cannot_be_linked_nor_their_unit_reached(occupants, site):
    unit = new_unit(occupants, site)
    theirs = occupants.post("/v1/sites", json={"code": "XX", "name": "Theirs"},
                            headers=bearer(ORG_B, roles=("property_manager",))).get_json()
    stranger = person(occupants, theirs, headers=bearer(ORG_B))
    refused = occupy(occupants, unit, stranger["id"], expect=422)
    assert refused["field"] == "person_id"
    occupy(occupants, unit, person(occupants, site)["id"], expect=404, headers=bearer(ORG_B))
    assert occupants.get(f"/v1/units/{unit['id']}/occupancies", headers=bearer(ORG_B)).status_code == 404


def test_occupancies_need_a_customer_service_role_at_the_units_site(occupants, site):
    unit, someone = new_unit(occupants, site), person(occupants, site)["id"]
    other = create_site(occupants, "NB", "North Bay")
    occupy(occupants, unit, someone, expect=403, headers=bearer(roles=(), site_roles={other["id"]: ["cs_supervisor"]}))
    occupy(occupants, unit, someone, headers=bearer(roles=(), site_roles={site["id"]: ["cs_supervisor"]}))


def test_start_occupancy_is_callable_with_a_session_for_move_in(occupants, site):
    unit, someone = new_unit(occupants, site), person(occupants, site)["id"]
    with _state(occupants).sessions() as session, session.begin():
        occupancy = rules.start_occupancy(session, unit=session.get(Unit, unit["id"]), person_id=someone,
                                          role="tenant", start_date=date(2024, 3, 1), share=None, actor="move-in")
        assert occupancy.state == "current"
    assert unit_state(occupants, unit) == "rented"
    assert [e.person_id for e in published(occupants, OccupancyStarted)] == [someone]


def test_occupancies_of_a_unit_are_listed_a_page_at_a_time(occupants, site):
    unit = new_unit(occupants, site)
    for day in ("2024-01-03", "2024-01-01", "2024-01-02"):
        occupy(occupants, unit, person(occupants, site, full_name=day)["id"], role="household_member", start=day)
    first = occupants.get(f"/v1/units/{unit['id']}/occupancies", query_string={"limit": 2}, headers=bearer()).get_json()
    rest = occupants.get(f"/v1/units/{unit['id']}/occupancies", headers=bearer(),
                         query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert [o["start_date"] for o in first["items"] + rest["items"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert rest["next_cursor"] is None


# -- move-out and lease end ---------------------------------------------------------------------------------


def test_a_move_out_ends_everyones_occupancy_and_leaves_the_unit_vacant(occupants, site):
    unit = new_unit(occupants, site)
    owner, child = person(occupants, site)["id"], person(occupants, site, full_name="王小明")["id"]
    occupy(occupants, unit, owner)
    occupy(occupants, unit, child, role="household_member", start="2024-02-01")
    too_early = occupants.post(f"/v1/units/{unit['id']}/move-out", headers=bearer(),
                               json={"reason": "move_out", "end_date": "2024-01-15"})
    assert too_early.status_code == 422 and too_early.get_json()["field"] == "end_date"
    assert published(occupants, OccupancyEnded) == [] and unit_state(occupants, unit) == "occupied"

    moved = occupants.post(f"/v1/units/{unit['id']}/move-out", headers=bearer(),
                           json={"reason": "move_out", "end_date": "2026-06-30"})
    assert moved.status_code == 200, moved.get_json()
    assert unit_state(occupants, unit) == "vacant"
    assert {(o["person_id"], o["state"], o["end_reason"], o["end_date"]) for o in moved.get_json()} == {
        (owner, "ended", "move_out", "2026-06-30"), (child, "ended", "move_out", "2026-06-30")}
    events = published(occupants, OccupancyEnded)
    assert {(e.person_id, e.role, e.reason, e.end_date, e.unit_vacated, e.site_id) for e in events} == {
        (owner, "owner", "move_out", "2026-06-30", True, site["id"]),
        (child, "household_member", "move_out", "2026-06-30", True, site["id"])}
    assert audit_actions(occupants, "unit", unit["id"])[-1] == ("vacant", "occupied", "vacant", "move_out")
    again = occupants.post(f"/v1/units/{unit['id']}/move-out", headers=bearer(),
                           json={"reason": "move_out", "end_date": "2026-07-01"})
    assert again.status_code == 409 and len(published(occupants, OccupancyEnded)) == 2


def test_a_lease_end_ends_the_tenants_household_but_not_the_owner(occupants, site):
    unit = new_unit(occupants, site)
    owner, tenant = person(occupants, site)["id"], person(occupants, site, full_name="租户")["id"]
    occupy(occupants, unit, tenant, role="tenant")
    occupy(occupants, unit, owner)
    ended = occupants.post(f"/v1/units/{unit['id']}/move-out", headers=bearer(),
                           json={"reason": "lease_end", "end_date": "2025-12-31"}).get_json()
    assert [o["person_id"] for o in ended] == [tenant] and unit_state(occupants, unit) == "rented"
    [event] = published(occupants, OccupancyEnded)
    assert (event.reason, event.unit_vacated) == ("lease_end", False)
    current = occupants.get(f"/v1/units/{unit['id']}/occupancies", query_string={"state": "current"},
                            headers=bearer()).get_json()["items"]
    assert [o["person_id"] for o in current] == [owner]


def test_one_occupancy_ends_once(occupants, site):
    unit = new_unit(occupants, site)
    member = occupy(occupants, unit, person(occupants, site)["id"], role="household_member")
    path = f"/v1/occupancies/{member['id']}/end"
    assert occupants.post(path, json={"reason": "move_out", "end_date": "2025-01-01"},
                          headers=bearer(roles=("security_guard",))).status_code == 403
    ended = occupants.post(path, json={"reason": "move_out", "end_date": "2025-01-01"}, headers=bearer())
    assert ended.status_code == 200 and ended.get_json()["state"] == "ended"
    again = occupants.post(path, json={"reason": "move_out", "end_date": "2025-01-02"}, headers=bearer())
    assert again.status_code == 409 and again.get_json()["allowed"] == []
    assert audit_actions(occupants, "occupancy", member["id"])[-1] == ("end", "current", "ended", "move_out")
    assert len(published(occupants, OccupancyEnded)) == 1


def test_moving_out_someone_who_does_not_live_there_is_refused(occupants, site):
    unit = new_unit(occupants, site)
    occupy(occupants, unit, person(occupants, site)["id"])
    stranger = person(occupants, site, full_name="路人")["id"]
    refused = occupants.post(f"/v1/units/{unit['id']}/move-out", headers=bearer(),
                             json={"reason": "move_out", "end_date": "2025-01-01", "person_ids": [stranger]})
    assert refused.status_code == 422 and refused.get_json()["field"] == "person_ids"
    assert published(occupants, OccupancyEnded) == []


# -- ownership transfer -------------------------------------------------------------------------------------


def test_an_ownership_transfer_ends_the_former_owners_and_starts_the_new(occupants, site):
    unit = new_unit(occupants, site)
    seller_a, seller_b = person(occupants, site, full_name="甲")["id"], person(occupants, site, full_name="乙")["id"]
    buyer, tenant = person(occupants, site, full_name="丙")["id"], person(occupants, site, full_name="丁")["id"]
    occupy(occupants, unit, seller_a, share="50")
    occupy(occupants, unit, seller_b, share="50")
    occupy(occupants, unit, tenant, role="tenant")
    path = f"/v1/units/{unit['id']}/ownership-transfer"
    too_much = occupants.post(path, headers=bearer(), json={"transferred_on": "2026-03-01", "new_owners": [
        {"person_id": buyer, "share": "80"}, {"person_id": seller_a, "share": "30"}]})
    assert too_much.status_code == 409 and "overlaps the existing owner set" in too_much.get_json()["detail"]
    assert published(occupants, OwnershipTransferred) == []

    moved = occupants.post(path, headers=bearer(), json={"transferred_on": "2026-03-01",
                                                         "new_owners": [{"person_id": buyer}]})
    assert moved.status_code == 200, moved.get_json()
    answer = moved.get_json()
    assert (answer["unit_id"], sorted(answer["former_owner_ids"]), answer["new_owner_ids"], answer["transferred_on"]) == (
        unit["id"], sorted([seller_a, seller_b]), [buyer], "2026-03-01")
    [event] = published(occupants, OwnershipTransferred)
    assert (sorted(event.former_owner_ids), list(event.new_owner_ids), event.transferred_on, event.site_id) == (
        sorted([seller_a, seller_b]), [buyer], "2026-03-01", site["id"])
    assert {(e.person_id, e.reason, e.end_date) for e in published(occupants, OccupancyEnded)} == {
        (seller_a, "transfer", "2026-02-28"), (seller_b, "transfer", "2026-02-28")}
    current = occupants.get(f"/v1/units/{unit['id']}/occupancies", query_string={"state": "current"},
                            headers=bearer()).get_json()["items"]
    assert {(o["person_id"], o["role"], o["share"]) for o in current} == {(buyer, "owner", "100.00"),
                                                                           (tenant, "tenant", None)}
    assert audit_actions(occupants, "unit", unit["id"])[-1][0] == "transfer_ownership"
    kept = published(occupants, ArchiveSetAside)
    assert sorted((a.person_id, a.transferred_on, a.retain_until) for a in kept) == sorted(
        [(seller_a, "2026-03-01", "2029-03-01"), (seller_b, "2026-03-01", "2029-03-01")])
    with _state(occupants).engine.connect() as connection:
        archives = connection.exec_driver_sql("SELECT person_id, state FROM owner_archives").all()
    assert sorted(archives) == sorted([(seller_a, "set_aside"), (seller_b, "set_aside"), (buyer, "current")])


def test_a_transfer_needs_a_current_owner_and_a_date_after_their_start(occupants, site):
    unit = new_unit(occupants, site)
    buyer = person(occupants, site, full_name="丙")["id"]
    path = f"/v1/units/{unit['id']}/ownership-transfer"
    body = {"transferred_on": "2024-01-01", "new_owners": [{"person_id": buyer}]}
    assert occupants.post(path, json=body, headers=bearer()).status_code == 409
    occupy(occupants, unit, person(occupants, site)["id"], start="2024-01-01")
    early = occupants.post(path, json=body, headers=bearer())
    assert early.status_code == 422 and early.get_json()["field"] == "transferred_on"
    assert occupants.post(path, json={**body, "transferred_on": "2025-01-01"},
                          headers=bearer(roles=("technician",))).status_code == 403
    assert published(occupants, OwnershipTransferred) == [] and published(occupants, OccupancyEnded) == []


# -- a company's personnel register -------------------------------------------------------------------------


def test_a_companys_personnel_register_is_kept_and_published(occupants, site):
    company = person(occupants, site, kind="company", full_name="海港贸易有限公司", contact_name="陈经理",
                     email="office@haigang.cn", phone="")
    path = f"/v1/persons/{company['id']}/personnel"
    bad = occupants.post(path, json={"full_name": "刘洋", "id_number": "123"}, headers=bearer())
    assert bad.status_code == 422 and bad.get_json()["field"] == "id_number"
    added = occupants.post(path, headers=bearer(), json={"full_name": "刘洋", "phone": "13600000000",
                                                         "position": "出纳", "id_number": ID_NUMBER, "pass_needed": True})
    assert added.status_code == 201
    entry = added.get_json()
    assert (entry["phone"], entry["id_number"]) == ("+8613600000000", "110***********002X")
    occupants.post(path, json={"full_name": "孙丽"}, headers=bearer())
    listed = occupants.get(path, headers=bearer(roles=SUPERVISOR)).get_json()
    assert [(e["full_name"], e["id_number"]) for e in listed["items"]] == [("刘洋", ID_NUMBER), ("孙丽", "")]

    removed = occupants.delete(f"{path}/{entry['id']}", headers=bearer())
    assert removed.status_code == 200 and removed.get_json()["removed_at"]
    assert occupants.delete(f"{path}/{entry['id']}", headers=bearer()).status_code == 409
    assert [e["full_name"] for e in occupants.get(path, headers=bearer()).get_json()["items"]] == ["孙丽"]
    assert len(occupants.get(path, query_string={"include_removed": "true"}, headers=bearer()).get_json()["items"]) == 2
    events = published(occupants, CompanyPersonnelChanged)
    assert [(e.entry_id, e.change, e.pass_needed) for e in events[::2]] == [(entry["id"], "added", True),
                                                                           (entry["id"], "removed", True)]
    assert [action for action, *_ in audit_actions(occupants, "personnel_entry", entry["id"])] == ["added", "removed"]
    assert occupants.get(path, headers=bearer(ORG_B)).status_code == 404
    assert occupants.delete(f"{path}/{entry['id']}", headers=bearer(ORG_B)).status_code == 404


def test_only_a_company_keeps_a_personnel_register(occupants, site):
    individual = person(occupants, site)
    response = occupants.post(f"/v1/persons/{individual['id']}/personnel", json={"full_name": "x"}, headers=bearer())
    assert response.status_code == 409 and count(occupants, "company_personnel") == 0


# -- search -------------------------------------------------------------------------------------------------


def search(client, site, headers=None, **params):
    response = client.get("/v1/persons", query_string={"site_id": site["id"], **params}, headers=headers or bearer())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_search_by_name_phone_and_unit_a_page_at_a_time(occupants, site):
    names = {"王小明": "13800000001", "李小红": "13800000002", "王伟": "13900000003", "Emma Walker": "+44 20 7946 0958"}
    ids = {name: person(occupants, site, full_name=name, phone=phone)["id"] for name, phone in names.items()}
    unit = new_unit(occupants, site)
    occupy(occupants, unit, ids["王伟"])
    occupy(occupants, unit, ids["李小红"], role="household_member")

    assert [p["full_name"] for p in search(occupants, site, q="小")["items"]] == ["李小红", "王小明"]
    assert [p["full_name"] for p in search(occupants, site, q="walk")["items"]] == ["Emma Walker"]
    assert search(occupants, site, q="%")["items"] == []
    assert [p["phone"] for p in search(occupants, site, phone="138")["items"]] == ["+8613800000001", "+8613800000002"]
    assert [p["full_name"] for p in search(occupants, site, phone="+4420")["items"]] == ["Emma Walker"]
    assert [p["full_name"] for p in search(occupants, site, unit_id=unit["id"])["items"]] == ["李小红", "王伟"]
    assert [p["full_name"] for p in search(occupants, site, unit_number="101", q="王")["items"]] == ["王伟"]

    first = search(occupants, site, limit=3)
    rest = search(occupants, site, limit=3, cursor=first["next_cursor"])
    assert len(first["items"]) == 3 and rest["next_cursor"] is None
    assert {p["id"] for p in first["items"] + rest["items"]} == set(ids.values())


def test_search_refuses_what_it_cannot_read(occupants, site):
    for params, field in (({"phone": "13a"}, "phone"), ({"cursor": "nonsense"}, "cursor"), ({"limit": 0}, "limit")):
        response = occupants.get("/v1/persons", query_string={"site_id": site["id"], **params}, headers=bearer())
        assert response.status_code == 422 and response.get_json()["field"] == field
    assert occupants.get("/v1/persons", headers=bearer()).get_json()["field"] == "site_id"
    other = create_site(occupants, "NB", "North Bay")
    scoped = bearer(sites=(other["id"],))
    assert occupants.get("/v1/persons", query_string={"site_id": site["id"]}, headers=scoped).status_code == 404


def test_the_docs_and_the_api_show_the_declared_workflows(occupants):
    guide = (Path(__file__).resolve().parents[3] / "docs" / "occupants" / "people.md").read_text()
    paths = occupants.get("/openapi.json").get_json()["paths"]
    for workflow, path, method in ((rules.OCCUPANCY, "/v1/occupancies/{occupancy_id}/end", "post"),
                                   (rules.PERSONNEL_ENTRY, "/v1/persons/{company_id}/personnel/{entry_id}", "delete")):
        assert workflow.mermaid() in guide
        assert workflow.mermaid() in paths[path][method]["description"]
