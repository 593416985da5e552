"""The payloads repairs publish; contracts in proto/psp/ticketing/v1/repairs.proto."""

from __future__ import annotations

from psp.ticketing.v1.repairs_pb2 import RepairWorkAccepted, WorkOrderDispatched

from services.ticketing.tickets.events import _at


def dispatched(order, technician_member_id: str) -> WorkOrderDispatched:
    return WorkOrderDispatched(
        work_order_id=order.id, ticket_id=order.ticket_id, ticket_number=order.ticket_number, site_id=order.site_id,
        unit_id=order.unit_id or "", technician_member_id=technician_member_id,
        technician_user_id=order.technician_id, summary=order.summary, emergency=order.emergency,
        dispatched_at=_at(order.dispatched_at))


def work_accepted(order) -> RepairWorkAccepted:
    return RepairWorkAccepted(
        work_order_id=order.id, ticket_id=order.ticket_id, site_id=order.site_id, unit_id=order.unit_id or "",
        person_id=order.payer_id, service_code=order.service_code, description=order.summary,
        quantity=str(order.quantity), unit_price=str(order.unit_price), amount=str(order.amount),
        currency=order.currency, accepted_at=_at(order.accepted_at))
