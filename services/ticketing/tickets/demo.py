"""Demo data for tickets: the default categories, and register numbers prefixed with the demo site's code.

The demo site, its units and people reach ticketing only as occupants' events once the workers run, with ids
occupants gives out at random, so there is nothing here yet to raise demo tickets against."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.ticketing.models import chassis
from services.ticketing.tickets import categories, rules
from shared import policy

ACTOR = "demo-seed"


def seed(session: Session, organization_id: str) -> None:
    categories.ensure_defaults(session, organization_id)
    if policy.value(session, chassis, organization_id, None, rules.NUMBER_PREFIX) == rules.NUMBER_PREFIX.default:
        policy.override(session, chassis, organization_id=organization_id, site_id=None,
                        setting=rules.NUMBER_PREFIX, new_value="HG", actor=ACTOR,
                        reason="The demo organization's one site is Harbour Gardens (HG).")
