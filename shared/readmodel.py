"""Read models: a service's local copy of another service's facts, kept current from events."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def upsert(session: Session, table: Table, rows: Sequence[dict], key: tuple[str, ...]) -> None:
    """Insert the rows, updating in place those whose key exists already, in one statement.

    Rows arrive in event order, so when a batch holds one key twice the later row wins (a single
    INSERT .. ON CONFLICT may not touch a row twice).
    """
    latest = {tuple(row[name] for name in key): row for row in rows}
    if not latest:
        return
    columns = tuple(next(iter(latest.values())))
    statement = _upsert_statement(session.get_bind().dialect.name, table, columns, key)
    session.execute(statement, list(latest.values()))


@functools.cache
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> Insert:
    """Built once per shape. (SQLAlchemy still compiles it at every execution: it does not cache the
    dialects' INSERT .. ON CONFLICT constructs.)"""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table)
    changes = {name: insert.excluded[name] for name in columns if name not in key}
    return insert.on_conflict_do_update(index_elements=list(key), set_=changes)
