"""Occupant notices (NTF-3): the audience resolved from the local read model of units and occupancies,
counted before sending; a scheduled notice is sent by a job that claims it once; after its expiry a notice
no longer reaches anyone it has not reached yet, and leaves the inbox."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.notifications.delivery.rules import Cause, enqueue
from services.notifications.delivery.tables import Message
from services.notifications.models import chassis
from services.notifications.notices.tables import Notice
from services.notifications.recipients import rules as recipients
from shared import audit
from shared.workflow import Step, Workflow

NOTICE = Workflow("notice", "draft", [
    Step("draft", "schedule", "scheduled"),
    Step("draft", "withdraw", "withdrawn"),
    Step("scheduled", "withdraw", "withdrawn"),
    Step("scheduled", "dispatch", "sent"),
], final=("sent", "withdrawn"))
SCOPES = ("organization", "site", "building", "floor", "unit_kind", "list")


def audience(session: Session, organization_id: str, site_id: str | None, target: dict):
    """The occupants the target reaches now."""
    scope = target["scope"]
    if scope == "list":
        return recipients.occupants(session, organization_id, person_ids=target.get("person_ids", []))
    where = {"site_id": site_id} if scope != "organization" else {}
    if scope in ("building", "floor"):
        where["building_id"] = target["building_id"]
    if scope == "floor":
        where["floor"] = target["floor"]
    if scope == "unit_kind":
        where["unit_kind"] = target["unit_kind"]
    return recipients.occupants(session, organization_id, **where)


def create(session: Session, organization_id: str, *, site_id: str | None, target: dict, texts: dict, category: str,
           expires_at: datetime | None, actor: str) -> Notice:
    now = datetime.now(timezone.utc)
    notice = Notice(id=str(uuid.uuid4()), organization_id=organization_id, site_id=site_id, target=target,
                    texts=texts, category=category, state="draft", send_at=None, expires_at=expires_at,
                    audience=len(audience(session, organization_id, site_id, target)), created_by=actor,
                    created_at=now, sent_at=None)
    session.add(notice)
    audit.record_for(session, chassis.audit_log, notice, entity="notice", action="create", actor=actor,
                     to_state="draft")
    return notice


def take(session: Session, notice: Notice, action: str, *, actor: str, send_at: datetime | None = None) -> Notice:
    step = NOTICE.step(notice.state, action)
    before = notice.state
    notice.state = step.target
    if action == "schedule":
        notice.send_at = send_at or datetime.now(timezone.utc)
        notice.audience = len(audience(session, notice.organization_id, notice.site_id, notice.target))
    audit.record_for(session, chassis.audit_log, notice, entity="notice", action=action, actor=actor,
                     from_state=before, to_state=step.target)
    return notice


def dispatch_due(sessions: sessionmaker, now: datetime | None = None) -> int:
    """Send every scheduled notice whose time has come, each claimed once; answers how many."""
    now = now or datetime.now(timezone.utc)
    table = Notice.__table__
    with sessions() as session, session.begin():
        due = select(table.c.id).where(table.c.state == "scheduled", table.c.send_at <= now).with_for_update(
            skip_locked=True)
        claimed = session.execute(update(table).where(table.c.id.in_(due.scalar_subquery()),
                                                      table.c.state == "scheduled")
                                  .values(state="sent", sent_at=now).returning(table.c.id)).scalars().all()
        for notice_id in claimed:
            notice = session.get(Notice, notice_id)
            audit.record_for(session, chassis.audit_log, notice, entity="notice", action="dispatch",
                             actor="notifications", from_state="scheduled", to_state="sent")
            notice.audience = send(session, notice)
    return len(claimed)


def send(session: Session, notice: Notice) -> int:
    """One message per occupant reached, in the occupant's language; answers how many occupants."""
    by_language = defaultdict(list)
    for target in audience(session, notice.organization_id, notice.site_id, notice.target):
        by_language[target.language if target.language in notice.texts else "zh-CN"].append(target)
    cause = Cause.here(notice.id, "notice.sent")
    for language, targets in by_language.items():
        enqueue(session, cause, organization_id=notice.organization_id, site_id=notice.site_id,
                category=notice.category, template_kind="notice", data={"notice": notice.texts[language]},
                targets=targets, expires_at=notice.expires_at)
    return sum(len(targets) for targets in by_language.values())


def receipts(session: Session, notice_id: str) -> dict[str, int]:
    """How many of the notice's messages are in each status: read receipts among them."""
    counts = dict(session.execute(select(Message.status, func.count()).where(Message.cause_id == notice_id)
                                  .group_by(Message.status)).all())
    return {status: counts.get(status, 0) for status in ("queued", "sent", "delivered", "read", "failed")}
