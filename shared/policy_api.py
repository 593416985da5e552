"""The HTTP side of configurable defaults, the same in every service that defines any."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Raw, String
from apiflask.validators import Length, OneOf
from flask import current_app

from shared import policy
from shared.auth import auth, principal, require_role_at, require_roles, visible_site
from shared.problems import Problem
from shared.web import db_session


class PolicyQuery(Schema):
    site_id = String(load_default=None, validate=Length(36, 36),
                     metadata={"description": "Show the values in force at this site."})


class PolicyOut(Schema):
    key = String(required=True)
    value = Raw(required=True, metadata={"description": "JSON; decimals as strings."})
    default = Raw(required=True)
    source = String(required=True, validate=OneOf(["default", "organization", "site"]))
    description = String(required=True)


class PolicyIn(Schema):
    site_id = String(load_default=None, validate=Length(36, 36),
                     metadata={"description": "Override for this site only; absent: the organization's value."})
    value = Raw(required=True)
    reason = String(load_default="", validate=Length(max=500))


def blueprint(organization_roles: tuple[str, ...], site_roles: tuple[str, ...]) -> APIBlueprint:
    """GET /v1/policies and PUT /v1/policies/<key>: organization-wide values need one of
    `organization_roles`; a site's override needs one of `site_roles` at that site."""
    api = APIBlueprint("policies", __name__, url_prefix="/v1")

    def _tables():
        return current_app.extensions["psp"].service.tables

    @api.get("/policies")
    @api.auth_required(auth)
    @api.input(PolicyQuery, location="query")
    @api.output(PolicyOut(many=True))
    def list_policies(query_data):
        site_id = query_data["site_id"] and visible_site(query_data["site_id"])
        return policy.effective(db_session(), _tables(), principal().organization_id, site_id)

    @api.put("/policies/<key>")
    @api.auth_required(auth)
    @api.input(PolicyIn)
    @api.output(PolicyOut(many=True))
    def override_policy(key, json_data):
        setting = policy.REGISTRY.get(key)
        if setting is None:
            raise Problem(404, "Not Found", f"No setting {key!r}.")
        site_id = json_data["site_id"]
        if site_id:
            require_role_at(visible_site(site_id), *site_roles)
        else:
            require_roles(*organization_roles)
        if not isinstance(json_data["value"], type(setting.default)):
            raise Problem(422, "Unprocessable Content",
                          f"Must be a {type(setting.default).__name__}, like the default {setting.default!r}.",
                          field="value")
        policy.override(db_session(), _tables(), organization_id=principal().organization_id, site_id=site_id,
                        setting=setting, new_value=json_data["value"], actor=principal().subject,
                        reason=json_data["reason"])
        return [p for p in policy.effective(db_session(), _tables(), principal().organization_id, site_id)
                if p["key"] == key]

    return api
