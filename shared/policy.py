"""Configurable defaults (SPEC: every number is a default per organization, overridable per site).

Each capability defines its settings once, with the default and what it means; an organization may
override a default, and a site may override its organization's value. Values are JSON (decimals as
strings). Changes are audited like any other state change.

    CUSTODY_WATER_LIMIT = policy.define("custody.water_limit", "5", "Water units a unit in custody may use.")
    limit = Decimal(policy.value(session, tables, organization_id, site_id, CUSTODY_WATER_LIMIT))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit, bulk
from shared.problems import Problem
from shared.tables import ChassisTables

ORGANIZATION_WIDE = ""


@dataclass(frozen=True)
class Setting:
    key: str
    default: object
    description: str


REGISTRY: dict[str, Setting] = {}


def define(key: str, default: object, description: str) -> Setting:
    if key in REGISTRY and REGISTRY[key] != Setting(key, default, description):
        raise ValueError(f"policy {key!r} is defined twice")
    REGISTRY[key] = Setting(key, default, description)
    return REGISTRY[key]


def value(session: Session, tables: ChassisTables, organization_id: str, site_id: str | None, setting: Setting):
    """The site's value, else the organization's, else the default."""
    table = tables.policies
    rows = dict(session.execute(
        select(table.c.site_id, table.c.value).where(
            table.c.organization_id == organization_id, table.c.key == setting.key,
            table.c.site_id.in_([ORGANIZATION_WIDE, site_id or ORGANIZATION_WIDE]))
    ).all())
    if site_id and site_id in rows:
        return rows[site_id]
    return rows.get(ORGANIZATION_WIDE, setting.default)


def decimal_value(session: Session, tables: ChassisTables, organization_id: str, site_id: str | None,
                  setting: Setting, *, maximum: Decimal, places: int = 2) -> Decimal:
    """A decimal setting's value in force, from 0 to `maximum` with at most `places` decimals. An override
    may hold any JSON string; one that is not such a decimal answers 409 naming the setting, not a 500."""
    held = value(session, tables, organization_id, site_id, setting)
    try:
        number = Decimal(str(held))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not 0 <= number <= maximum or number.as_tuple().exponent < -places:
        raise Problem(409, "Conflict", f"The setting {setting.key} holds {held!r}: a decimal from 0 to {maximum} "
                                       f"with at most {places} places is needed; correct it under /v1/policies.")
    return number


def effective(session: Session, tables: ChassisTables, organization_id: str, site_id: str | None) -> list[dict]:
    """Every defined setting with the value in force and where it comes from (default, organization, site)."""
    table = tables.policies
    overrides = {(row.key, row.site_id): row.value for row in session.execute(
        select(table.c.key, table.c.site_id, table.c.value).where(
            table.c.organization_id == organization_id,
            table.c.site_id.in_([ORGANIZATION_WIDE, site_id or ORGANIZATION_WIDE])))}
    answer = []
    for setting in sorted(REGISTRY.values(), key=lambda s: s.key):
        source, current = "default", setting.default
        if (setting.key, ORGANIZATION_WIDE) in overrides:
            source, current = "organization", overrides[(setting.key, ORGANIZATION_WIDE)]
        if site_id and (setting.key, site_id) in overrides:
            source, current = "site", overrides[(setting.key, site_id)]
        answer.append({"key": setting.key, "value": current, "default": setting.default, "source": source,
                       "description": setting.description})
    return answer


def override(session: Session, tables: ChassisTables, *, organization_id: str, site_id: str | None,
             setting: Setting, new_value: object, actor: str, reason: str = "") -> None:
    """Set the organization's (site_id None) or a site's value; audited with the value it replaces."""
    scope = site_id or ORGANIZATION_WIDE
    previous = value(session, tables, organization_id, site_id, setting)
    bulk.insert(session, tables.policies, [{
        "organization_id": organization_id, "site_id": scope, "key": setting.key, "value": new_value,
        "updated_by": actor, "updated_at": datetime.now(timezone.utc),
    }], update_on=("organization_id", "site_id", "key"))
    audit.record(session, tables.audit_log, organization_id=organization_id, site_id=site_id, entity="policy",
                 entity_id=setting.key[:36], action="override", actor=actor, reason=reason,
                 data={"key": setting.key, "from": previous, "to": new_value, "scope": scope or "organization"})
