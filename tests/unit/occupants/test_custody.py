"""Vacant units in custody (OCC-6): the agreement's workflow, meter limits, the fee flag and patrols."""

from datetime import datetime, timedelta, timezone

import pytest
from psp.occupants.v1.custody_pb2 import CustodyEnded, CustodyMeterLimitExceeded, CustodyStarted
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn
from sqlalchemy import select

from services.occupants.models import chassis
from tests.conftest import ORG_B, ROOT, bearer
from tests.support.outbox import published

MANAGER = bearer(roles=("site_manager",))
CS = bearer(roles=("cs_specialist",))


def post(client, path, body, headers=CS):
    return client.post(path, json=body, headers=headers)


def make_unit(client, site, number="1801", state="vacant"):
    building = post(client, f"/v1/sites/{site['id']}/buildings", {"code": f"B{number}", "name": "Tower"}, MANAGER)
    assert building.status_code == 201, building.get_json()
    unit = post(client, f"/v1/buildings/{building.get_json()['id']}/units",
                {"number": number, "floor": 18, "kind": "residence", "state": state, "floor_area_m2": "89.50"}, MANAGER)
    assert unit.status_code == 201, unit.get_json()
    return unit.get_json()


def make_owner(client, site):
    person = post(client, "/v1/persons", {"site_id": site["id"], "full_name": "陈静", "phone": "13900000001"}, MANAGER)
    assert person.status_code == 201, person.get_json()
    return person.get_json()


def agreement_body(unit, owner, **overrides):
    return {"unit_id": unit["id"], "owner_id": owner["id"], "starts_on": "2027-01-01", "ends_on": "2027-06-30",
            "keys_held": 2, "water_start": "120.50", "electricity_start": "3400.00", **overrides}


@pytest.fixture
def custody(occupants, site):
    """A unit taken into custody: (agreement, unit, owner)."""
    unit, owner = make_unit(occupants, site), make_owner(occupants, site)
    response = post(occupants, "/v1/custody-agreements", agreement_body(unit, owner))
    assert response.status_code == 201, response.get_json()
    return response.get_json(), unit, owner


def events(client, message_cls):
    app = client.application
    return [payload for _, payload in published(app.extensions["psp"].engine, chassis, message_cls)]


def unit_state(client, unit_id):
    from services.occupants.places.tables import Unit

    with client.application.extensions["psp"].sessions() as session:
        return session.scalar(select(Unit.state).where(Unit.id == unit_id))


def trail(client, entity_id):
    audit_log = chassis.audit_log
    with client.application.extensions["psp"].engine.connect() as connection:
        return connection.execute(select(audit_log.c.entity, audit_log.c.action, audit_log.c.from_state,
                                         audit_log.c.to_state, audit_log.c.actor)
                                  .where(audit_log.c.entity_id == entity_id).order_by(audit_log.c.id)).all()


def reading(client, agreement, meter, value, headers=CS):
    return post(client, f"/v1/custody-agreements/{agreement['id']}/readings", {"meter": meter, "reading": value},
                headers)


def test_start_puts_the_unit_in_custody_flags_the_fee_and_plans_a_weekly_patrol(occupants, custody):
    agreement, unit, owner = custody
    assert agreement["state"] == "active" and agreement["allowed"] == ["record_reading", "extend", "end"]
    assert agreement["fee_rate"] == "0.70" and agreement["water_start"] == "120.50"
    assert unit_state(occupants, unit["id"]) == "in_custody"
    assert [(e, a, t) for e, a, _, t, _ in trail(occupants, unit["id"])] == [("unit", "in_custody", "in_custody")]
    assert trail(occupants, agreement["id"]) == [("custody_agreement", "start", None, "active", "tester")]

    [started] = events(occupants, CustodyStarted)
    assert (started.agreement_id, started.unit_id, started.site_id, started.owner_id) == (
        agreement["id"], unit["id"], agreement["site_id"], owner["id"])
    assert (started.fee_rate, started.starts_on, started.ends_on) == ("0.70", "2027-01-01", "2027-06-30")
    assert (started.water_start, started.electricity_start) == ("120.50", "3400.00")
    [plan] = events(occupants, PatrolPlanPublished)
    assert (plan.purpose, plan.reference_id, plan.unit_id, plan.rrule, plan.patrol_role) == (
        "custody", agreement["id"], unit["id"], "FREQ=WEEKLY", "steward")
    # Midnight at the site (Asia/Shanghai by default) on the first day, until the day after the last.
    assert plan.starts_at.ToDatetime(timezone.utc) == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)
    assert plan.ends_at.ToDatetime(timezone.utc) == datetime(2027, 6, 30, 16, tzinfo=timezone.utc)
    assert plan.checkpoints


def test_the_fee_rate_follows_the_site_policy(occupants, site):
    override = occupants.put("/v1/policies/custody.fee_rate", json={"site_id": site["id"], "value": "0.60"},
                             headers=MANAGER)
    assert override.status_code == 200, override.get_json()
    response = post(occupants, "/v1/custody-agreements", agreement_body(make_unit(occupants, site),
                                                                        make_owner(occupants, site)))
    assert response.get_json()["fee_rate"] == "0.60"
    assert [e.fee_rate for e in events(occupants, CustodyStarted)] == ["0.60"]


def test_a_second_live_agreement_and_a_unit_not_vacant_are_conflicts(occupants, site, custody):
    _, unit, owner = custody
    again = post(occupants, "/v1/custody-agreements", agreement_body(unit, owner))
    assert again.status_code == 409 and again.get_json()["field"] == "unit_id"
    occupied = make_unit(occupants, site, number="1802", state="occupied")
    refused = post(occupants, "/v1/custody-agreements", agreement_body(occupied, owner))
    assert refused.status_code == 409 and refused.get_json()["field"] == "unit_id"
    assert unit_state(occupants, occupied["id"]) == "occupied"
    assert len(events(occupants, CustodyStarted)) == 1


@pytest.mark.parametrize("overrides, field", [
    ({"ends_on": "2026-12-31"}, "ends_on"),
    ({"water_start": "-1"}, "water_start"),
    ({"electricity_start": "1.234"}, "electricity_start"),
    ({"keys_held": 100}, "keys_held"),
    ({"starts_on": "1999-12-31"}, "starts_on"),
    ({"unit_id": "short"}, "unit_id"),
])
def test_bad_input_names_the_field_and_changes_nothing(occupants, site, overrides, field):
    unit, owner = make_unit(occupants, site), make_owner(occupants, site)
    response = post(occupants, "/v1/custody-agreements", agreement_body(unit, owner, **overrides))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json" and response.get_json()["field"] == field
    assert unit_state(occupants, unit["id"]) == "vacant"
    assert events(occupants, CustodyStarted) == [] and events(occupants, PatrolPlanPublished) == []


def test_authority_is_the_role_held_at_the_units_site(occupants, site):
    unit, owner = make_unit(occupants, site), make_owner(occupants, site)
    elsewhere = bearer(roles=(), site_roles={"another-site": ["cs_supervisor"]}, sites=("*",))
    technician = bearer(roles=(), site_roles={site["id"]: ["technician"]})
    for headers in (elsewhere, technician):
        assert post(occupants, "/v1/custody-agreements", agreement_body(unit, owner), headers).status_code == 403
    assert unit_state(occupants, unit["id"]) == "vacant"
    steward_here = bearer(roles=(), site_roles={site["id"]: ["steward"]}, sites=())
    assert post(occupants, "/v1/custody-agreements", agreement_body(unit, owner), steward_here).status_code == 201


def test_another_organizations_agreement_and_unit_are_not_found(occupants, custody):
    agreement, unit, owner = custody
    stranger = bearer(org=ORG_B, roles=("general_manager",))
    assert occupants.get(f"/v1/custody-agreements/{agreement['id']}", headers=stranger).status_code == 404
    assert reading(occupants, agreement, "water", "121", stranger).status_code == 404
    assert post(occupants, f"/v1/custody-agreements/{agreement['id']}/end", {}, stranger).status_code == 404
    assert post(occupants, "/v1/custody-agreements", agreement_body(unit, owner), stranger).status_code == 404
    listed = occupants.get(f"/v1/custody-agreements?site_id={agreement['site_id']}", headers=stranger)
    assert listed.status_code == 404
    assert occupants.get(f"/v1/custody-agreements/{agreement['id']}", headers=CS).status_code == 200


def test_use_over_the_limit_is_alerted_once_per_meter(occupants, custody):
    agreement, unit, _ = custody
    first = reading(occupants, agreement, "water", "124.00")
    assert first.status_code == 201
    assert (first.get_json()["used"], first.get_json()["limit"], first.get_json()["over_limit"]) == (
        "3.50", "5.00", False)
    assert events(occupants, CustodyMeterLimitExceeded) == []
    over = reading(occupants, agreement, "water", "125.60").get_json()
    assert (over["used"], over["over_limit"]) == ("5.10", True)
    assert reading(occupants, agreement, "water", "130.00").get_json()["over_limit"] is True
    assert reading(occupants, agreement, "electricity", "3419.99").get_json()["over_limit"] is False

    [alert] = events(occupants, CustodyMeterLimitExceeded)
    assert (alert.agreement_id, alert.unit_id, alert.site_id, alert.meter, alert.used, alert.limit, alert.reading) == (
        agreement["id"], unit["id"], agreement["site_id"], "water", "5.10", "5", "125.60")
    assert occupants.get(f"/v1/custody-agreements/{agreement['id']}", headers=CS).get_json()["water_alerted_at"]

    reading(occupants, agreement, "electricity", "3420.01")
    assert [(a.meter, a.used, a.limit) for a in events(occupants, CustodyMeterLimitExceeded)] == [
        ("water", "5.10", "5"), ("electricity", "20.01", "20")]
    listed = occupants.get(f"/v1/custody-agreements/{agreement['id']}/readings?limit=2", headers=CS).get_json()
    assert [(r["number"], r["meter"], r["reading"]) for r in listed["items"]] == [
        (1, "water", "124.00"), (2, "water", "125.60")]
    rest = occupants.get(f"/v1/custody-agreements/{agreement['id']}/readings?cursor={listed['next_cursor']}",
                         headers=CS).get_json()
    assert [r["number"] for r in rest["items"]] == [3, 4, 5] and rest["next_cursor"] is None


def test_limits_are_site_policy(occupants, site, custody):
    agreement, _, _ = custody
    occupants.put("/v1/policies/custody.water_limit", json={"site_id": site["id"], "value": "10"}, headers=MANAGER)
    assert reading(occupants, agreement, "water", "128.50").get_json()["over_limit"] is False
    assert events(occupants, CustodyMeterLimitExceeded) == []
    # An override that is no decimal is a conflict to correct, not a server error; nothing is recorded meanwhile.
    occupants.put("/v1/policies/custody.water_limit", json={"site_id": site["id"], "value": "plenty"},
                  headers=MANAGER)
    refused = reading(occupants, agreement, "water", "129.00")
    assert refused.status_code == 409 and "custody.water_limit" in refused.get_json()["detail"]
    listed = occupants.get(f"/v1/custody-agreements/{agreement['id']}/readings", headers=CS).get_json()
    assert [r["reading"] for r in listed["items"]] == ["128.50"]


def test_a_reading_below_the_previous_one_is_refused(occupants, custody):
    agreement, _, _ = custody
    below_start = reading(occupants, agreement, "water", "120.49")
    assert below_start.status_code == 422 and below_start.get_json()["field"] == "reading"
    assert reading(occupants, agreement, "water", "122.00").status_code == 201
    below_previous = reading(occupants, agreement, "water", "121.00")
    assert below_previous.status_code == 422 and below_previous.get_json()["field"] == "reading"
    unknown_meter = reading(occupants, agreement, "gas", "1")
    assert unknown_meter.status_code == 422 and unknown_meter.get_json()["field"] == "meter"
    listed = occupants.get(f"/v1/custody-agreements/{agreement['id']}/readings", headers=CS).get_json()
    assert [r["reading"] for r in listed["items"]] == ["122.00"]


def test_end_returns_the_unit_to_vacant_and_withdraws_the_patrol(occupants, custody):
    agreement, unit, owner = custody
    early = post(occupants, f"/v1/custody-agreements/{agreement['id']}/end", {"ended_on": "2026-12-31"})
    assert early.status_code == 422 and early.get_json()["field"] == "ended_on"
    ended = post(occupants, f"/v1/custody-agreements/{agreement['id']}/end",
                 {"ended_on": "2027-03-31", "reason": "业主收回自住"})
    assert ended.status_code == 200
    assert (ended.get_json()["state"], ended.get_json()["ended_on"], ended.get_json()["allowed"]) == (
        "ended", "2027-03-31", [])
    assert unit_state(occupants, unit["id"]) == "vacant"
    assert [a for _, a, *_ in trail(occupants, unit["id"])] == ["in_custody", "vacant"]
    assert trail(occupants, agreement["id"])[-1] == ("custody_agreement", "end", "active", "ended", "tester")

    [ended_event] = events(occupants, CustodyEnded)
    assert (ended_event.agreement_id, ended_event.unit_id, ended_event.owner_id, ended_event.ended_on,
            ended_event.reason) == (agreement["id"], unit["id"], owner["id"], "2027-03-31", "业主收回自住")
    [plan] = events(occupants, PatrolPlanPublished)
    [withdrawn] = events(occupants, PatrolPlanWithdrawn)
    assert (withdrawn.plan_id, withdrawn.site_id, withdrawn.reason) == (plan.plan_id, plan.site_id, "业主收回自住")

    # Ended is final: no second end, no readings; a new agreement may start on the vacant unit.
    for response in (post(occupants, f"/v1/custody-agreements/{agreement['id']}/end", {}),
                     reading(occupants, agreement, "water", "130")):
        assert response.status_code == 409
        assert (response.get_json()["state"], response.get_json()["allowed"]) == ("ended", [])
    assert len(events(occupants, CustodyEnded)) == 1
    assert post(occupants, "/v1/custody-agreements", agreement_body(unit, owner)).status_code == 201


def test_readings_and_end_need_a_customer_service_role_at_the_site(occupants, site, custody):
    agreement, unit, _ = custody
    elsewhere = bearer(roles=(), site_roles={"another-site": ["site_manager"]}, sites=("*",))
    assert reading(occupants, agreement, "water", "121", elsewhere).status_code == 403
    assert post(occupants, f"/v1/custody-agreements/{agreement['id']}/end", {}, elsewhere).status_code == 403
    assert unit_state(occupants, unit["id"]) == "in_custody"
    here = bearer(roles=(), site_roles={site["id"]: ["cs_supervisor"]}, sites=())
    assert reading(occupants, agreement, "water", "121", here).status_code == 201


def test_heavy_rain_plans_a_patrol_before_and_after_for_each_unit_in_custody(occupants, site, custody):
    agreement, unit, owner = custody
    ended_unit = make_unit(occupants, site, number="1803")
    other = post(occupants, "/v1/custody-agreements", agreement_body(ended_unit, owner)).get_json()
    post(occupants, f"/v1/custody-agreements/{other['id']}/end", {"ended_on": "2027-01-02"})
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=6)
    body = {"expected_start": start.isoformat(), "expected_end": (start + timedelta(hours=10)).isoformat()}

    response = post(occupants, f"/v1/sites/{site['id']}/heavy-rain-warnings", body)
    assert response.status_code == 201
    assert response.get_json()["unit_ids"] == [unit["id"]]
    rain = [p for p in events(occupants, PatrolPlanPublished) if p.purpose == "heavy_rain"]
    assert [(p.reference_id, p.unit_id, p.rrule) for p in rain] == [(agreement["id"], unit["id"], "")] * 2
    assert [p.starts_at.ToDatetime(timezone.utc) for p in rain] == [start - timedelta(hours=2),
                                                                    start + timedelta(hours=12)]
    assert len({p.plan_id for p in rain}) == 2
    assert trail(occupants, response.get_json()["id"])[0][:2] == ("heavy_rain_warning", "announce")


@pytest.mark.parametrize("start_in, end_in, field", [
    (timedelta(hours=5), timedelta(hours=4), "expected_end"),
    (timedelta(days=30), timedelta(days=31), "expected_start"),
    (timedelta(days=-30), timedelta(hours=1), "expected_start"),
    (timedelta(hours=-5), timedelta(hours=-1), "expected_end"),
])
def test_a_heavy_rain_warning_must_be_about_rain_to_come(occupants, site, custody, start_in, end_in, field):
    now = datetime.now(timezone.utc)
    body = {"expected_start": (now + start_in).isoformat(), "expected_end": (now + end_in).isoformat()}
    response = post(occupants, f"/v1/sites/{site['id']}/heavy-rain-warnings", body)
    assert response.status_code == 422 and response.get_json()["field"] == field
    assert [p for p in events(occupants, PatrolPlanPublished) if p.purpose == "heavy_rain"] == []


def test_a_heavy_rain_warning_needs_an_offset_and_a_role_at_the_site(occupants, site):
    naive = {"expected_start": "2030-01-01T08:00:00", "expected_end": "2030-01-01T18:00:00"}
    response = post(occupants, f"/v1/sites/{site['id']}/heavy-rain-warnings", naive)
    assert response.status_code == 422 and response.get_json()["field"] == "expected_start"
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    body = {"expected_start": start.isoformat(), "expected_end": (start + timedelta(hours=1)).isoformat()}
    elsewhere = bearer(roles=(), site_roles={"another-site": ["cs_supervisor"]}, sites=("*",))
    assert post(occupants, f"/v1/sites/{site['id']}/heavy-rain-warnings", body, elsewhere).status_code == 403
    stranger = bearer(org=ORG_B, roles=("general_manager",))
    assert post(occupants, f"/v1/sites/{site['id']}/heavy-rain-warnings", body, stranger).status_code == 404


def test_the_list_pages_a_sites_agreements_by_state(occupants, site, custody):
    agreement, _, owner = custody
    second = post(occupants, "/v1/custody-agreements",
                  agreement_body(make_unit(occupants, site, number="1804"), owner)).get_json()
    post(occupants, f"/v1/custody-agreements/{second['id']}/end", {"ended_on": "2027-02-01"})
    active = occupants.get(f"/v1/custody-agreements?site_id={site['id']}&state=active", headers=CS).get_json()
    assert [a["id"] for a in active["items"]] == [agreement["id"]]
    first_page = occupants.get(f"/v1/custody-agreements?site_id={site['id']}&limit=1", headers=CS).get_json()
    rest = occupants.get(f"/v1/custody-agreements?site_id={site['id']}&cursor={first_page['next_cursor']}",
                         headers=CS).get_json()
    assert {a["id"] for a in first_page["items"] + rest["items"]} == {agreement["id"], second["id"]}


def test_extend_republishes_the_weekly_patrol_to_the_new_end(occupants, custody):
    agreement, _, _ = custody
    path = f"/v1/custody-agreements/{agreement['id']}/extend"
    not_later = post(occupants, path, {"ends_on": "2027-06-30"})
    assert not_later.status_code == 422 and not_later.get_json()["field"] == "ends_on"
    elsewhere = bearer(roles=(), site_roles={"another-site": ["cs_supervisor"]}, sites=("*",))
    assert post(occupants, path, {"ends_on": "2027-12-31"}, elsewhere).status_code == 403
    assert post(occupants, path, {"ends_on": "2027-12-31"}, bearer(org=ORG_B, roles=("site_manager",))
                ).status_code == 404

    extended = post(occupants, path, {"ends_on": "2027-12-31", "reason": "业主延期回国"})
    assert extended.status_code == 200 and extended.get_json()["ends_on"] == "2027-12-31"
    first, again = events(occupants, PatrolPlanPublished)
    assert again.plan_id == first.plan_id and again.rrule == "FREQ=WEEKLY"
    assert again.ends_at.ToDatetime(timezone.utc) == datetime(2027, 12, 31, 16, tzinfo=timezone.utc)
    assert trail(occupants, agreement["id"])[-1][:2] == ("custody_agreement", "extend")

    post(occupants, f"/v1/custody-agreements/{agreement['id']}/end", {"ended_on": "2027-03-01"})
    late = post(occupants, path, {"ends_on": "2028-12-31"})
    assert late.status_code == 409 and late.get_json()["allowed"] == []


def test_the_worker_ends_agreements_past_their_agreed_end_once(occupants, site):
    from services.occupants.custody.rules import EXPIRY_ACTOR, expire_due

    owner = make_owner(occupants, site)
    lapsed_unit, running_unit = make_unit(occupants, site, "1805"), make_unit(occupants, site, "1806")
    lapsed = post(occupants, "/v1/custody-agreements",
                  agreement_body(lapsed_unit, owner, starts_on="2026-01-01", ends_on="2026-06-30")).get_json()
    running = post(occupants, "/v1/custody-agreements", agreement_body(running_unit, owner)).get_json()
    sessions = occupants.application.extensions["psp"].sessions

    assert expire_due(sessions) == 1
    assert expire_due(sessions) == 0
    assert occupants.get(f"/v1/custody-agreements/{lapsed['id']}", headers=CS).get_json()["state"] == "ended"
    assert occupants.get(f"/v1/custody-agreements/{running['id']}", headers=CS).get_json()["state"] == "active"
    assert (unit_state(occupants, lapsed_unit["id"]), unit_state(occupants, running_unit["id"])) == (
        "vacant", "in_custody")
    [ended] = events(occupants, CustodyEnded)
    assert (ended.agreement_id, ended.ended_on) == (lapsed["id"], "2026-06-30")
    assert [w.plan_id for w in events(occupants, PatrolPlanWithdrawn)] == [
        p.plan_id for p in events(occupants, PatrolPlanPublished) if p.reference_id == lapsed["id"]]
    assert trail(occupants, lapsed["id"])[-1] == ("custody_agreement", "end", "active", "ended", EXPIRY_ACTOR)


def test_the_docs_hold_the_current_diagram(occupants):
    from services.occupants.custody.rules import CUSTODY

    doc = (ROOT / "docs" / "occupants" / "custody-and-profiles.md").read_text()
    assert CUSTODY.mermaid() in doc
    described = occupants.get("/openapi.json").get_json()["paths"]["/v1/custody-agreements/{agreement_id}/end"]
    assert CUSTODY.mermaid() in described["post"]["description"]
