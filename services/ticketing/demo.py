"""`make run`'s demo organization on the ticketing side."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.ticketing.repairs import demo as repairs_demo
from services.ticketing.tickets import demo as tickets_demo
from services.ticketing.visits import demo as visits_demo


def seed(session: Session, organization_id: str) -> None:
    tickets_demo.seed(session, organization_id)


def seed_live(session: Session, organization_id: str) -> bool:
    """Tickets need the units and people occupants' events bring, the work order its technician from the
    staff directory: False until they are here."""
    if not tickets_demo.seed_live(session, organization_id):
        return False
    visits_demo.seed_live(session, organization_id)
    return repairs_demo.seed_live(session, organization_id)
