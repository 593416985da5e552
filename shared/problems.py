"""Errors as RFC 9457 problem details (application/problem+json), naming the field at fault."""

from __future__ import annotations

from flask import Response, json

PROBLEM_JSON = "application/problem+json"


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
