"""Categories (category → subcategory) and their routing to a responsible department (TKT-1), per
organization. Every organization starts from the defaults below; managers add, rename, re-route or
deactivate them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import utcnow
from services.ticketing.tickets.tables import Category
from shared import bulk
from shared.problems import Problem

ENGINEERING, SECURITY, ENVIRONMENT, CUSTOMER_SERVICE = "engineering", "security", "environment", "customer_service"
DEPARTMENTS = (ENGINEERING, SECURITY, ENVIRONMENT, CUSTOMER_SERVICE)

# (code, name, department, subcategories as (code, name)); a subcategory routes where its category does.
DEFAULTS = (
    ("repair", "维修 Repairs", ENGINEERING, (
        ("repair.water", "给排水 Water supply and drains"),
        ("repair.electric", "电气 Electricity"),
        ("repair.lift", "电梯 Lifts"),
        ("repair.gas", "燃气 Gas"),
        ("repair.leak", "渗漏水 Leaks"),
        ("repair.doors_windows", "门窗 Doors and windows"),
        ("repair.public_facility", "公共设施 Public facilities"),
    )),
    ("order", "秩序 Public order", SECURITY, (
        ("order.noise", "噪音 Noise"),
        ("order.parking", "停车 Parking"),
        ("order.access", "门禁与出入 Access and entry"),
    )),
    ("environment", "环境 Environment", ENVIRONMENT, (
        ("environment.cleaning", "清洁 Cleaning"),
        ("environment.greening", "绿化 Greening"),
        ("environment.refuse", "垃圾清运 Refuse collection"),
        ("environment.pests", "消杀 Pest control"),
    )),
    ("service", "客户服务 Customer service", CUSTOMER_SERVICE, (
        ("service.fees", "收费 Fees"),
        ("service.conduct", "服务态度 Staff conduct"),
        ("service.information", "咨询 Information"),
        ("service.other", "其他 Other"),
    )),
)
_NAMESPACE = uuid.UUID("5a0c2f4e-8d1b-4c55-9d0e-7f1f3e0b6a11")


def default_id(organization_id: str, code: str) -> str:
    """A default category's id follows from its organization and code, so seeding it twice (two requests at
    once, a restart) inserts it once."""
    return str(uuid.uuid5(_NAMESPACE, f"{organization_id}/{code}"))


def ensure_defaults(session: Session, organization_id: str) -> None:
    """The default categories, for an organization that has none yet."""
    if session.scalar(select(Category.id).where(Category.organization_id == organization_id).limit(1)):
        return
    now = utcnow()
    rows = []
    for code, name, department, subcategories in DEFAULTS:
        parent = default_id(organization_id, code)
        rows.append(_row(organization_id, parent, None, code, name, department, now))
        rows += [_row(organization_id, default_id(organization_id, sub), parent, sub, sub_name, department, now)
                 for sub, sub_name in subcategories]
    # Parents first in the batch, so their subcategories' foreign keys hold.
    bulk.insert_new(session, Category.__table__, [r for r in rows if r["parent_id"] is None], key="id")
    bulk.insert_new(session, Category.__table__, [r for r in rows if r["parent_id"] is not None], key="id")


def _row(organization_id, id_, parent_id, code, name, department, now) -> dict:
    return {"id": id_, "organization_id": organization_id, "parent_id": parent_id, "code": code, "name": name,
            "department": department, "active": True, "updated_by": "defaults", "updated_at": now}


def create(session: Session, organization_id: str, *, actor: str, code: str, name: str, department: str | None,
           parent_id: str | None) -> Category:
    """A subcategory routes to its category's department unless given its own."""
    ensure_defaults(session, organization_id)
    parent = None
    if parent_id is not None:
        parent = session.get(Category, parent_id)
        if parent is None or parent.organization_id != organization_id:
            raise Problem(422, "Unprocessable Content", "No such category.", field="parent_id")
        if parent.parent_id is not None:
            raise Problem(422, "Unprocessable Content", "A subcategory has no subcategories of its own.",
                          field="parent_id")
    if department is None:
        if parent is None:
            raise Problem(422, "Unprocessable Content", "A category names the department it routes to.",
                          field="department")
        department = parent.department
    if session.scalar(select(Category.id).where(Category.organization_id == organization_id, Category.code == code)):
        raise Problem(409, "Conflict", f"A category with code {code!r} exists already.", field="code")
    category = Category(organization_id=organization_id, parent_id=parent_id, code=code, name=name,
                        department=department, active=True, updated_by=actor)
    session.add(category)
    session.flush()
    return category


def change(session: Session, category: Category, *, actor: str, **changes) -> Category:
    for name, value in changes.items():
        setattr(category, name, value)
    category.updated_by, category.updated_at = actor, utcnow()
    return category


def usable(session: Session, organization_id: str, category_id: str, field: str = "category_id") -> Category:
    """An active category of the organization, or 422 naming the field. An organization that has none yet
    gets the defaults first (their ids follow from their codes, so a client may know them beforehand)."""
    category = session.get(Category, category_id)
    if category is None:
        ensure_defaults(session, organization_id)
        category = session.get(Category, category_id)
    if category is None or category.organization_id != organization_id or not category.active:
        raise Problem(422, "Unprocessable Content", "No such active category.", field=field)
    return category
