"""Many rows in one statement, for the hot paths that write a batch at a time (inboxes, read models).

On PostgreSQL the batch travels as one JSON parameter that `json_populate_recordset` turns back into rows
of the table's own type, so the server parses one statement and converts the values, and the client
neither builds nor sends a parameter set per row (an executemany runs the statement once per row). Other
databases (SQLite, in-process) take SQLAlchemy's executemany.

A plain insert of COPY_FROM_ROWS rows or more (an import, a bill run) goes in with COPY instead: the
server then parses no JSON, which halves its share of a 100,000-row import.

All take the rows in the order given and first write the session's pending changes, so rows land in the
order the code wrote them and parents before their children.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import date, datetime

from psycopg.types.json import Json
from sqlalchemy import JSON, Table, TextClause, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session


def insert(session: Session, table: Table, rows: Sequence[dict], *, update_on: tuple[str, ...] = ()) -> None:
    """Insert the rows (all with the same keys); with `update_on`, a row whose key exists updates it instead.

    Values are plain: text, numbers, booleans, None, datetimes, decimals, bytes, and lists or dicts for JSON
    columns. A batch must not hold one `update_on` key twice: PostgreSQL refuses to change a row twice in a
    statement.
    """
    if not rows:
        return
    if not update_on and len(rows) >= COPY_FROM_ROWS and session.connection().dialect.name == "postgresql":
        _copy(session, table, rows)
    else:
        _execute(session, table, rows, update_on, skip_on="")


COPY_FROM_ROWS = 1000


def _copy(session: Session, table: Table, rows: Sequence[dict]) -> None:
    """COPY on the session's own connection, inside its transaction."""
    session.flush()
    columns = tuple(rows[0])
    as_json = [isinstance(table.c[column].type, JSON) for column in columns]
    quote = session.connection().dialect.identifier_preparer
    statement = (f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)}) "
                 "FROM STDIN")
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Json(row[c]) if json_column else row[c] for c, json_column in zip(columns, as_json)])


def insert_new(session: Session, table: Table, rows: Sequence[dict], *, key: str) -> set:
    """Insert the rows whose `key` is not taken yet (a unique column); answers the keys it inserted."""
    return set(_execute(session, table, rows, (), skip_on=key).scalars()) if rows else set()


def _execute(session: Session, table: Table, rows: Sequence[dict], update_on: tuple[str, ...], skip_on: str):
    session.flush()
    # Straight on the session's connection: these are plain Core statements, and the ORM's own execution
    # path would cost as much again as sending them.
    connection = session.connection()
    columns = tuple(rows[0])
    if connection.dialect.name == "postgresql":
        statement = _from_json(connection.dialect, table, columns, update_on, skip_on)
        return connection.execute(statement, {"rows": json.dumps(rows, default=_json)})
    return connection.execute(_sqlite_statement(table, columns, update_on, skip_on), list(rows))


@functools.cache
def _from_json(dialect: Dialect, table: Table, columns: tuple[str, ...], update_on: tuple[str, ...],
               skip_on: str) -> TextClause:
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    listed = ", ".join(quote(column) for column in columns)
    sql = f"INSERT INTO {name} ({listed}) SELECT {listed} FROM json_populate_recordset(NULL::{name}, CAST(:rows AS json))"
    if update_on:
        changes = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c not in update_on)
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in update_on)}) DO UPDATE SET {changes}"
    if skip_on:
        sql += f" ON CONFLICT ({quote(skip_on)}) DO NOTHING RETURNING {quote(skip_on)}"
    return text(sql)


@functools.cache
def _sqlite_statement(table: Table, columns: tuple[str, ...], update_on: tuple[str, ...], skip_on: str):
    statement = sqlite.insert(table)
    if update_on:
        return statement.on_conflict_do_update(
            index_elements=list(update_on), set_={c: statement.excluded[c] for c in columns if c not in update_on}
        )
    if skip_on:
        return statement.on_conflict_do_nothing(index_elements=[skip_on]).returning(table.c[skip_on])
    return statement


def _json(value):
    """Times as ISO 8601 (with their offset), bytes in bytea's hex form, decimals and the like as their exact
    text: what PostgreSQL parses back into the column's type."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)
