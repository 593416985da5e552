"""Read models: a service's local copy of another service's facts, kept current from events."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session, table: Table, values: dict, key: tuple[str, ...]) -> None:
    """Insert the row, or update it in place when a row with the same key exists."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table).values(**values)
    changes = {name: insert.excluded[name] for name in values if name not in key}
    session.execute(insert.on_conflict_do_update(index_elements=list(key), set_=changes))
