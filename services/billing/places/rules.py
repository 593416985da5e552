"""Who pays for a unit, and the site's own calendar day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing.places.tables import CustodyAgreement, Occupancy, Site

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# The owner pays the unit's fees; a unit with no owner on record bills its tenant or company.
PAYING_ROLES = ("owner", "tenant", "company_staff")
RANGE_FROM = 100


def payers_of(session: Session, unit_ids: Iterable[str]) -> dict[str, str]:
    """unit id → the person who pays for it now; units nobody occupies are absent. A bill run's batch of
    units, consecutive by id, is read as one range of the index rather than a list of thousands of ids."""
    wanted = set(unit_ids)
    if not wanted:
        return {}
    units = (Occupancy.unit_id.between(min(wanted), max(wanted)) if len(wanted) > RANGE_FROM
             else Occupancy.unit_id.in_(wanted))
    rows = session.execute(select(Occupancy.unit_id, Occupancy.person_id, Occupancy.role).where(
        units, Occupancy.ended.is_(False), Occupancy.role.in_(PAYING_ROLES)).order_by(Occupancy.occupancy_id)).all()
    payers: dict[str, tuple[int, str]] = {}
    for unit_id, person_id, role in rows:
        if unit_id not in wanted:
            continue
        rank = PAYING_ROLES.index(role)
        if unit_id not in payers or rank < payers[unit_id][0]:
            payers[unit_id] = (rank, person_id)
    return {unit_id: person_id for unit_id, (_, person_id) in payers.items()}


def custody_shares(session: Session, unit_ids: Iterable[str]) -> dict[str, Decimal]:
    """unit id → the fee share its custody agreement names; units without one are absent."""
    wanted = list(unit_ids)
    if not wanted:
        return {}
    return dict(session.execute(select(CustodyAgreement.unit_id, CustodyAgreement.fee_rate).where(
        CustodyAgreement.unit_id.in_(wanted), CustodyAgreement.fee_rate.is_not(None))).all())


def time_zone(session: Session, site_id: str) -> ZoneInfo:
    site = session.get(Site, site_id)
    return ZoneInfo(site.time_zone if site else DEFAULT_TIME_ZONE)


def today_at(session: Session, site_id: str, now: datetime | None = None) -> date:
    return (now or datetime.now(ZoneInfo("UTC"))).astimezone(time_zone(session, site_id)).date()
