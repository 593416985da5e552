"""What a list shows, the same for every list of notifications: the caller's organization only, at the sites
the caller sees (records of the whole organization, with no site, included), filtered by the query's values."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from shared.auth import ALL_SITES, principal


def visible(model, query_data: dict, filters: tuple[str, ...] = ()) -> Select:
    caller = principal()
    stmt = select(model).where(model.organization_id == caller.organization_id)
    if hasattr(model, "site_id") and ALL_SITES not in caller.sites:
        stmt = stmt.where(or_(model.site_id.is_(None), model.site_id.in_([*caller.sites, *caller.site_roles])))
    for name in filters:
        if query_data.get(name) is not None:
            stmt = stmt.where(getattr(model, name) == query_data[name])
    return stmt
