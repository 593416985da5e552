"""Idempotency keys on create endpoints: a retried request with the same key gets the first answer.

The key, a fingerprint of the request and the response are stored in the same transaction as the change,
so either both exist or neither does. The same key with a different request is refused.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta, timezone

from flask import Response, current_app, make_response, request
from sqlalchemy import delete, select

from shared.auth import principal
from shared.problems import Problem
from shared.web import db_session

HEADER = "Idempotency-Key"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(request.get_data())
    return digest.hexdigest()


def idempotent(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise Problem(422, "Unprocessable Content", "At most 200 characters.", field=HEADER)
        table = current_app.extensions["psp"].service.tables.idempotency_keys
        session = db_session()
        organization_id = principal().organization_id
        stored = session.execute(
            select(table).where(table.c.organization_id == organization_id, table.c.key == key)
        ).first()
        fingerprint = _fingerprint()
        if stored is not None:
            if stored.request_fingerprint != fingerprint:
                raise Problem(422, "Unprocessable Content",
                              "This key was used for a different request.", field=HEADER)
            return Response(stored.response_body, status=stored.status_code, content_type=stored.content_type,
                            headers={"Idempotent-Replayed": "true"})
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            session.execute(
                table.insert().values(
                    organization_id=organization_id,
                    key=key,
                    request_fingerprint=fingerprint,
                    status_code=response.status_code,
                    response_body=response.get_data(),
                    content_type=response.content_type,
                    created_at=datetime.now(timezone.utc),
                )
            )
        return response

    wrapper.idempotent = True  # shared.openapi documents the header
    return wrapper


def prune(sessions, table, retention: timedelta) -> int:
    """Forget keys older than IDEMPOTENCY_RETENTION_HOURS; a retry that late is a new request."""
    with sessions() as session, session.begin():
        result = session.execute(delete(table).where(table.c.created_at < datetime.now(timezone.utc) - retention))
    return result.rowcount
