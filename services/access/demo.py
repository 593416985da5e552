"""`make run`'s demo organization on the access side: each capability seeds its own."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.access.passes import demo as passes_demo
from services.access.systems import demo as systems_demo


def seed(session: Session, organization_id: str) -> None:
    """Nothing before the services start: doors and passes need occupants' site first (`seed_live`)."""


def seed_live(session: Session, organization_id: str) -> bool:
    """The site's doors and passes once occupants' events brought the site; then the reference controller,
    mapped to those doors."""
    return passes_demo.seed_live(session, organization_id) and systems_demo.seed_live(session, organization_id)
