"""Errors as RFC 9457 problem details (application/problem+json), naming the field at fault."""

from __future__ import annotations

import re

from flask import Request, Response, json

PROBLEM_JSON = "application/problem+json"
# PostgreSQL text cannot hold NUL; UTF-8 cannot encode a UTF-16 surrogate that is not part of a pair.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Problem(Exception):
    """Raise from any view or domain call to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", *, field: str | None = None,
                 errors: list[dict] | None = None, headers: dict | None = None, extra: dict | None = None):
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = errors or ([{"field": field, "message": detail}] if field else [])
        self.headers = headers or {}
        # RFC 9457 extension members, e.g. the allowed next steps of a workflow.
        self.extra = extra or {}

    def to_response(self) -> Response:
        body = {
            "type": f"https://psp.example/problems/{self.status}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return Response(json.dumps(body), status=self.status, mimetype=PROBLEM_JSON, headers=self.headers)


def not_found(what: str = "resource") -> Problem:
    """Another organization's record and a missing one look the same (X-1)."""
    return Problem(404, "Not Found", f"No such {what}.")


def unprocessable(field: str, detail: str, extra: dict | None = None) -> Problem:
    """Bad input, naming the field at fault."""
    return Problem(422, "Unprocessable Content", detail, field=field, extra=extra)


def from_validation(detail: dict) -> Problem:
    """webargs/marshmallow messages, {location: {field: [messages]}}, as one problem."""
    errors = []
    for location, fields in detail.items():
        for field, messages in _flatten(fields):
            for message in messages:
                errors.append({"field": field, "location": location, "message": message})
    first = errors[0] if errors else {"field": None, "message": "Invalid request."}
    return Problem(
        422,
        "Unprocessable Content",
        f"{first['field']}: {first['message']}" if first["field"] else first["message"],
        field=first["field"],
        errors=errors,
    )


def _flatten(fields, prefix: str = ""):
    """Nested marshmallow messages ({'contact': {'email': [...]}}) as dotted field names."""
    if isinstance(fields, list):
        yield prefix or "_schema", [str(m) for m in fields]
        return
    for name, value in fields.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict):
            yield from _flatten(value, path)
        else:
            yield path, [str(m) for m in (value if isinstance(value, list) else [value])]


def unstorable_text(request: Request) -> tuple[str, str] | None:
    """(location, field) of the first text in the request that no database column can hold, if any."""
    candidates = [("path", name, value) for name, value in (request.view_args or {}).items()]
    candidates += [("query", key, value) for key, value in request.args.items(multi=True)]
    candidates += [("header", "Idempotency-Key", request.headers.get("Idempotency-Key", ""))]
    candidates += [("form", key, value) for key, value in request.form.items(multi=True)]
    candidates += [("files", key, f.filename or "") for key, f in request.files.items(multi=True)]
    for location, field, value in candidates:
        if _UNSTORABLE.search(field) or (isinstance(value, str) and _UNSTORABLE.search(value)):
            return location, field or "_schema"
    if request.is_json:
        field = _first_unstorable(request.get_json(silent=True), "")
        if field is not None:
            return "json", field or "_schema"
    return None


def _first_unstorable(value, path: str) -> str | None:
    """The dotted path (list items by index) of the first unstorable string in a JSON value."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        child = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _UNSTORABLE.search(key):
            return child
        found = _first_unstorable(item, child)
        if found is not None:
            return found
    return None
