"""Read models: a service's local copy of another service's facts, kept current from events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.orm import Session

from shared import bulk


def upsert(session: Session, table: Table, rows: Sequence[dict], key: tuple[str, ...]) -> None:
    """Insert the rows, updating in place those whose key exists already, in one statement.

    Rows arrive in event order, so when a batch holds one key twice the later row wins (a single
    INSERT .. ON CONFLICT may not touch a row twice).
    """
    latest = {tuple(row[name] for name in key): row for row in rows}
    bulk.insert(session, table, list(latest.values()), update_on=key)
