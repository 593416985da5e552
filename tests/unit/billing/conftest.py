"""Billing on a fresh SQLite database: its API, its sessions, and occupants' facts delivered through its
registered handlers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import OccupancyStarted
from psp.occupants.v1.places_pb2 import SiteRegistered, UnitRegistered
from sqlalchemy import select

from services.billing.models import chassis
from services.billing.service import SERVICE
from shared import db
from shared.bus.envelope import event_type_of, new_envelope, unpack
from tests.conftest import ORG_A, SECRET, bearer, migrate

MANAGER = bearer(roles=("site_manager",))
CASHIER = bearer(roles=("cashier",))
SUPERVISOR = bearer(roles=("cs_supervisor",))


@dataclass
class Billing:
    client: object
    sessions: object

    def deliver(self, *payloads, organization_id: str = ORG_A) -> None:
        """Events through billing's routes, in one transaction, as the consumer hands them over."""
        with self.sessions() as session, session.begin():
            for payload in payloads:
                route = SERVICE.handlers.routes[event_type_of(type(payload))]
                event = unpack(new_envelope(payload, organization_id=organization_id), type(payload))
                route.handler(session, [event] if route.batched else event)

    def outbox(self, event_type: str) -> list:
        """The payloads billing recorded of this type, oldest first."""
        from shared.bus.envelope import Envelope

        with self.sessions() as session:
            rows = session.execute(select(chassis.outbox.c.envelope).where(
                chassis.outbox.c.event_type == event_type).order_by(chassis.outbox.c.id)).scalars().all()
        found = []
        for raw in rows:
            envelope = Envelope()
            envelope.ParseFromString(raw)
            found.append(envelope)
        return found


@pytest.fixture
def billing(tmp_path, monkeypatch):
    from services.billing.app import create_app

    url = f"sqlite:///{tmp_path}/billing.sqlite3"
    migrate("billing", url)
    monkeypatch.setenv("BILLING_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    app = create_app()
    engine = db.make_engine(url)
    try:
        yield Billing(app.test_client(), db.make_sessionmaker(engine))
    finally:
        engine.dispose()
        app.extensions["psp"].engine.dispose()


@dataclass
class Place:
    site_id: str
    units: list[str]
    owners: list[str]


def a_site(billing: Billing, units: int = 2, area: str = "100.00", state: str = "occupied",
           organization_id: str = ORG_A) -> Place:
    """A site with units of the area, each with an owner, as occupants' events tell billing."""
    site_id = str(uuid.uuid4())
    building = str(uuid.uuid4())
    unit_ids = [str(uuid.uuid4()) for _ in range(units)]
    owners = [str(uuid.uuid4()) for _ in range(units)]
    billing.deliver(SiteRegistered(site_id=site_id, code="HG", name="Harbour Gardens", time_zone="Asia/Shanghai"),
                    organization_id=organization_id)
    for number, (unit_id, owner) in enumerate(zip(unit_ids, owners)):
        billing.deliver(
            UnitRegistered(unit_id=unit_id, site_id=site_id, building_id=building, floor=1, number=f"{101 + number}",
                           kind="residence", floor_area_m2=area, state=state),
            PersonRegistered(person_id=owner, kind="individual", full_name=f"Owner {number}", phone="+8613800000001",
                             site_id=site_id),
            OccupancyStarted(occupancy_id=str(uuid.uuid4()), site_id=site_id, unit_id=unit_id, person_id=owner,
                             role="owner", start_date="2026-01-01"),
            organization_id=organization_id)
    return Place(site_id, unit_ids, owners)


def add_item(billing: Billing, site_id: str, code: str, basis: str, cycle: str, price: str, **extra) -> dict:
    item = billing.client.post(f"/v1/sites/{site_id}/fee-items", headers=MANAGER, json={
        "code": code, "name": code.replace("_", " "), "basis": basis, "cycle": cycle, **extra})
    assert item.status_code == 201, item.get_json()
    rate = billing.client.post(f"/v1/fee-items/{item.get_json()['id']}/rates", headers=MANAGER,
                               json={"price": price, "effective_from": "2026-01-01"})
    assert rate.status_code == 201, rate.get_json()
    return item.get_json()


@pytest.fixture
def site(billing):
    return a_site(billing)
