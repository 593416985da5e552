"""Customer profiles on PostgreSQL: a change reaches the bus, assignments and the familiarity KPI hold on its
NULL-aware comparisons and grouping."""

from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Queue
from psp.events.v1.envelope_pb2 import Envelope
from psp.occupants.v1.profile_pb2 import CustomerProfileChanged

from shared.bus.envelope import exchange_name
from tests.conftest import running_workers, wait_until
from tests.integration.occupants.test_custody import site_staff, unit_and_owner  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture
def listener(bus_url):
    with Connection(bus_url) as connection:
        queue = Queue("test.profile-listener", exchange=Exchange(exchange_name("occupants"), type="topic",
                                                                 durable=True),
                      routing_key="customer.#", auto_delete=False)(connection.default_channel)
        queue.declare()
        queue.purge()
        yield queue
        queue.delete()


def test_a_profile_change_reaches_the_bus(occupants_api, demo_site, unit_and_owner, site_staff, databases, listener):
    *_, owner = unit_and_owner
    manager = site_staff[0]
    profile = occupants_api.patch(f"/v1/sites/{demo_site}/customer-profiles/{owner['id']}", headers=manager,
                                  json={"key_customer": True, "key_customer_reason": "多次投诉", "grade": "D"})
    assert profile.status_code == 200 and profile.get_json()["updated_at"].endswith("+00:00")
    occupants = databases["occupants"]
    with running_workers("occupants"):
        wait_until(lambda: occupants.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL AND "
                                            "event_type = 'customer.profile_changed.v1'") == 0,
                   what="profile change relayed")
    message = listener.get(no_ack=True)
    payload = CustomerProfileChanged()
    Envelope.FromString(message.body).payload.Unpack(payload)
    assert (payload.person_id, payload.key_customer, payload.key_customer_reason, payload.grade,
            payload.changed_by) == (owner["id"], True, "多次投诉", "D", "manager")
    assert listener.get(no_ack=True) is None


def test_the_familiarity_kpi(occupants_api, demo_site, unit_and_owner, site_staff):
    building, (_, occupied, _), owner = unit_and_owner
    manager, _, wang = site_staff
    path = f"/v1/sites/{demo_site}/steward-assignments"
    assert occupants_api.post(path, headers=manager, json={"steward": "wang", "building_id": building["id"]}
                              ).status_code == 201
    assert occupants_api.post(path, headers=manager, json={"steward": "wang", "building_id": building["id"]}
                              ).status_code == 409
    assert occupants_api.post(path, headers=manager, json={"steward": "wang", "unit_id": occupied["id"]}
                              ).status_code == 201
    known = occupants_api.post(f"/v1/sites/{demo_site}/familiarity-records", headers=wang, json={
        "unit_id": occupied["id"], "known_on": "2026-11-30", "how": "phone"})
    assert known.status_code == 201
    report = occupants_api.get(f"/v1/sites/{demo_site}/familiarity", headers=manager).get_json()
    assert report["stewards"] == [{"steward": "wang", "assigned": 2, "known": 1, "rate": "0.5000",
                                   "meets_target": False}]
    tenant = occupants_api.post(f"/v1/units/{occupied['id']}/occupancies", headers=manager, json={
        "person_id": owner["id"], "role": "tenant", "start_date": "2026-12-01"})
    assert tenant.status_code == 201, tenant.get_json()
    report = occupants_api.get(f"/v1/sites/{demo_site}/familiarity", headers=manager).get_json()
    assert (report["assigned"], report["known"]) == (2, 0)
