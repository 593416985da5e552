"""Repairs on SQLite (TKT-8): warranty decides free or paid, paid work quoted from billing's catalogue and
charged only when the occupant accepts it, dispatch by assignment or from the pool (one technician wins),
check-in and check-out with a reason for unfinished work, emergencies with back-filled paperwork, and the
ticket's lifecycle and clocks following the work order."""

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from psp.billing.v1.catalogue_pb2 import PaidServicePriced, PaidServiceWithdrawn
from psp.occupants.v1.movein_pb2 import MoveInAccepted
from psp.ticketing.v1.repairs_pb2 import RepairWorkAccepted, WorkOrderDispatched
from sqlalchemy import func, select, update

from services.ticketing import demo
from services.ticketing.models import chassis
from services.ticketing.repairs.rules import WORK_ORDER, observe_work_orders
from services.ticketing.repairs.tables import CatalogueEntry, UnitHandover, WorkOrder
from services.ticketing.sla.tables import Deadline
from services.ticketing.visits.tables import Survey, SurveyResponse
from tests.conftest import ORG_A, ORG_B
from tests.support.outbox import published
from tests.support.tickets import a_person, a_staff_member, a_unit, deliver, staff

SITE = str(uuid.uuid4())
CS = staff("cs-wang", roles=(), sites=(), site_roles={SITE: ["cs_specialist"]})
TECH = staff("tech-zhao", roles=(), sites=(), site_roles={SITE: ["technician"]})
OTHER_TECH = staff("tech-qian", roles=(), sites=(), site_roles={SITE: ["technician"]})
FOREIGN = staff("cs-other", roles=("cs_supervisor",), org=ORG_B)
NOW = datetime.now(timezone.utc)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response, status, field=None):
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if field is not None:
        assert body.get("field") == field or field in [e.get("field") for e in body.get("errors", [])], body
    return body


def _state(client):
    return client.application.extensions["psp"]


def events(client, message_cls):
    return [payload for _, payload in published(_state(client).engine, chassis, message_cls)]


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def priced(code="replace_tap", price="80.00", unit="job", name="更换水龙头 Replace a tap",
           effective_from=NOW) -> PaidServicePriced:
    return PaidServicePriced(site_id=SITE, code=code, name=name, price=price, currency="CNY", unit=unit,
                             effective_from=_stamp(effective_from))


def handed_over(unit_id, years_ago: float, role="owner") -> MoveInAccepted:
    return MoveInAccepted(move_in_id=str(uuid.uuid4()), site_id=SITE, unit_id=unit_id, person_id=str(uuid.uuid4()),
                          occupancy_role=role, accepted_at=_stamp(NOW - timedelta(days=365 * years_ago)))


@pytest.fixture
def site(ticketing):
    """Two units known from occupants: one handed over a year ago (in warranty), one four years ago; an
    occupant; the site's two technicians; billing's catalogue with two services."""
    new, old, person = a_unit(SITE, "101"), a_unit(SITE, "102"), a_person(SITE)
    deliver(_state(ticketing).sessions, new, old, person, handed_over(new.unit_id, 1), handed_over(old.unit_id, 4),
            a_staff_member(SITE, "tech-zhao"), a_staff_member(SITE, "tech-qian"),
            priced(), priced("clear_drain", "45.50", "hour", "疏通下水道 Clear a drain"))
    return {"new_unit": new.unit_id, "old_unit": old.unit_id, "person": person.person_id}


def repair_ticket(client, unit_id, person_id, emergency=False, location="in_unit", headers=CS):
    body = {"site_id": SITE, "type": "repair", "channel": "phone", "subject": "厨房水管漏水 Kitchen pipe leaks",
            "location": location, "reporter_id": person_id, "emergency": emergency}
    if location == "in_unit":
        body["unit_id"] = unit_id
    ticket = ok(client.post("/v1/tickets", json=body, headers=headers), 201)
    if ticket["state"] == "registered":
        categories = ok(client.get("/v1/ticket-categories?limit=200", headers=CS))["items"]
        water = next(c["id"] for c in categories if c["code"] == "repair.water")
        ticket = ok(client.post(f"/v1/tickets/{ticket['id']}/classification", json={"category_id": water},
                                headers=CS))
    return ticket


def open_order(client, ticket, headers=CS, status=201, **fields):
    return client.post("/v1/work-orders", json={"ticket_id": ticket["id"], **fields}, headers=headers)


def step(client, order, action, headers=TECH, **fields):
    return client.post(f"/v1/work-orders/{order['id']}/transitions", json={"action": action, **fields},
                       headers=headers)


def ticket_state(client, ticket):
    return ok(client.get(f"/v1/tickets/{ticket['id']}", headers=CS))["state"]


# -- warranty and price ------------------------------------------------------------------------------------


def test_work_within_the_items_warranty_is_free_and_accepting_it_charges_nothing(ticketing, site):
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    refused(open_order(ticketing, ticket, item="plumbing", service_code="replace_tap"), 422, "service_code")
    refused(open_order(ticketing, ticket, item="plumbing", quantity="2"), 422, "quantity")
    order = ok(open_order(ticketing, ticket, item="plumbing", technician_id="tech-zhao"), 201)
    assert order["under_warranty"] is True and order["amount"] is None and order["service_code"] is None
    assert order["warranty_until"][:4] == str((NOW + timedelta(days=365)).year)
    for action in ("check_in", "complete"):
        order = ok(step(ticketing, order, action))
    accepted = ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance",
                                 json={"acceptance": "signature", "acceptance_reference": "WO-0001"}, headers=TECH))
    assert accepted["state"] == "accepted" and accepted["payer_id"] is None
    assert events(ticketing, RepairWorkAccepted) == []


def test_out_of_warranty_work_is_quoted_from_the_catalogue_and_charged_once_when_accepted(ticketing, site):
    ticket = repair_ticket(ticketing, site["old_unit"], site["person"])
    refused(open_order(ticketing, ticket, item="plumbing"), 422, "service_code")
    refused(open_order(ticketing, ticket, item="plumbing", service_code="paint_wall"), 422, "service_code")
    refused(open_order(ticketing, ticket, item="roof"), 422, "item")
    refused(open_order(ticketing, ticket), 422, "item")
    order = ok(open_order(ticketing, ticket, item="plumbing", service_code="clear_drain", quantity="1.5"), 201)
    assert (order["under_warranty"], order["unit_price"], order["amount"]) == (False, "45.50", "68.25")
    order = ok(step(ticketing, order, "assign", headers=CS, technician_id="tech-zhao"))
    for action in ("check_in", "complete"):
        order = ok(step(ticketing, order, action))
    assert events(ticketing, RepairWorkAccepted) == []  # never before the occupant accepts
    accepted = ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance",
                                 json={"acceptance": "confirmation"}, headers=CS))
    [charge] = events(ticketing, RepairWorkAccepted)
    assert (charge.work_order_id, charge.person_id, charge.service_code) == (order["id"], site["person"], "clear_drain")
    assert (charge.quantity, charge.unit_price, charge.amount, charge.currency) == ("1.50", "45.50", "68.25", "CNY")
    assert accepted["payer_id"] == site["person"]
    again = refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                                   headers=CS), 409, "action")
    assert again["allowed"] == []
    assert len(events(ticketing, RepairWorkAccepted)) == 1


def test_a_withdrawn_service_is_no_longer_quoted_and_public_areas_are_free(ticketing, site):
    deliver(_state(ticketing).sessions, PaidServiceWithdrawn(site_id=SITE, code="replace_tap"))
    ticket = repair_ticket(ticketing, site["old_unit"], site["person"])
    refused(open_order(ticketing, ticket, item="fittings", service_code="replace_tap"), 422, "service_code")
    page = ok(ticketing.get(f"/v1/repair-catalogue?site_id={SITE}", headers=CS))
    assert {(entry["code"], entry["offered"]) for entry in page["items"]} == {("clear_drain", True),
                                                                              ("replace_tap", False)}
    lobby = repair_ticket(ticketing, None, site["person"], location="public_area")
    order = ok(open_order(ticketing, lobby, item="electrical"), 201)
    assert order["unit_id"] is None and order["amount"] is None


def test_the_catalogue_keeps_the_latest_price_and_the_first_owners_handover(ticketing, site):
    deliver(_state(ticketing).sessions, priced(price="85.00"), priced(price="90.00"),
            handed_over(site["new_unit"], 0.1, role="tenant"), handed_over(site["new_unit"], 0.2))
    with _state(ticketing).sessions() as session:
        assert session.get(CatalogueEntry, (SITE, "replace_tap")).price == Decimal("90.00")
        handover = session.get(UnitHandover, site["new_unit"]).handed_over_at
    assert NOW - handover.replace(tzinfo=timezone.utc) > timedelta(days=300)


def test_an_older_price_delivered_late_changes_nothing_and_only_a_newer_one_offers_a_withdrawn_service_again(
        ticketing, site):
    sessions = _state(ticketing).sessions

    def quoted():
        with sessions() as session:
            entry = session.get(CatalogueEntry, (SITE, "fix_lock"))
            return entry.price, entry.offered

    def at(price, minutes_ago):
        return priced("fix_lock", price, effective_from=NOW - timedelta(minutes=minutes_ago))

    deliver(sessions, at("95.00", 60))
    deliver(sessions, at("70.00", 120))  # older, delivered late
    assert quoted() == (Decimal("95.00"), True)
    deliver(sessions, at("99.00", 30), at("60.00", 90))  # one batch, the older last
    assert quoted() == (Decimal("99.00"), True)
    deliver(sessions, at("98.00", 30))  # as old: corrects the price still offered
    assert quoted() == (Decimal("98.00"), True)
    deliver(sessions, PaidServiceWithdrawn(site_id=SITE, code="fix_lock"))
    deliver(sessions, at("98.00", 30))  # redelivered after the withdrawal
    assert quoted() == (Decimal("98.00"), False)
    deliver(sessions, priced("fix_lock", "97.00", effective_from=datetime.now(timezone.utc)))
    assert quoted() == (Decimal("97.00"), True)


def test_a_policy_corrects_a_units_handover_day(ticketing, site):
    admin = staff("gm", roles=("general_manager",))
    day = (NOW - timedelta(days=30)).date().isoformat()
    ticket = repair_ticket(ticketing, site["old_unit"], site["person"])
    refused(open_order(ticketing, ticket, item="plumbing"), 422, "service_code")
    ok(ticketing.put(f"/v1/policies/repairs.handover_dates?site_id={SITE}",
                     json={"value": {site["old_unit"]: day}}, headers=admin))
    order = ok(open_order(ticketing, ticket, item="plumbing"), 201)
    assert order["under_warranty"] is True


# -- dispatch and visits -----------------------------------------------------------------------------------


def test_assignment_dispatches_the_ticket_and_check_in_and_out_move_it_on(ticketing, site):
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    order = ok(open_order(ticketing, ticket, item="plumbing", preferred_at=(NOW + timedelta(hours=3)).isoformat()),
               201)
    assert order["state"] == "open" and ticket_state(ticketing, ticket) == "classified"
    refused(step(ticketing, order, "assign", headers=TECH, technician_id="tech-zhao"), 403)
    refused(step(ticketing, order, "assign", headers=CS), 422, "technician_id")
    order = ok(step(ticketing, order, "assign", headers=CS, technician_id="tech-zhao"))
    [dispatched] = events(ticketing, WorkOrderDispatched)
    assert (dispatched.work_order_id, dispatched.technician_user_id, dispatched.ticket_number) == (
        order["id"], "tech-zhao", ticket["number"])
    assert ticket_state(ticketing, ticket) == "assigned"
    with _state(ticketing).sessions() as session:
        dispatch = session.scalar(select(Deadline).where(Deadline.ticket_id == ticket["id"],
                                                         Deadline.stage == "dispatch"))
    assert dispatch.state == "met"

    refused(step(ticketing, order, "check_in", headers=OTHER_TECH), 403)
    order = ok(step(ticketing, order, "check_in"))
    assert order["checked_in_at"] and ticket_state(ticketing, ticket) == "in_progress"
    refused(step(ticketing, order, "leave_unfinished"), 422, "reason")
    order = ok(step(ticketing, order, "leave_unfinished", reason="等待配件 Waiting for a valve"))
    assert order["state"] == "unfinished" and order["unfinished_reason"].startswith("等待配件")
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                           headers=CS), 409, "action")
    for action in ("check_in", "complete"):
        order = ok(step(ticketing, order, action))
    order = ok(step(ticketing, order, "refuse", headers=CS, reason="仍然滴水 Still dripping"))
    for action in ("check_in", "complete"):
        order = ok(step(ticketing, order, action))
    assert ticket_state(ticketing, ticket) == "in_progress"  # done, not yet accepted
    order = ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                              headers=CS))
    assert ticket_state(ticketing, ticket) == "resolved"
    actions = [entry["action"] for entry in order["history"]]
    assert actions == ["open", "assign", "check_in", "leave_unfinished", "check_in", "complete", "refuse", "check_in",
                       "complete", "accept"]


def test_only_an_active_technician_the_staff_directory_has_at_the_site_is_assigned(ticketing, site):
    deliver(_state(ticketing).sessions, a_staff_member(str(uuid.uuid4()), "tech-far"),
            a_staff_member(SITE, "cs-zhang", roles=("cs_specialist",)), a_staff_member(SITE, "tech-gone", active=False),
            a_staff_member(SITE, "night-wu", roles=("night_duty",)))
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    refused(open_order(ticketing, ticket, item="plumbing", technician_id="tech-nobody"), 422, "technician_id")
    with _state(ticketing).sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkOrder)) == 0
    order = ok(open_order(ticketing, ticket, item="plumbing"), 201)
    for stranger in ("tech-nobody", "tech-far", "cs-zhang", "tech-gone"):
        refused(step(ticketing, order, "assign", headers=CS, technician_id=stranger), 422, "technician_id")
    assert ok(ticketing.get(f"/v1/work-orders/{order['id']}", headers=CS))["state"] == "open"
    assert events(ticketing, WorkOrderDispatched) == []
    assert ok(step(ticketing, order, "assign", headers=CS, technician_id="night-wu"))["technician_id"] == "night-wu"


def test_check_ins_are_timed_from_dispatch_once_committed_and_work_orders_counted_by_state(ticketing, site):
    def timed():
        labels = {"service": "ticketing"}
        return (REGISTRY.get_sample_value("work_order_dispatch_to_check_in_seconds_count", labels),
                REGISTRY.get_sample_value("work_order_dispatch_to_check_in_seconds_sum", labels))

    sessions = _state(ticketing).sessions
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    order = ok(open_order(ticketing, ticket, item="plumbing", technician_id="tech-zhao"), 201)
    with sessions() as session, session.begin():
        session.execute(update(WorkOrder).where(WorkOrder.id == order["id"])
                        .values(dispatched_at=datetime.now(timezone.utc) - timedelta(minutes=10)))
    count, total = timed()
    refused(step(ticketing, order, "check_in", headers=OTHER_TECH), 403)
    assert timed() == (count, total)
    order = ok(step(ticketing, order, "check_in"))
    after_count, after_total = timed()
    assert after_count == count + 1 and 600 <= after_total - total < 900
    order = ok(step(ticketing, order, "leave_unfinished", reason="等待配件 Waiting for a valve"))
    ok(step(ticketing, order, "check_in"))  # back after an unfinished visit: not a dispatch's first arrival
    assert timed()[0] == after_count

    ok(open_order(ticketing, repair_ticket(ticketing, site["new_unit"], site["person"]), item="plumbing"), 201)
    observe_work_orders(sessions)
    by_state = {state: REGISTRY.get_sample_value("work_orders", {"service": "ticketing", "state": state})
                for state in WORK_ORDER.states}
    assert by_state == {**dict.fromkeys(WORK_ORDER.states, 0), "on_site": 1, "open": 1}


def test_two_technicians_take_one_order_from_the_pool_and_the_second_is_told_it_is_taken(ticketing, site):
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    order = ok(open_order(ticketing, ticket, item="electrical"), 201)
    pool = ok(ticketing.get("/v1/work-orders?pool=true", headers=OTHER_TECH))["items"]
    assert [o["id"] for o in pool] == [order["id"]]
    taken = ok(step(ticketing, order, "take"))
    assert taken["technician_id"] == "tech-zhao"
    second = refused(step(ticketing, order, "take", headers=OTHER_TECH), 409, "action")
    assert second["state"] == "dispatched"
    assert ok(ticketing.get("/v1/work-orders?pool=true", headers=OTHER_TECH))["items"] == []
    assert [o["id"] for o in ok(ticketing.get("/v1/work-orders?mine=true", headers=TECH))["items"]] == [order["id"]]
    refused(step(ticketing, order, "release", headers=OTHER_TECH, reason="不是我的"), 403)
    released = ok(step(ticketing, order, "release", reason="需要电工证 Needs a licensed electrician"))
    assert released["state"] == "open" and released["technician_id"] is None
    assert len(events(ticketing, WorkOrderDispatched)) == 1


def test_an_emergency_starts_first_and_its_paperwork_is_back_filled_before_acceptance(ticketing, site):
    ticket = repair_ticket(ticketing, site["old_unit"], site["person"], emergency=True, headers=TECH)
    assert ticket["state"] == "received"  # recorded by the technician for customer service
    order = ok(open_order(ticketing, ticket, headers=TECH), 201)
    assert order["paperwork_pending"] is True and order["emergency"] is True
    order = ok(step(ticketing, order, "start_emergency"))
    assert order["state"] == "on_site" and order["technician_id"] == "tech-zhao"
    order = ok(step(ticketing, order, "complete"))
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                           headers=CS), 409, "action")
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/paperwork", json={"item": "plumbing"}, headers=TECH), 403)
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/paperwork", json={}, headers=CS), 422, "item")
    order = ok(ticketing.post(f"/v1/work-orders/{order['id']}/paperwork",
                              json={"item": "plumbing", "service_code": "replace_tap"}, headers=CS))
    assert (order["paperwork_pending"], order["amount"]) == (False, "80.00")
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/paperwork", json={"item": "plumbing"}, headers=CS), 409)
    ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance",
                      json={"acceptance": "signature", "acceptance_reference": "WO-0002"}, headers=TECH))
    assert [charge.amount for charge in events(ticketing, RepairWorkAccepted)] == ["80.00"]


def test_only_an_emergency_skips_dispatch_and_only_repairs_get_work_orders(ticketing, site):
    ticket = repair_ticket(ticketing, site["new_unit"], site["person"])
    refused(open_order(ticketing, ticket, headers=TECH, item="plumbing"), 403)
    order = ok(open_order(ticketing, ticket, item="plumbing"), 201)
    refused(step(ticketing, order, "start_emergency"), 409, "action")
    refused(step(ticketing, order, "complete"), 409, "action")
    complaint = ok(ticketing.post("/v1/tickets", json={
        "site_id": SITE, "type": "complaint", "channel": "phone", "subject": "噪音 Noise", "tier": "minor"},
        headers=CS), 201)
    refused(open_order(ticketing, complaint, item="plumbing"), 422, "ticket_id")
    refused(ticketing.post("/v1/work-orders", json={"ticket_id": ticket["id"], "item": "plumbing"}, headers=FOREIGN),
            422, "ticket_id")
    refused(ticketing.get(f"/v1/work-orders/{order['id']}", headers=FOREIGN), 404)
    refused(open_order(ticketing, ticket, item="plumbing", preferred_at=(NOW - timedelta(hours=1)).isoformat()),
            422, "preferred_at")
    cancelled = ok(step(ticketing, order, "cancel", headers=CS, reason="业主自行修好 Fixed by the owner"))
    assert cancelled["allowed_actions"] == [] and cancelled["state"] in WORK_ORDER.final


def test_paid_work_needs_someone_to_charge(ticketing, site):
    ticket = repair_ticket(ticketing, site["old_unit"], None)
    order = ok(open_order(ticketing, ticket, item="fittings", service_code="replace_tap",
                          technician_id="tech-zhao"), 201)
    for action in ("check_in", "complete"):
        order = ok(step(ticketing, order, action))
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                           headers=CS), 422, "payer_id")
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance",
                           json={"acceptance": "confirmation", "payer_id": str(uuid.uuid4())}, headers=CS),
            422, "payer_id")
    refused(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "signature",
                                                                              "payer_id": site["person"]},
                           headers=CS), 422, "acceptance_reference")
    ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance",
                      json={"acceptance": "confirmation", "payer_id": site["person"]}, headers=CS))
    assert [charge.person_id for charge in events(ticketing, RepairWorkAccepted)] == [site["person"]]


def test_the_demo_gives_the_desks_leak_its_work_order_and_the_site_its_quarterly_evaluation(ticketing):
    sessions = _state(ticketing).sessions
    with sessions() as session, session.begin():
        demo.seed(session, ORG_A)
    deliver(sessions, a_unit(SITE, "101"), a_unit(SITE, "102"), a_person(SITE), a_person(SITE, "李娜"),
            a_staff_member(SITE, "demo-technician"))
    for _ in range(2):
        with sessions() as session, session.begin():
            assert demo.seed_live(session, ORG_A) is True
    with sessions() as session:
        [order] = session.scalars(select(WorkOrder)).all()
        [survey] = session.scalars(select(Survey)).all()
        responses = session.scalars(select(SurveyResponse)).all()
    assert (order.state, order.technician_id, order.under_warranty) == ("on_site", "demo-technician", True)
    assert survey.kind == "quarterly_evaluation" and len(responses) == 2
