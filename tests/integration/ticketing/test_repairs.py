"""Repairs on PostgreSQL and RabbitMQ: billing's prices and occupants' handovers arrive over the bus, paid
work is quoted exactly in NUMERIC columns, technicians racing for one pool order leave one winner, two
acceptances at once charge once, and billing raises the charge from the acceptance, once."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from psp.billing.v1.catalogue_pb2 import PaidServicePriced, PaidServiceWithdrawn
from psp.occupants.v1.movein_pb2 import MoveInAccepted
from psp.ticketing.v1.repairs_pb2 import RepairWorkAccepted, WorkOrderDispatched
from sqlalchemy import select

from services.ticketing.models import chassis
from services.ticketing.repairs.tables import CatalogueEntry, UnitHandover, WorkOrder
from shared.bus.connection import connect
from shared.bus.envelope import new_envelope
from shared.bus.publisher import Outgoing, Publisher
from shared.config import Settings
from tests.conftest import ORG_A, bearer, create_site, running_workers, wait_until
from tests.support.outbox import published
from tests.support.tickets import a_person, a_staff_member, a_unit, deliver, staff

pytestmark = pytest.mark.integration

SITE = str(uuid.uuid4())
CS = staff("cs-wang", roles=(), sites=(), site_roles={SITE: ["cs_specialist"]})
MANAGER = bearer(roles=("property_manager",))
TECHNICIANS = [staff(f"tech-{n}", roles=(), sites=(), site_roles={SITE: ["technician"]}) for n in range(4)]


@pytest.fixture
def ticketing(platform_env):
    from services.ticketing.app import create_app

    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _state(client):
    return client.application.extensions["psp"]


def _publish(exchange: str, *payloads) -> None:
    """As the producer's relay does: on its exchange with the event type as routing key, confirmed."""
    envelopes = [new_envelope(payload, organization_id=ORG_A) for payload in payloads]
    with connect(Settings()) as connection:
        outcome = Publisher(connection).publish([
            Outgoing(e.id, exchange, e.type, e.SerializeToString(), {}) for e in envelopes])
    assert set(outcome.values()) == {None}, outcome


def _ago(delta: timedelta) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(timezone.utc) - delta)
    return stamp


def _years_ago(years: int) -> Timestamp:
    return _ago(timedelta(days=365 * years))


@pytest.fixture
def known(ticketing):
    """A unit and a person occupants registered at the site, and its four technicians."""
    unit, person = a_unit(SITE), a_person(SITE)
    deliver(_state(ticketing).sessions, unit, person, *(a_staff_member(SITE, f"tech-{n}") for n in range(4)))
    return {"unit_id": unit.unit_id, "reporter_id": person.person_id}


def paid_order(client, known, **fields):
    ticket = ok(client.post("/v1/tickets", json={
        "site_id": SITE, "type": "repair", "channel": "phone", "subject": "更换门锁 Replace a lock",
        "location": "in_unit", **known}, headers=CS), 201)
    return ok(client.post("/v1/work-orders", json={"ticket_id": ticket["id"], **fields}, headers=CS), 201)


def at_once(count: int, request) -> list[int]:
    """`request(n)` from `count` threads together; their status codes."""
    statuses, start = [], threading.Barrier(count)

    def run(n):
        start.wait()
        statuses.append(request(n).status_code)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_prices_and_handovers_over_the_bus_quote_paid_work_exactly_and_two_acceptances_charge_once(ticketing, known):
    with running_workers("ticketing"):
        _publish("billing.events", PaidServicePriced(site_id=SITE, code="replace_lock", name="更换门锁", price="33.33",
                                                     currency="CNY", unit="piece"))
        _publish("occupants.events", MoveInAccepted(move_in_id=str(uuid.uuid4()), site_id=SITE,
                                                    unit_id=known["unit_id"], person_id=known["reporter_id"],
                                                    occupancy_role="owner", accepted_at=_years_ago(3)))

        def arrived():
            with _state(ticketing).sessions() as session:
                return session.get(CatalogueEntry, (SITE, "replace_lock")) and session.get(UnitHandover,
                                                                                           known["unit_id"])
        wait_until(arrived, what="billing's price and occupants' handover in ticketing's read models")
    order = paid_order(ticketing, known, item="fittings", service_code="replace_lock", quantity="3",
                       technician_id="tech-0")
    assert (order["under_warranty"], order["amount"]) == (False, "99.99")
    for action in ("check_in", "complete"):
        order = ok(ticketing.post(f"/v1/work-orders/{order['id']}/transitions", json={"action": action},
                                  headers=TECHNICIANS[0]))
    client = ticketing.application.test_client
    statuses = at_once(2, lambda n: client().post(f"/v1/work-orders/{order['id']}/acceptance",
                                                  json={"acceptance": "confirmation"}, headers=CS))
    assert statuses == [200, 409]
    [charge] = [payload for _, payload in published(_state(ticketing).engine, chassis, RepairWorkAccepted)]
    assert (charge.quantity, charge.unit_price, charge.amount) == ("3.00", "33.33", "99.99")
    with _state(ticketing).sessions() as session:
        stored = session.get(WorkOrder, order["id"])
        assert (stored.amount, stored.unit_price, stored.state) == (Decimal("99.99"), Decimal("33.33"), "accepted")


def test_the_catalogue_keeps_each_services_newest_change_whatever_order_it_arrives_in(ticketing):
    sessions = _state(ticketing).sessions

    def price(amount: str, minutes_ago: int) -> PaidServicePriced:
        return PaidServicePriced(site_id=SITE, code="fix_lock", name="修锁 Fix a lock", price=amount, currency="CNY",
                                 unit="job", effective_from=_ago(timedelta(minutes=minutes_ago)))

    def quoted():
        with sessions() as session:
            entry = session.get(CatalogueEntry, (SITE, "fix_lock"))
            return entry.price, entry.offered

    deliver(sessions, price("40.00", 30), price("20.00", 90))  # one batch, the older last
    deliver(sessions, price("25.00", 60))  # older, delivered late
    assert quoted() == (Decimal("40.00"), True)
    deliver(sessions, PaidServiceWithdrawn(site_id=SITE, code="fix_lock"), price("40.00", 30))
    assert quoted() == (Decimal("40.00"), False)
    deliver(sessions, price("45.00", 0))
    assert quoted() == (Decimal("45.00"), True)


def test_four_technicians_taking_one_pool_order_at_once_leave_one_holder(ticketing, known):
    deliver(_state(ticketing).sessions, MoveInAccepted(
        move_in_id=str(uuid.uuid4()), site_id=SITE, unit_id=known["unit_id"], person_id=known["reporter_id"],
        occupancy_role="owner", accepted_at=_years_ago(1)))
    order = paid_order(ticketing, known, item="electrical")
    assert order["under_warranty"] is True and order["state"] == "open"
    client = ticketing.application.test_client
    statuses = at_once(4, lambda n: client().post(f"/v1/work-orders/{order['id']}/transitions",
                                                  json={"action": "take"}, headers=TECHNICIANS[n]))
    assert statuses == [200, 409, 409, 409]
    [dispatched] = [payload for _, payload in published(_state(ticketing).engine, chassis, WorkOrderDispatched)]
    log = chassis.audit_log
    with _state(ticketing).sessions() as session:
        holder = session.get(WorkOrder, order["id"]).technician_id
        actions = session.scalars(select(log.c.action).where(log.c.entity_id == order["id"])
                                  .order_by(log.c.id)).all()
    assert dispatched.technician_user_id == holder and holder in {f"tech-{n}" for n in range(4)}
    assert actions == ["open", "take"]


def test_billings_price_quotes_the_work_and_the_occupants_acceptance_is_charged_in_billing_once(
        occupants_api, ticketing, databases):
    from services.billing.app import create_app

    billing = create_app().test_client()
    site = create_site(occupants_api)
    building = ok(occupants_api.post(f"/v1/sites/{site['id']}/buildings", json={"code": "B", "name": "Tower B"},
                                     headers=MANAGER), 201)
    unit = ok(occupants_api.post(f"/v1/buildings/{building['id']}/units", headers=MANAGER, json={
        "number": "0806", "floor": 8, "kind": "residence", "floor_area_m2": "76.00"}), 201)
    person = ok(occupants_api.post("/v1/persons", headers=MANAGER, json={
        "site_id": site["id"], "full_name": "周敏", "phone": "13800000006"}), 201)
    desk = staff("cs-wang", roles=("cs_specialist",), sites=(site["id"],))
    with running_workers("occupants", "ticketing", "billing"):
        wait_until(lambda: billing.put(f"/v1/sites/{site['id']}/paid-services/replace_tap", headers=MANAGER, json={
            "name": "更换水龙头 Replace a tap", "price": "80.00", "unit": "piece"}).status_code == 200,
            what="the site in billing")

        def register():
            """The ticket, once the unit, the person and the price have reached ticketing (422 before)."""
            with _state(ticketing).sessions() as session:
                if session.get(CatalogueEntry, (site["id"], "replace_tap")) is None:
                    return None
            response = ticketing.post("/v1/tickets", headers=desk, json={
                "site_id": site["id"], "type": "repair", "channel": "phone", "subject": "水龙头滴水 The tap drips",
                "location": "in_unit", "unit_id": unit["id"], "reporter_id": person["id"]})
            return response.get_json() if response.status_code == 201 else None

        ticket = wait_until(register, what="the unit, the person and the price in ticketing")
        deliver(_state(ticketing).sessions, a_staff_member(site["id"], "tech-0"))
        order = ok(ticketing.post("/v1/work-orders", headers=desk, json={
            "ticket_id": ticket["id"], "item": "plumbing", "service_code": "replace_tap",
            "technician_id": "tech-0"}), 201)
        assert order["under_warranty"] is False  # no handover on record
        for action in ("check_in", "complete"):
            ok(ticketing.post(f"/v1/work-orders/{order['id']}/transitions", json={"action": action},
                              headers=staff("tech-0", roles=("technician",), sites=(site["id"],))))
        ok(ticketing.post(f"/v1/work-orders/{order['id']}/acceptance", json={"acceptance": "confirmation"},
                          headers=desk))
        charged = "SELECT count(*) FROM charges WHERE source = 'paid_service' AND source_id = :order"
        wait_until(lambda: databases["billing"].scalar(charged, order=order["id"]) == 1, what="billing's charge")
    assert databases["billing"].scalar("SELECT amount FROM charges WHERE source_id = :order",
                                       order=order["id"]) == Decimal("80.00")
    assert databases["billing"].scalar("SELECT person_id FROM charges WHERE source_id = :order",
                                       order=order["id"]) == person["id"]
