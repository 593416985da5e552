"""`make run`'s demo organization on the notifications side: a notice to the building where most occupants
live, sent and read in the in-app inbox by one of them, once the occupants' events have arrived."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.notifications.delivery import rules as delivery
from services.notifications.delivery.tables import Message
from services.notifications.notices import rules as notices
from services.notifications.notices.tables import Notice
from services.notifications.recipients.tables import Occupancy, Unit

ACTOR = "demo-seed"
TEXTS = {"zh-CN": {"title": "电梯保养通知", "body": "本周六9:00–11:00本楼电梯保养，期间请走楼梯，敬请谅解。"},
         "en": {"title": "Lift maintenance", "body": "The lifts of this building are serviced on Saturday "
                                                    "9:00–11:00; please use the stairs meanwhile."}}


def seed(session: Session, organization_id: str) -> None:
    """Nothing before the workers run: the notice needs the occupants' read model."""


def seed_live(session: Session, organization_id: str) -> bool:
    notice = session.scalars(select(Notice).where(Notice.organization_id == organization_id)
                             .order_by(Notice.created_at).limit(1)).first()
    if notice is None:
        return _send_building_notice(session, organization_id)
    if session.scalar(select(func.count()).select_from(Message).where(Message.cause_id == notice.id,
                                                                      Message.status == "read")):
        return True
    delivered = session.execute(Message.__table__.select().where(
        Message.cause_id == notice.id, Message.channel == "app", Message.status == "delivered")
        .order_by(Message.recipient_id).limit(1)).first()
    if delivered is None:
        return False  # the workers are still sending it
    delivery.apply(session, [delivery.Change(delivered, "read", values={"read_at": datetime.now(timezone.utc)})],
                   actor=delivered.user_id)
    return True


def _send_building_notice(session: Session, organization_id: str) -> bool:
    busiest = session.execute(
        select(Unit.site_id, Unit.building_id, func.count()).join(Occupancy, Occupancy.unit_id == Unit.unit_id)
        .where(Unit.organization_id == organization_id, Occupancy.active.is_(True))
        .group_by(Unit.site_id, Unit.building_id).order_by(func.count().desc(), Unit.building_id).limit(1)).first()
    if busiest is None:
        return False  # occupants' units and occupancies have not arrived yet
    site_id, building_id, _ = busiest
    notice = notices.create(session, organization_id, site_id=site_id,
                            target={"scope": "building", "site_id": site_id, "building_id": building_id},
                            texts=TEXTS, category="notices", expires_at=None, actor=ACTOR)
    notices.take(session, notice, "schedule", actor=ACTOR)
    return False
