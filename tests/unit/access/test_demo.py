"""`make run`'s access demo on SQLite: nothing until occupants' site is known, then doors, passes (a visitor's
QR pass whose token verifies with the published key), a lent key and an after-hours registration, once."""

import base64
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psp.occupants.v1.events_pb2 import PersonRegistered
from psp.occupants.v1.places_pb2 import BuildingRegistered, SiteRegistered, UnitRegistered
from sqlalchemy import func, select

from services.access import demo
from services.access.doors.tables import Door
from services.access.passes.demo import VISITOR_CREDENTIAL
from services.access.passes.tables import Pass
from services.access.tokens import codec
from tests.conftest import ORG_A
from tests.unit.access.support import FRONT_DESK, deliver, machine, ok, sessions_of


def _occupants_demo_site(client):
    site = SiteRegistered(site_id=str(uuid.uuid4()), code="HG", name="Harbour Gardens 海港花园",
                          time_zone="Asia/Shanghai")
    buildings = [BuildingRegistered(building_id=str(uuid.uuid4()), site_id=site.site_id, code=c, name=f"Tower {c}")
                 for c in "AB"]
    units = [UnitRegistered(unit_id=str(uuid.uuid4()), site_id=site.site_id, building_id=b.building_id, floor=1,
                            number="101", kind="residence", floor_area_m2="89.50", state="occupied") for b in buildings]
    people = [PersonRegistered(person_id=str(uuid.uuid4()), kind="individual", full_name=n, site_id=site.site_id)
              for n in ("张伟", "李娜")]
    deliver(client, site, *buildings, *units, *people)
    return site.site_id


def _seed_live(client) -> bool:
    with sessions_of(client)() as session, session.begin():
        return demo.seed_live(session, ORG_A)


def test_the_demo_waits_for_the_site_then_seeds_once(access):
    with sessions_of(access)() as session, session.begin():
        demo.seed(session, ORG_A)
    assert _seed_live(access) is False
    site_id = _occupants_demo_site(access)
    assert _seed_live(access) is True
    assert _seed_live(access) is True
    with sessions_of(access)() as session:
        assert session.scalar(select(func.count()).select_from(Door)) == 6
        kinds = sorted(session.scalars(select(Pass.kind).where(Pass.site_id == site_id)))
        visitor = session.scalar(select(Pass).where(Pass.credential == VISITOR_CREDENTIAL))
    assert kinds == ["resident", "vehicle", "visitor"]
    token = ok(access.get(f"/v1/passes/{visitor.id}/token", headers=FRONT_DESK))["token"]
    [jwk] = ok(access.get("/v1/token-keys", headers=machine()))["keys"]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    assert codec.verify(token, {jwk["kid"]: key}, time.time(), 0).token_id == VISITOR_CREDENTIAL
    assert ok(access.get(f"/v1/loans?site_id={site_id}", headers=FRONT_DESK))["items"][0]["item"] == "C-01"
    [booking] = ok(access.get(f"/v1/bookings?site_id={site_id}", headers=FRONT_DESK))["items"]
    assert booking["kind"] == "after_hours" and booking["state"] == "approved"
