"""The audit trail (X-3): who changed what, when, from which state to which, and why.

Rows are only ever added, in the same transaction as the change they describe; a correction is a new
row, never an edit of an old one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timezone

from apiflask import Schema
from apiflask.fields import String
from sqlalchemy import Insert, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from shared.fields import UtcDateTime


def record(session: Session, audit_log: Table, *, organization_id: str, entity: str, entity_id: str,
           action: str, actor: str, site_id: str | None = None, from_state: str | None = None,
           to_state: str | None = None, reason: str = "", data: Mapping | None = None) -> None:
    session.execute(_insert(audit_log), {
        "organization_id": organization_id, "site_id": site_id, "entity": entity, "entity_id": entity_id,
        "action": action, "from_state": from_state, "to_state": to_state, "actor": actor, "reason": reason,
        "data": dict(data or {}), "at": datetime.now(timezone.utc),
    })


@functools.cache
def _insert(audit_log: Table) -> Insert:
    """One INSERT per audit table, its values bound at execution (so for `_trail`'s SELECT): a statement
    built anew for every use costs more CPU than running it."""
    return audit_log.insert()


def record_for(session: Session, audit_log: Table, row, *, entity: str, action: str, actor: str,
               from_state: str | None = None, to_state: str | None = None, reason: str = "",
               data: Mapping | None = None) -> None:
    """`record` for a row that carries its organization_id, site_id and id."""
    record(session, audit_log, organization_id=row.organization_id, site_id=row.site_id, entity=entity,
           entity_id=row.id, action=action, actor=actor, from_state=from_state, to_state=to_state, reason=reason,
           data=data)


def trail(session: Session, audit_log: Table, *, organization_id: str, entity: str, entity_id: str) -> list:
    """The entity's audit rows, oldest first."""
    return session.execute(_trail(audit_log), {"organization_id": organization_id, "entity": entity,
                                               "entity_id": entity_id}).all()


@functools.cache
def _trail(audit_log: Table) -> Select:
    return (select(audit_log)
            .where(audit_log.c.organization_id == bindparam("organization_id"),
                   audit_log.c.entity == bindparam("entity"), audit_log.c.entity_id == bindparam("entity_id"))
            .order_by(audit_log.c.id))


class AuditEntryOut(Schema):
    """One entry of a record's audit trail, as the API shows it."""

    at = UtcDateTime()
    actor = String()
    action = String()
    from_state = String(allow_none=True)
    to_state = String(allow_none=True)
    reason = String()
