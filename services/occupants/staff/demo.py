"""The demo site's staff: one of each role the demo walks through, and the `make run` token's user
("demo-front-desk") as its front desk, so the directory's roles are what that token acts with."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.occupants.places.tables import Site
from services.occupants.staff import rules
from shared import roles
from shared.auth import ALL_SITES

STAFF = (
    # user id, name, department, phone, role, where
    ("demo-front-desk", "陈静 Chen Jing", "customer_service", "13900000101", roles.CS_SPECIALIST, "site"),
    ("demo-cs-supervisor", "刘洋 Liu Yang", "customer_service", "13900000102", roles.CS_SUPERVISOR, "site"),
    ("demo-site-manager", "王强 Wang Qiang", "customer_service", "13900000103", roles.SITE_MANAGER, "site"),
    ("demo-steward", "赵敏 Zhao Min", "customer_service", "13900000104", roles.STEWARD, "site"),
    ("demo-technician", "孙磊 Sun Lei", "engineering", "13900000105", roles.TECHNICIAN, "site"),
    ("demo-guard", "周勇 Zhou Yong", "security", "13900000106", roles.SECURITY_GUARD, "site"),
    ("demo-cashier", "吴婷 Wu Ting", "finance", "13900000107", roles.CASHIER, "site"),
    ("demo-general-manager", "郑华 Zheng Hua", "customer_service", "13900000108", roles.GENERAL_MANAGER,
     "organization"),
)


def seed(session: Session, site: Site) -> None:
    for user_id, name, department, phone, role, where in STAFF:
        rules.create_member(session, site.organization_id, actor="demo-seed", user_id=user_id, full_name=name,
                            department=department, phone=phone, channels=["app", "sms"],
                            site_roles={site.id if where == "site" else ALL_SITES: [role]})
