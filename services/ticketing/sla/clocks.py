"""What the ticket lifecycle tells the SLA engine. The tickets capability calls these in the transaction of
each change; the engine decides which clocks start, pause, resume, stop or are met."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def on_transition(session: Session, ticket, action: str, from_state: str | None, to_state: str,
                  at: datetime) -> None:
    """A ticket was registered (from_state None) or took a lifecycle step."""


def recompute(session: Session, ticket) -> None:
    """The ticket's type, tier or category changed: its open deadlines follow the new targets."""
