"""Events custody publishes on `occupants.events`; contracts in proto/psp/occupants/v1/custody.proto and
patrols.proto."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from psp.occupants.v1.custody_pb2 import CustodyEnded, CustodyMeterLimitExceeded, CustodyStarted
from psp.occupants.v1.patrols_pb2 import PatrolPlanPublished, PatrolPlanWithdrawn

from services.occupants.custody.tables import CustodyAgreement

# The weekly exterior patrol of a unit in custody and the one-off patrols around heavy rain (每周及大雨前后
# 安排人员对托管房进行户外巡查, 发现问题及时处理并通知业主).
CHECKPOINTS = ("门窗关闭完好", "外墙、阳台及窗台无渗漏", "户外水电表无异常走字", "无异常人员出入迹象")
PATROL_ROLE = "steward"
_PLANS = uuid.UUID("6f0c3a52-9d1e-4f7b-8a61-2b7d4c9e0f13")


def weekly_plan_id(agreement_id: str) -> str:
    """The same id on publish and withdrawal, derived rather than stored."""
    return str(uuid.uuid5(_PLANS, f"custody:{agreement_id}"))


def rain_plan_id(warning_id: str, agreement_id: str, when: str) -> str:
    return str(uuid.uuid5(_PLANS, f"heavy_rain:{warning_id}:{agreement_id}:{when}"))


def started(agreement: CustodyAgreement) -> CustodyStarted:
    return CustodyStarted(
        agreement_id=agreement.id, site_id=agreement.site_id, unit_id=agreement.unit_id,
        owner_id=agreement.owner_id, starts_on=agreement.starts_on.isoformat(),
        ends_on=agreement.ends_on.isoformat(), fee_rate=str(agreement.fee_rate),
        water_start=str(agreement.water_start), electricity_start=str(agreement.electricity_start),
    )


def ended(agreement: CustodyAgreement, reason: str) -> CustodyEnded:
    return CustodyEnded(
        agreement_id=agreement.id, site_id=agreement.site_id, unit_id=agreement.unit_id,
        owner_id=agreement.owner_id, ended_on=agreement.ended_on.isoformat(), reason=reason,
    )


def limit_exceeded(agreement: CustodyAgreement, *, meter: str, used: Decimal, limit: Decimal,
                   reading: Decimal) -> CustodyMeterLimitExceeded:
    return CustodyMeterLimitExceeded(
        agreement_id=agreement.id, site_id=agreement.site_id, unit_id=agreement.unit_id,
        owner_id=agreement.owner_id, meter=meter, used=str(used), limit=str(limit), reading=str(reading),
    )


def weekly_patrol(agreement: CustodyAgreement, starts_at: datetime, ends_at: datetime) -> PatrolPlanPublished:
    plan = _patrol(weekly_plan_id(agreement.id), "custody", agreement, starts_at)
    plan.rrule = "FREQ=WEEKLY"
    plan.ends_at.FromDatetime(ends_at)
    return plan


def rain_patrol(plan_id: str, agreement: CustodyAgreement, at: datetime) -> PatrolPlanPublished:
    """A one-off patrol (no rrule) at `at`."""
    return _patrol(plan_id, "heavy_rain", agreement, at)


def patrol_withdrawn(agreement: CustodyAgreement, reason: str) -> PatrolPlanWithdrawn:
    return PatrolPlanWithdrawn(plan_id=weekly_plan_id(agreement.id), site_id=agreement.site_id, reason=reason)


def _patrol(plan_id: str, purpose: str, agreement: CustodyAgreement, starts_at: datetime) -> PatrolPlanPublished:
    plan = PatrolPlanPublished(
        plan_id=plan_id, purpose=purpose, reference_id=agreement.id, site_id=agreement.site_id,
        unit_id=agreement.unit_id, checkpoints=list(CHECKPOINTS), patrol_role=PATROL_ROLE,
    )
    plan.starts_at.FromDatetime(starts_at)
    return plan
