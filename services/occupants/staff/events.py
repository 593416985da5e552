"""Events of the staff directory; contracts in proto/psp/occupants/v1/staff.proto."""

from __future__ import annotations

from psp.occupants.v1.staff_pb2 import StaffMemberChanged, StaffSiteRoles

from services.occupants.staff.tables import StaffMember


def member_changed(member: StaffMember) -> StaffMemberChanged:
    """The member's whole snapshot, so a read model needs nothing but the latest one."""
    return StaffMemberChanged(
        member_id=member.id,
        user_id=member.user_id,
        full_name=member.full_name,
        department=member.department,
        channels=member.channels,
        phone=member.phone,
        email=member.email,
        active=member.active,
        site_roles=[StaffSiteRoles(**held) for held in member.site_roles],
        version=member.version,
    )
