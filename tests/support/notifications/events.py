"""Other services' events through notifications' registered handlers, and the read models they feed."""

from __future__ import annotations

from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.people_pb2 import OccupancyStarted
from psp.occupants.v1.places_pb2 import SiteRegistered, UnitRegistered
from psp.occupants.v1.staff_pb2 import StaffMemberChanged, StaffSiteRoles

from services.notifications.delivery import rules
from services.notifications.models import chassis
from services.notifications.service import SERVICE
from shared.bus.envelope import event_type_of, new_envelope, unpack
from shared import auth, policy
from shared.config import Settings
from tests.conftest import ORG_A, SECRET

SITE = "5e000000-0000-4000-8000-000000000001"
BUILDING_A = "b0000000-0000-4000-8000-00000000000a"
BUILDING_B = "b0000000-0000-4000-8000-00000000000b"


def deliver(sessions, payload, organization_id: str = ORG_A, envelope=None):
    """One event through notifications' route in a transaction of its own; answers the envelope, so a test
    can hand the same one over again."""
    envelope = envelope or new_envelope(payload, organization_id=organization_id)
    route = SERVICE.handlers.routes[event_type_of(type(payload))]
    with sessions() as session, session.begin():
        event = unpack(envelope, type(payload))
        route.handler(session, [event] if route.batched else event)
    return envelope


def prepared(sessions):
    """Notifications' database with the test site known and quiet hours off (a test about them sets them)."""
    a_site(sessions)
    with sessions() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=None, setting=rules.QUIET_HOURS,
                        new_value=[], actor="test")
    return sessions


def a_site(sessions, site_id: str = SITE, organization_id: str = ORG_A, time_zone: str = "Asia/Shanghai"):
    deliver(sessions, SiteRegistered(site_id=site_id, code="HG", name="Harbour Gardens", time_zone=time_zone),
            organization_id)


def an_occupant(sessions, n: int, *, building_id: str = BUILDING_A, floor: int = 1, kind: str = "residence",
                channels=("email",), language: str = "zh-CN", site_id: str = SITE, organization_id: str = ORG_A,
                phone: str | None = None, birthday: str = "") -> str:
    """A person living in a unit of their own; answers the person id."""
    person_id, unit_id = f"00000000-0000-4000-9000-{n:012d}", f"00000000-0000-4000-a000-{n:012d}"
    deliver(sessions, UnitRegistered(unit_id=unit_id, site_id=site_id, building_id=building_id, floor=floor,
                                     number=f"{floor}{n:02d}", kind=kind, state="occupied"), organization_id)
    deliver(sessions, PersonRegistered(person_id=person_id, kind="individual", full_name=f"住户{n}",
                                       phone=phone if phone is not None else f"+86138{n:08d}",
                                       email=f"p{n}@example.cn", preferred_language=language,
                                       preferred_channels=list(channels), site_id=site_id, birthday=birthday),
            organization_id)
    deliver(sessions, OccupancyStarted(occupancy_id=f"00000000-0000-4000-b000-{n:012d}", site_id=site_id,
                                       unit_id=unit_id, person_id=person_id, role="owner"), organization_id)
    return person_id


def a_staff_member(sessions, n: int, roles, *, site_id: str = SITE, channels=("email",), version: int = 1,
                   active: bool = True, organization_id: str = ORG_A) -> str:
    """Answers the member id; the user id is `user-<n>`."""
    member_id = f"00000000-0000-4000-c000-{n:012d}"
    deliver(sessions, StaffMemberChanged(
        member_id=member_id, user_id=f"user-{n}", full_name=f"员工{n}", department="customer_service",
        channels=list(channels), phone=f"+86139{n:08d}", email=f"staff{n}@example.cn", active=active,
        site_roles=[StaffSiteRoles(site_id=site_id, roles=sorted(roles))], version=version), organization_id)
    return member_id


def as_user(subject: str, roles=(), org: str = ORG_A, sites=("*",)) -> dict:
    """Headers for a user with their own `sub`: an occupant (no roles) or a staff member."""
    token = auth.mint(Settings(AUTH_JWT_SECRET=SECRET), subject=subject, organization_id=org, roles=list(roles),
                      sites=list(sites) if roles else [])
    return {"Authorization": f"Bearer {token}"}
