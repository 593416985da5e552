"""What access's unit tests share: staff tokens, occupants' facts delivered through access's handlers, and a
site with doors and zones."""

from __future__ import annotations

import uuid

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.places_pb2 import BuildingRegistered, SiteRegistered, UnitRegistered

from services.access.service import SERVICE
from shared.bus.envelope import event_type_of, new_envelope, unpack
from shared import auth
from shared.config import Settings
from tests.conftest import ORG_A, SECRET
from tests.support.tickets import staff

FRONT_DESK = staff("cs-wang")
SUPERVISOR = staff("cs-li", roles=("cs_supervisor",))
TECHNICIAN = staff("tech-zhao", roles=("technician",))


def machine(subject: str = "reader-1", org: str = ORG_A, sites=("*",)) -> dict:
    """A door reader's machine credentials."""
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=[],
                      sites=list(sites), machine=True)
    return {"Authorization": f"Bearer {token}"}


def sessions_of(client):
    return client.application.extensions["psp"].sessions


def deliver(client, *payloads, organization_id: str = ORG_A) -> None:
    """Occupants' events through access's routes, in one transaction, as the consumer hands them over."""
    with sessions_of(client)() as session, session.begin():
        for payload in payloads:
            route = SERVICE.handlers.routes[event_type_of(type(payload))]
            event = unpack(new_envelope(payload, organization_id=organization_id), type(payload))
            route.handler(session, [event] if route.batched else event)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response, status, field=None):
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if field is not None:
        assert field in [e.get("field") for e in body.get("errors", [])] or body.get("field") == field, body
    return body


def a_site_without_doors(client, organization_id: str = ORG_A) -> dict:
    """A site with a building, a unit and a resident, as occupants' events leave them."""
    site = SiteRegistered(site_id=str(uuid.uuid4()), code="HG", name="Harbour Gardens", time_zone="Asia/Shanghai")
    building = BuildingRegistered(building_id=str(uuid.uuid4()), site_id=site.site_id, code="A", name="Tower A")
    unit = UnitRegistered(unit_id=str(uuid.uuid4()), site_id=site.site_id, building_id=building.building_id,
                          floor=12, number="1201", kind="residence", floor_area_m2="89.50", state="occupied")
    person = PersonRegistered(person_id=str(uuid.uuid4()), kind="individual", full_name="张伟",
                              phone="+8613800000001", site_id=site.site_id)
    deliver(client, site, building, unit, person, organization_id=organization_id)
    return {"site_id": site.site_id, "building_id": building.building_id, "unit_id": unit.unit_id,
            "person_id": person.person_id}


def a_site(client, organization_id: str = ORG_A) -> dict:
    """A site with a building, a unit, a resident, two zones and three doors, as occupants' events and the
    operator's registrations leave them."""
    where = a_site_without_doors(client, organization_id)
    site_id, building_id = where["site_id"], where["building_id"]
    headers = staff("pm-chen", roles=("property_manager",), org=organization_id)
    lobby = ok(client.post("/v1/zones", json={"site_id": site_id, "name": "Lobby"}, headers=headers), 201)
    garage = ok(client.post("/v1/zones", json={"site_id": site_id, "name": "Garage"}, headers=headers), 201)
    front = ok(client.post("/v1/doors", json={"site_id": site_id, "building_id": building_id,
                                              "name": "A front door", "kind": "door", "zone_ids": [lobby["id"]]},
                           headers=headers), 201)
    turnstile = ok(client.post("/v1/doors", json={"site_id": site_id, "name": "A turnstile",
                                                  "kind": "turnstile", "zone_ids": [lobby["id"]]},
                               headers=headers), 201)
    barrier = ok(client.post("/v1/doors", json={"site_id": site_id, "name": "Car park barrier",
                                                "kind": "barrier_gate", "zone_ids": [garage["id"]]},
                             headers=headers), 201)
    return {**where, "lobby": lobby["id"], "garage": garage["id"], "front": front["id"],
            "turnstile": turnstile["id"], "barrier": barrier["id"]}
