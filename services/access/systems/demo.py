"""`make run`'s demo organization: a reference door controller registered at the demo site, its doors mapped.

The controller itself is the one the tests use (`python -m tests.support.access.controller`), started by hand
on DEMO_URL with DEMO_SECRET; until then the sync states show why each change waits (unreachable), and a
resync sends everything at once when it runs. The secret is fixed so the walk-through in the README can name
it: a demo's, never a real system's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.doors.tables import Door
from services.access.places.tables import Site
from services.access.systems import rules
from services.access.systems.tables import AccessSystem

DEMO_NAME = "Reference door controller"
DEMO_URL = "http://127.0.0.1:8090/hooks"
DEMO_SECRET = "whsec_ZGVtby1yZWZlcmVuY2UtY29udHJvbGxlci1zZWNyZXQ="


def seed_live(session: Session, organization_id: str) -> bool:
    """Once the demo site is known (from occupants' events): the controller, mapped to the site's doors."""
    if session.scalar(select(AccessSystem.id).where(AccessSystem.organization_id == organization_id)):
        return True
    site = session.scalar(select(Site).where(Site.organization_id == organization_id).order_by(Site.site_id))
    if site is None:
        return False
    doors = session.scalars(select(Door).where(Door.site_id == site.site_id).order_by(Door.name)).all()
    system, _ = rules.register(session, organization_id=organization_id, site_id=site.site_id, name=DEMO_NAME,
                               adapter="webhook", base_url=DEMO_URL, username="", password="",
                               time_zone=site.time_zone,
                               doors=[{"door_id": door.id, "system_door_id": f"D{number}"}
                                      for number, door in enumerate(doors, start=1)],
                               actor="demo-seed")
    system.secret = DEMO_SECRET
    return True
