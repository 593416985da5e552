"""Input fields every access capability's HTTP boundary shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from apiflask.fields import AwareDateTime, List, String
from apiflask.validators import Length, Range

from sqlalchemy import select

from services.access.places.tables import Site
from shared.auth import require_role_at
from shared.paging import keyset_page
from shared.web import db_session, get_referenced, get_visible


def an_id(required: bool = True, description: str = "") -> String:
    if required:
        return String(required=True, validate=Length(36, 36), metadata={"description": description})
    return String(load_default=None, allow_none=True, validate=Length(36, 36), metadata={"description": description})


def a_moment(required: bool = True) -> AwareDateTime:
    bounds = Range(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
    if required:
        return AwareDateTime(required=True, validate=bounds, metadata={"description": "ISO 8601 with offset."})
    return AwareDateTime(load_default=None, validate=bounds, metadata={"description": "ISO 8601 with offset."})


def ids(description: str = "") -> List:
    return List(String(validate=Length(36, 36)), load_default=list, validate=Length(max=200),
                metadata={"description": description})


def site_named(site_id: str) -> Site:
    """The site a request body names: one of the caller's organization's, visible to the caller."""
    return get_referenced(Site, site_id, "site_id", "site")


def listed_at_site(model, query_data: dict, *filters: str, roles: Iterable[str] = ()) -> dict:
    """A page of the model's rows at the query's site (404 for a site the caller does not see; 403 without
    one of `roles` there, when named), narrowed by the query's `filters` that are set, each a column of the
    same name."""
    site = get_visible(Site, query_data["site_id"], "site")
    if roles:
        require_role_at(site.site_id, *sorted(roles))
    stmt = select(model).where(model.site_id == site.site_id)
    for name in filters:
        if query_data[name]:
            stmt = stmt.where(getattr(model, name) == query_data[name])
    return keyset_page(db_session(), stmt, (model.id,), query_data)
