"""Rules of the staff directory (OCC-10). Plain functions over a session; no Flask.

Every change records the member's whole snapshot as `staff.member_changed.v1` and an audit row in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.occupants import contacts
from services.occupants.models import chassis, utcnow
from services.occupants.places.tables import Site
from services.occupants.staff import events
from services.occupants.staff.tables import Department, StaffMember, StaffRole
from shared import audit, roles
from shared.auth import ALL_SITES
from shared.bus import outbox
from shared.problems import Problem, not_found

# SPEC OCC-10's departments; an organization starts with these and may add its own.
DEFAULT_DEPARTMENTS = (
    ("customer_service", "Customer service 客服中心"),
    ("engineering", "Engineering 工程部"),
    ("security", "Security 秩序部"),
    ("environment", "Environment and cleaning 环境部"),
    ("finance", "Finance 财务部"),
)
CHANNELS = ("sms", "email", "app")
# Who is told next when a deadline passes (TKT-4), lowest first; the last two answer for every site.
ESCALATION_CHAIN = (roles.CS_SPECIALIST, roles.CS_SUPERVISOR, roles.SITE_MANAGER, roles.PROPERTY_MANAGER,
                    roles.GENERAL_MANAGER)
ORGANIZATION_LEVELS = frozenset({roles.PROPERTY_MANAGER, roles.GENERAL_MANAGER})
PROFILE_FIELDS = ("full_name", "department", "phone", "email", "channels", "active")


def ensure_departments(session: Session, organization_id: str) -> None:
    """Write the default departments the first time the organization's directory is used, so it can
    rename them like its own."""
    if session.scalar(select(Department.id).where(Department.organization_id == organization_id).limit(1)):
        return
    session.add_all(Department(organization_id=organization_id, code=code, name=name)
                    for code, name in DEFAULT_DEPARTMENTS)
    session.flush()


def add_department(session: Session, organization_id: str, *, code: str, name: str, actor: str) -> Department:
    ensure_departments(session, organization_id)
    if session.scalar(select(Department.id).where(Department.organization_id == organization_id,
                                                  Department.code == code)):
        raise Problem(409, "Conflict", f"Department {code!r} exists already.", field="code")
    department = Department(organization_id=organization_id, code=code, name=name)
    session.add(department)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=organization_id, entity="staff_department",
                 entity_id=department.id, action="added", actor=actor, data={"code": code, "name": name})
    return department


def create_member(session: Session, organization_id: str, *, actor: str, user_id: str, full_name: str,
                  department: str, phone: str = "", email: str = "", channels: Sequence[str] = ("app",),
                  active: bool = True, site_roles: Mapping[str, Iterable[str]] | None = None,
                  reason: str = "") -> StaffMember:
    if session.scalar(select(StaffMember.id).where(StaffMember.organization_id == organization_id,
                                                   StaffMember.user_id == user_id)):
        raise Problem(409, "Conflict", "This user is in the directory already.", field="user_id")
    member = StaffMember(organization_id=organization_id, user_id=user_id, version=1, active=active,
                         full_name=full_name, department="", phone="", email="", channels=[])
    _apply_profile(session, member, {"department": department, "phone": phone, "email": email,
                                     "channels": list(channels)})
    for site_id, held in (site_roles or {}).items():
        _check_site(session, organization_id, site_id, field="site_roles")
        member.roles.extend(StaffRole(organization_id=organization_id, site_id=site_id, role=role)
                            for role in sorted(set(held)))
    session.add(member)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=organization_id, entity="staff_member",
                 entity_id=member.id, action="created", actor=actor, to_state=_state(member), reason=reason,
                 data={"user_id": user_id, "site_roles": member.site_roles})
    _publish(session, member)
    return member


def update_member(session: Session, member: StaffMember, changes: Mapping, *, actor: str,
                  reason: str = "") -> StaffMember:
    """Change profile fields (those given); a no-op change records nothing."""
    before = {name: getattr(member, name) for name in PROFILE_FIELDS}
    was = _state(member)
    _apply_profile(session, member, {name: changes[name] for name in PROFILE_FIELDS if name in changes})
    changed = {name: [before[name], getattr(member, name)] for name in PROFILE_FIELDS
               if before[name] != getattr(member, name)}
    if changed:
        _bump(member)
        audit.record(session, chassis.audit_log, organization_id=member.organization_id, entity="staff_member",
                     entity_id=member.id, action="updated", actor=actor, from_state=was, to_state=_state(member),
                     reason=reason, data=changed)
        _publish(session, member)
    return member


def set_site_roles(session: Session, member: StaffMember, site_id: str, held: Iterable[str], *, actor: str,
                   reason: str = "") -> StaffMember:
    """Replace the roles the member holds at one site (or at every site: "*")."""
    _check_site(session, member.organization_id, site_id, field="site_id")
    wanted = sorted(set(held))
    before = sorted(r.role for r in member.roles if r.site_id == site_id)
    if wanted == before:
        return member
    member.roles = [r for r in member.roles if r.site_id != site_id or r.role in wanted] + [
        StaffRole(organization_id=member.organization_id, site_id=site_id, role=role)
        for role in wanted if role not in before]
    _bump(member)
    session.flush()
    audit.record(session, chassis.audit_log, organization_id=member.organization_id, site_id=site_id,
                 entity="staff_member", entity_id=member.id, action="roles_set", actor=actor, reason=reason,
                 data={"site_id": site_id, "from": before, "to": wanted})
    _publish(session, member)
    return member


def roles_held(session: Session, organization_id: str, user_id: str) -> dict[str, frozenset[str]]:
    """What the directory grants a user: {site id or "*": roles}. Nothing for an inactive member. One
    query, on the (organization, user) unique index."""
    rows = session.execute(
        select(StaffRole.site_id, StaffRole.role)
        .join(StaffMember, StaffMember.id == StaffRole.member_id)
        .where(StaffMember.organization_id == organization_id, StaffMember.user_id == user_id,
               StaffMember.active.is_(True))
    ).all()
    held: dict[str, set[str]] = {}
    for site_id, role in rows:
        held.setdefault(site_id, set()).add(role)
    return {site_id: frozenset(names) for site_id, names in held.items()}


def escalation_chain(session: Session, site: Site) -> list[dict]:
    """Per level of TKT-4's chain, the active members holding that role at the site or at every site (as
    property and general managers usually do), by name."""
    rows = session.execute(
        select(StaffRole.role, StaffMember)
        .join(StaffMember, StaffMember.id == StaffRole.member_id)
        .where(StaffRole.organization_id == site.organization_id, StaffRole.site_id.in_((site.id, ALL_SITES)),
               StaffRole.role.in_(ESCALATION_CHAIN), StaffMember.active.is_(True))
        .order_by(StaffMember.full_name, StaffMember.id)
    ).all()
    levels = []
    for number, role in enumerate(ESCALATION_CHAIN, start=1):
        members = list({member.id: member for held, member in rows if held == role}.values())
        levels.append({"level": number, "role": role,
                       "scope": "organization" if role in ORGANIZATION_LEVELS else "site", "members": members})
    return levels


def member_query(organization_id: str, *, site_id: str | None = None, role: str | None = None,
                 department: str | None = None, active: bool | None = None):
    """The directory's members, filtered: roles held at the site (or at every site), of the role."""
    stmt = (select(StaffMember).where(StaffMember.organization_id == organization_id)
            .options(selectinload(StaffMember.roles)))
    if site_id or role:
        holds = select(StaffRole.id).where(StaffRole.member_id == StaffMember.id)
        if site_id:
            holds = holds.where(StaffRole.site_id.in_((site_id, ALL_SITES)))
        if role:
            holds = holds.where(StaffRole.role == role)
        stmt = stmt.where(holds.exists())
    if department:
        stmt = stmt.where(StaffMember.department == department)
    if active is not None:
        stmt = stmt.where(StaffMember.active.is_(active))
    return stmt


def _apply_profile(session: Session, member: StaffMember, fields: Mapping) -> None:
    if "department" in fields:
        ensure_departments(session, member.organization_id)
        if not session.scalar(select(Department.id).where(Department.organization_id == member.organization_id,
                                                          Department.code == fields["department"])):
            raise Problem(422, "Unprocessable Content", f"No department {fields['department']!r}.",
                          field="department")
    for name, value in fields.items():
        if name == "phone":
            value = contacts.phone(value)
        elif name == "email":
            value = contacts.email(value)
        elif name == "channels":
            value = list(dict.fromkeys(value))
        setattr(member, name, value)
    for channel, contact in (("sms", member.phone), ("email", member.email)):
        if channel in member.channels and not contact:
            raise Problem(422, "Unprocessable Content", f"Channel {channel!r} needs the contact it uses.",
                          field="channels")


def _check_site(session: Session, organization_id: str, site_id: str, *, field: str) -> None:
    if site_id == ALL_SITES:
        return
    site = session.get(Site, site_id)
    if site is None or site.organization_id != organization_id:
        raise not_found("site") if field == "site_id" else Problem(
            422, "Unprocessable Content", f"No site {site_id!r}.", field=field)


def _bump(member: StaffMember) -> None:
    member.version += 1
    member.updated_at = utcnow()


def _state(member: StaffMember) -> str:
    return "active" if member.active else "inactive"


def _publish(session: Session, member: StaffMember) -> None:
    outbox.record(session, chassis.outbox, events.member_changed(member),
                  organization_id=member.organization_id)
