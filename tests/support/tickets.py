"""What ticketing's tests share: staff tokens with their own user id, and occupants' facts delivered through
ticketing's registered handlers."""

from __future__ import annotations

import uuid

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.places_pb2 import UnitRegistered
from psp.occupants.v1.staff_pb2 import StaffMemberChanged, StaffSiteRoles

from services.ticketing.service import SERVICE
from shared import auth
from shared.bus.envelope import event_type_of, new_envelope, unpack
from shared.config import Settings
from tests.conftest import ORG_A, SECRET


def staff(subject: str = "cs-wang", roles=("cs_specialist",), org: str = ORG_A, sites=("*",),
          site_roles: dict | None = None) -> dict:
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=list(sites), site_roles=site_roles)
    return {"Authorization": f"Bearer {token}"}


def deliver(sessions, *payloads, organization_id: str = ORG_A) -> None:
    """Occupants' events through ticketing's routes, in one transaction, as the consumer hands them over."""
    with sessions() as session, session.begin():
        for payload in payloads:
            route = SERVICE.handlers.routes[event_type_of(type(payload))]
            event = unpack(new_envelope(payload, organization_id=organization_id), type(payload))
            route.handler(session, [event] if route.batched else event)


def a_unit(site_id: str, number: str = "101") -> UnitRegistered:
    return UnitRegistered(unit_id=str(uuid.uuid4()), site_id=site_id, building_id=str(uuid.uuid4()), floor=1,
                          number=number, kind="residence", floor_area_m2="89.50", state="occupied")


def a_person(site_id: str, full_name: str = "张伟", phone: str = "+8613800000001") -> PersonRegistered:
    return PersonRegistered(person_id=str(uuid.uuid4()), kind="individual", full_name=full_name, phone=phone,
                            site_id=site_id, preferred_language="zh-CN")


def a_staff_member(site_id: str, user_id: str, roles=("technician",), active: bool = True) -> StaffMemberChanged:
    """A member of occupants' staff directory holding the roles at the site, reachable by SMS."""
    return StaffMemberChanged(member_id=str(uuid.uuid4()), user_id=user_id, full_name=user_id,
                              department="engineering", active=active, version=1, channels=["sms"],
                              site_roles=[StaffSiteRoles(site_id=site_id, roles=list(roles))])
