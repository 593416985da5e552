"""Demo data for repairs: the demo desk's kitchen-leak repair has its work order, free under the unit's
warranty, with the demo technician (from occupants' staff directory) on site."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.repairs import rules
from services.ticketing.repairs.tables import WorkOrder
from services.ticketing.sla.tables import StaffMember
from services.ticketing.tickets.tables import Ticket
from shared import policy
from shared.roles import CS_SPECIALIST, TECHNICIAN

FRONT_DESK, TECHNICIAN_ID = "demo-front-desk", "demo-technician"


def seed_live(session: Session, organization_id: str) -> bool:
    """Once, after the demo tickets: the unit's handover eight months ago (the platform did not see it), the
    work order assigned and checked in. False while the staff directory does not know the technician yet."""
    leak = session.scalar(select(Ticket).where(Ticket.organization_id == organization_id, Ticket.type == "repair",
                                               Ticket.state == "in_progress").order_by(Ticket.number).limit(1))
    if leak is None or session.scalar(select(WorkOrder.id).where(WorkOrder.ticket_id == leak.id)):
        return True
    if not session.scalar(select(StaffMember.member_id).where(StaffMember.organization_id == organization_id,
                                                              StaffMember.user_id == TECHNICIAN_ID)):
        return False
    handed_over = (utcnow() - timedelta(days=240)).date().isoformat()
    policy.override(session, chassis, organization_id=organization_id, site_id=leak.site_id,
                    setting=rules.HANDOVER_DATES, new_value={leak.unit_id: handed_over}, actor=FRONT_DESK,
                    reason="Handed over before the platform recorded move-ins.")
    order = rules.open_order(session, leak, actor=FRONT_DESK, roles={CS_SPECIALIST}, item="plumbing",
                             technician_id=TECHNICIAN_ID)
    rules.take(session, order, actor=TECHNICIAN_ID, roles={TECHNICIAN}, action="check_in")
    return True
