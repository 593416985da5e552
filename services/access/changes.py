"""One change number per organization, raised in the transaction of every change to a pass or a door.

Readers that keep passes in memory (the decision API's cache, an offline reader's revocation list) ask only
for what changed since the number they hold. The counter row is locked from its UPDATE to the commit, so
changes commit in the order of their numbers and a reader that saw number n has seen every change up to n.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.access.models import Base


class ChangeCounter(Base):
    __tablename__ = "change_counters"

    organization_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def bump(session: Session, organization_id: str) -> int:
    """The organization's next change number, held until this transaction ends. The organization's first
    change makes the counter; another first change at once waits for it, then raises it."""
    raised = _raise(session, organization_id)
    if raised is not None:
        return raised
    try:
        with session.begin_nested():
            session.add(ChangeCounter(organization_id=organization_id, version=1))
        return 1
    except IntegrityError:
        return _raise(session, organization_id)


def _raise(session: Session, organization_id: str) -> int | None:
    return session.execute(update(ChangeCounter).where(ChangeCounter.organization_id == organization_id)
                           .values(version=ChangeCounter.version + 1).returning(ChangeCounter.version)).scalar()


def current(session: Session, organization_id: str) -> int:
    return session.scalar(select(ChangeCounter.version).where(ChangeCounter.organization_id == organization_id)) or 0
