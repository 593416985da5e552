"""`make run`'s demo organization on the ticketing side."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.ticketing.tickets import demo as tickets_demo


def seed(session: Session, organization_id: str) -> None:
    tickets_demo.seed(session, organization_id)


def seed_live(session: Session, organization_id: str) -> bool:
    """Tickets need the units and people occupants' events bring: False until they are here."""
    return tickets_demo.seed_live(session, organization_id)
