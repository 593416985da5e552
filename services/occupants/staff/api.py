"""HTTP boundary of the staff directory (OCC-10): departments, members, their roles per site, and the
escalation chain of a site; and the directory's roles as authority (`directory_roles`).

Who may change it: a general or property manager held for every site changes anything; a manager at a
site (general, property or site manager there) changes the roles held at that site, and the profile of
members who work only at sites they manage. Only a general or property manager grants or withdraws those
two roles.
"""

from __future__ import annotations

from collections.abc import Iterable

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Regexp
from flask import g
from sqlalchemy import select

from services.occupants.places.api import site_row
from services.occupants.places.tables import Site
from services.occupants.staff import rules
from services.occupants.staff.tables import Department, StaffMember
from shared import roles
from shared.auth import ALL_SITES, Principal, auth, principal, require_role_at, roles_at, sees_site
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.problems import Problem
from shared.web import db_session, get_visible

api = APIBlueprint("staff", __name__, url_prefix="/v1")

ORGANIZATION_MANAGERS = (roles.GENERAL_MANAGER, roles.PROPERTY_MANAGER)
_Role = String(validate=OneOf(roles.ALL))
_Roles = List(_Role, validate=Length(max=len(roles.ALL)))
_Reason = String(load_default="", validate=Length(max=500), metadata={"description": "Why, for the audit trail."})
_SiteId = String(validate=Length(1, 36), metadata={"description": 'A site id, or "*" for every site.'})


def directory_roles(caller: Principal, site_id: str) -> frozenset[str]:
    """The caller's roles at a site per the directory (shared.auth.roles_at adds them to the token's):
    one indexed query per request, however many checks it makes."""
    if "staff_directory" not in g:
        g.staff_directory = rules.roles_held(db_session(), caller.organization_id, caller.subject)
    held = g.staff_directory
    return held.get(site_id, frozenset()) | held.get(ALL_SITES, frozenset())


class DepartmentIn(Schema):
    code = String(required=True, validate=[Length(1, 40), Regexp(r"^[a-z][a-z0-9_]*$")])
    name = String(required=True, validate=Length(1, 200))


class DepartmentOut(Schema):
    id = String()
    code = String()
    name = String()


class SiteRoles(Schema):
    site_id = _SiteId
    roles = _Roles


class SiteRolesIn(Schema):
    site_id = String(required=True, validate=Length(1, 36), metadata={"description": 'A site id, or "*".'})
    roles = List(_Role, required=True, validate=Length(1, len(roles.ALL)))


class MemberIn(Schema):
    user_id = String(required=True, validate=Length(1, 200),
                     metadata={"description": "The `sub` of the member's tokens from the identity provider."})
    full_name = String(required=True, validate=Length(1, 200))
    department = String(required=True, validate=Length(1, 40))
    phone = String(load_default="", validate=Length(max=40))
    email = String(load_default="", validate=Length(max=200))
    channels = List(String(validate=OneOf(rules.CHANNELS)), load_default=lambda: ["app"], validate=Length(max=3))
    active = Boolean(load_default=True)
    site_roles = List(Nested(SiteRolesIn), load_default=list, validate=Length(max=100))
    reason = _Reason


class MemberPatch(Schema):
    full_name = String(validate=Length(1, 200))
    department = String(validate=Length(1, 40))
    phone = String(validate=Length(max=40))
    email = String(validate=Length(max=200))
    channels = List(String(validate=OneOf(rules.CHANNELS)), validate=Length(max=3))
    active = Boolean()
    reason = _Reason


class RolesIn(Schema):
    roles = List(_Role, required=True, validate=Length(max=len(roles.ALL)),
                 metadata={"description": "Every role the member holds at the site afterwards; [] withdraws all."})
    reason = _Reason


class MemberOut(Schema):
    id = String()
    user_id = String()
    full_name = String()
    department = String()
    phone = String(metadata={"description": "E.164."})
    email = String()
    channels = List(String())
    active = Boolean()
    version = Integer()
    site_roles = List(Nested(SiteRoles))
    created_at = DateTime()
    updated_at = DateTime()


class MemberQuery(PageQuery):
    site_id = String(load_default=None, validate=Length(1, 36),
                     metadata={"description": "Members holding a role at this site (or at every site)."})
    role = String(load_default=None, validate=OneOf(roles.ALL))
    department = String(load_default=None, validate=Length(1, 40))
    active = Boolean(load_default=None)


class ContactOut(Schema):
    member_id = String(attribute="id")
    user_id = String()
    full_name = String()
    department = String()
    phone = String()
    email = String()
    channels = List(String())


class LevelOut(Schema):
    level = Integer()
    role = String()
    scope = String(metadata={"description": '"site", or "organization" for a level that answers for every site.'})
    members = List(Nested(ContactOut))


class ChainOut(Schema):
    site_id = String()
    levels = List(Nested(LevelOut))


def _authorize_roles(site_id: str, before: Iterable[str], after: Iterable[str]) -> None:
    """403 unless the caller manages the site, and, to touch the general or property manager role there,
    is one of those."""
    held = require_role_at(site_id, *(ORGANIZATION_MANAGERS if site_id == ALL_SITES else roles.MANAGERS))
    if set(before).symmetric_difference(after) & set(ORGANIZATION_MANAGERS) and not held & set(ORGANIZATION_MANAGERS):
        raise Problem(403, "Forbidden", "Only a general or property manager grants or withdraws those roles.")


def _known_site(site_id: str) -> bool:
    site = db_session().get(Site, site_id)
    return site is not None and site.organization_id == principal().organization_id and sees_site(site_id)


def _authorize_profile(member: StaffMember) -> None:
    """A manager for every site, or a manager at each site the member works at."""
    sites = {held["site_id"] for held in member.site_roles}
    if roles_at(ALL_SITES) & set(ORGANIZATION_MANAGERS):
        return
    if not sites or ALL_SITES in sites or not all(roles_at(site) & set(roles.MANAGERS) for site in sites):
        raise Problem(403, "Forbidden", "This needs a manager at every site the member works at.")


@api.post("/departments")
@api.auth_required(auth)
@idempotent
@api.input(DepartmentIn)
@api.output(DepartmentOut, status_code=201)
def add_department(json_data):
    require_role_at(ALL_SITES, *ORGANIZATION_MANAGERS)
    caller = principal()
    return rules.add_department(db_session(), caller.organization_id, actor=caller.subject, **json_data)


@api.get("/departments")
@api.auth_required(auth)
@api.input(PageQuery, location="query")
@api.output(page_of(DepartmentOut))
def list_departments(query_data):
    organization_id = principal().organization_id
    rules.ensure_departments(db_session(), organization_id)
    stmt = select(Department).where(Department.organization_id == organization_id)
    return keyset_page(db_session(), stmt, (Department.code, Department.id), query_data)


@api.post("/staff")
@api.auth_required(auth)
@idempotent
@api.input(MemberIn)
@api.output(MemberOut, status_code=201)
def create_member(json_data):
    site_roles: dict[str, set[str]] = {}
    for held in json_data.pop("site_roles"):
        site_roles.setdefault(held["site_id"], set()).update(held["roles"])
    if not site_roles:
        require_role_at(ALL_SITES, *ORGANIZATION_MANAGERS)
    for site_id, held in site_roles.items():
        if site_id != ALL_SITES and not _known_site(site_id):
            raise Problem(422, "Unprocessable Content", f"No site {site_id!r}.", field="site_roles")
        _authorize_roles(site_id, (), held)
    caller = principal()
    return rules.create_member(db_session(), caller.organization_id, actor=caller.subject, site_roles=site_roles,
                               **json_data)


@api.get("/staff")
@api.auth_required(auth)
@api.input(MemberQuery, location="query")
@api.output(page_of(MemberOut))
def list_members(query_data):
    if query_data["site_id"] and query_data["site_id"] != ALL_SITES:
        site_row(query_data["site_id"])
    stmt = rules.member_query(principal().organization_id, site_id=query_data["site_id"], role=query_data["role"],
                              department=query_data["department"], active=query_data["active"])
    return keyset_page(db_session(), stmt, (StaffMember.full_name, StaffMember.id), query_data)


@api.get("/staff/<member_id>")
@api.auth_required(auth)
@api.output(MemberOut)
def get_member(member_id):
    return get_visible(StaffMember, member_id, "staff member")


@api.patch("/staff/<member_id>")
@api.auth_required(auth)
@api.input(MemberPatch)
@api.output(MemberOut)
def update_member(member_id, json_data):
    member = get_visible(StaffMember, member_id, "staff member")
    _authorize_profile(member)
    reason = json_data.pop("reason")
    return rules.update_member(db_session(), member, json_data, actor=principal().subject, reason=reason)


@api.put("/staff/<member_id>/sites/<site_id>/roles")
@api.auth_required(auth)
@api.input(RolesIn)
@api.output(MemberOut)
def set_site_roles(member_id, site_id, json_data):
    member = get_visible(StaffMember, member_id, "staff member")
    if site_id != ALL_SITES:
        site_row(site_id)
    before = [held.role for held in member.roles if held.site_id == site_id]
    _authorize_roles(site_id, before, json_data["roles"])
    return rules.set_site_roles(db_session(), member, site_id, json_data["roles"], actor=principal().subject,
                                reason=json_data["reason"])


@api.get("/sites/<site_id>/escalation-chain")
@api.auth_required(auth)
@api.output(ChainOut)
def escalation_chain(site_id):
    """Who is told at each level when a deadline at this site passes (TKT-4), lowest level first."""
    site = site_row(site_id)
    return {"site_id": site.id, "levels": rules.escalation_chain(db_session(), site)}
