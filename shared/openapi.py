"""The OpenAPI document says what the API really answers: every error as problem+json, with one schema.

Each authenticated operation may answer 400 (a body that is not JSON), 401, 403 (a role missing at the
record's site), 404 (unknown, or another organization's), 409 (a conflict or a step out of order), 422
(bad input, naming the field) and 503 (database unreachable); operations that take a body also 413. The
idempotency header of create endpoints is documented where `shared.idempotency.idempotent` is used.
"""

from __future__ import annotations

import re

from apiflask import APIFlask
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import make_schema_key, resolve_schema_instance
from marshmallow import Schema

from shared.problems import PROBLEM_JSON

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The request field at fault, dotted for nested ones."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "location": {"type": "string", "enum": ["json", "query", "path", "header", "form", "files",
                                                            "form_and_files"]},
                    "message": {"type": "string"},
                },
            },
        },
        "state": {"type": "string", "description": "A workflow's current state, on a 409 for a step out of order."},
        "allowed": {"type": "array", "items": {"type": "string"}, "description": "The steps allowed from `state`."},
    },
}

AUTHENTICATED_ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "A valid bearer token is required.",
    "403": "The caller lacks a role this needs at the record's site.",
    "404": "No such record, or another organization's.",
    "409": "The change conflicts with the record's state or another record.",
    "422": "Bad input; `field` names it.",
    "503": "The database cannot be reached; retry after `Retry-After` seconds.",
}
BODY_ERRORS = {"413": "The body, or a file in it, is larger than allowed."}
_PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document_problems(app: APIFlask) -> None:
    @app.spec_processor
    def _add_problems(spec: dict) -> dict:
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        idempotent = _idempotent_operations(app)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                if not operation.get("security"):
                    continue
                errors = dict(AUTHENTICATED_ERRORS)
                if "requestBody" in operation:
                    errors.update(BODY_ERRORS)
                for status, description in errors.items():
                    operation["responses"][status] = _problem(description)
                if (path, method) in idempotent:
                    operation.setdefault("parameters", []).append({
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "A retried request with the same key gets the first answer.",
                    })
        return spec


def _idempotent_operations(app: APIFlask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions.get(rule.endpoint), "idempotent", False):
            path = _PATH_PARAMETER.sub(r"{\1}", rule.rule)
            found.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    return found


class DocumentedApp(APIFlask):
    """APIFlask whose document names each schema once.

    A schema first met nested in another (a page's items, a move-in's documents) is registered by apispec
    itself; APIFlask, meeting it later as an operation's body, would register a second copy under another
    name. Here it reuses apispec's.
    """

    def _register_schema_and_get_ref(self, spec, registered_schema_classes, schema_obj):
        if isinstance(schema_obj, Schema) or (isinstance(schema_obj, type) and issubclass(schema_obj, Schema)):
            plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
            instance = resolve_schema_instance(schema_obj)
            name = plugin.converter.refs.get(make_schema_key(instance)) if not instance.partial else None
            if name is not None:
                return {"$ref": f"#/components/schemas/{name}"}
        return super()._register_schema_and_get_ref(spec, registered_schema_classes, schema_obj)
