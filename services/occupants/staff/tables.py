"""Staff directory (OCC-10). Every row belongs to one organization (X-1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.occupants.models import Base, new_id, utcnow


class Department(Base):
    __tablename__ = "staff_departments"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))


class StaffMember(Base):
    __tablename__ = "staff_members"
    # The role directory looks members up by (organization, user id) on every request that checks roles.
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    # The `sub` of the member's tokens, as the identity provider issues it.
    user_id: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Grows with every change; carried in the event so read models can drop stale snapshots.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    roles: Mapped[list[StaffRole]] = relationship(back_populates="member", cascade="all, delete-orphan")

    @property
    def site_roles(self) -> list[dict]:
        """[{"site_id": …, "roles": [sorted]}] by site id, for the API, the audit trail and the event."""
        held: dict[str, list[str]] = {}
        for assignment in sorted(self.roles, key=lambda r: (r.site_id, r.role)):
            held.setdefault(assignment.site_id, []).append(assignment.role)
        return [{"site_id": site_id, "roles": names} for site_id, names in held.items()]


class StaffRole(Base):
    """One role a member holds at one site; site "*" is every site of the organization."""

    __tablename__ = "staff_roles"
    __table_args__ = (
        UniqueConstraint("member_id", "site_id", "role"),
        # Who holds a role at a site: the escalation chain and the directory's filters.
        Index("ix_staff_roles_site_role", "organization_id", "site_id", "role"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(40))

    member: Mapped[StaffMember] = relationship(back_populates="roles")
