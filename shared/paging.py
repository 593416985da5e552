"""Paging for every list: keyset cursors, so page 5,000 of a million rows costs what page 1 does.

    @api.get("/persons")
    @api.input(PersonQuery, location="query")        # a PageQuery subclass
    @api.output(page_of(PersonOut))
    def list_persons(query_data):
        stmt = select(Person).where(...)
        return keyset_page(db_session(), stmt, (Person.full_name, Person.id), query_data)

The order columns must identify a row (end with the primary key). The answer is
`{"items": [...], "next_cursor": "…" | null}`; pass `cursor` back for the next page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from apiflask import Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length, Range
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import Session

from shared.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(Schema):
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))
    cursor = String(load_default=None, validate=Length(max=500),
                    metadata={"description": "`next_cursor` of the previous page."})


_page_schemas: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The page schema for a list of `item_schema` (one class per item schema, so OpenAPI names stay unique)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Out") + "Page"
        _page_schemas[item_schema] = type(name, (Schema,), {
            "items": List(Nested(item_schema), required=True),
            "next_cursor": String(allow_none=True, required=True),
        })
    return _page_schemas[item_schema]


def _encode(values: Sequence) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str).encode()).decode()


def _decode(cursor: str, order: Sequence) -> list:
    """The cursor's values as typed literals of the order columns, so each backend compares them as it
    compares the columns (SQLite keeps times as text in its own format)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError
        return [literal(_parse(value, column.type.python_type), type_=column.type)
                for value, column in zip(values, order)]
    except (binascii.Error, ValueError, TypeError, ArithmeticError, UnicodeDecodeError):
        raise Problem(422, "Unprocessable Content", "Not a cursor this list gave out.", field="cursor") from None


def _parse(value, python_type: type):
    if python_type in (datetime, date) and isinstance(value, str):
        return python_type.fromisoformat(value)
    if python_type is Decimal and isinstance(value, str):
        return Decimal(value)
    if isinstance(value, python_type) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def keyset_page(session: Session, stmt: Select, order: Sequence, query: dict, values: dict | None = None) -> dict:
    """One page of `stmt`'s rows (ORM entities or plain rows) in `order`, after the query's cursor; `values`
    for its bound parameters, where it is built once with them."""
    limit = query.get("limit", DEFAULT_LIMIT)
    if query.get("cursor"):
        stmt = stmt.where(tuple_(*order) > tuple_(*_decode(query["cursor"], order)))
    rows = session.execute(stmt.order_by(*order).limit(limit + 1), values).all()
    # select(Model) pages entities; select(table) or select(columns) pages plain rows, which skip the ORM's
    # bookkeeping on a hot list. Told apart by the rows rather than the statement's column descriptions,
    # which cost a twentieth of a search.
    if rows and len(rows[0]) == 1 and hasattr(rows[0][0], "__mapper__"):
        rows = [row[0] for row in rows]
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = _encode([getattr(last, column.key) for column in order])
    return {"items": items, "next_cursor": next_cursor}
