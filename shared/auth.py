"""Bearer tokens (JWT) carrying user, organization, roles and site scope; tenancy helpers for queries.

People get user tokens from the identity provider; door controllers and other machines get machine tokens
(`"kind": "machine"`) minted for them by an operator. Both are verified the same way here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import jwt
from apiflask import HTTPTokenAuth
from flask import current_app

from shared.problems import Problem, not_found

ALL_SITES = "*"
ISSUER = "psp"

auth = HTTPTokenAuth(scheme="Bearer", description="JWT with `sub`, `org`, `roles`, `sites`.")


@dataclass(frozen=True)
class Principal:
    subject: str
    organization_id: str
    # Roles held at every site the caller sees.
    roles: frozenset[str]
    sites: frozenset[str]
    kind: str = "user"
    # Roles held at one site only (claim `site_roles`: {site id: [roles]}); SPEC §0: a supervisor at one
    # site may be a specialist at another.
    site_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def sees_site(self, site_id: str) -> bool:
        return ALL_SITES in self.sites or site_id in self.sites or site_id in self.site_roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def roles_at(self, site_id: str) -> frozenset[str]:
        """The roles the token grants at this site (the staff directory may grant more: `roles_at`)."""
        if not self.sees_site(site_id):
            return frozenset()
        return self.roles | self.site_roles.get(site_id, frozenset())


def _keys(settings) -> tuple[str, list[str]]:
    if settings.auth_jwt_public_key:
        return settings.auth_jwt_public_key, ["RS256", "ES256"]
    if not settings.auth_jwt_secret:
        raise RuntimeError("set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY")
    return settings.auth_jwt_secret, ["HS256"]


def decode(token: str, settings) -> Principal:
    key, algorithms = _keys(settings)
    claims = jwt.decode(
        token,
        key,
        algorithms=algorithms,
        audience=settings.auth_jwt_audience,
        options={"require": ["exp", "sub", "org", "aud"]},
    )
    return Principal(
        subject=str(claims["sub"]),
        organization_id=str(claims["org"]),
        roles=frozenset(claims.get("roles", [])),
        sites=frozenset(claims.get("sites", [])),
        kind=claims.get("kind", "user"),
        site_roles={str(site): frozenset(roles) for site, roles in (claims.get("site_roles") or {}).items()},
    )


def mint(settings, *, subject: str, organization_id: str, roles: list[str], sites: list[str],
         machine: bool = False, ttl: timedelta = timedelta(hours=12),
         site_roles: Mapping[str, list[str]] | None = None) -> str:
    """A token signed with AUTH_JWT_SECRET: for local use, tests and machine credentials."""
    if not settings.auth_jwt_secret:
        raise RuntimeError("minting needs AUTH_JWT_SECRET")
    now = datetime.now(timezone.utc)
    claims = {
        "iss": ISSUER,
        "aud": settings.auth_jwt_audience,
        "sub": subject,
        "org": organization_id,
        "roles": roles,
        "sites": sites,
        "kind": "machine" if machine else "user",
        "site_roles": {site: list(r) for site, r in (site_roles or {}).items()},
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, settings.auth_jwt_secret, algorithm="HS256")


@auth.verify_token
def _verify(token: str) -> Principal | None:
    try:
        return decode(token, current_app.extensions["psp"].settings)
    except jwt.PyJWTError:
        return None


def principal() -> Principal:
    return auth.current_user


def require_roles(*roles: str) -> Principal:
    caller = principal()
    if not caller.has_role(*roles):
        raise Problem(403, "Forbidden", f"This needs one of the roles: {', '.join(roles)}.")
    return caller


# A service that keeps a staff directory (or a read model of it) sets this on its app state, so roles granted
# there count beside the token's: (principal, site id) -> roles.
RoleDirectory = Callable[[Principal, str], frozenset[str]]


def roles_at(site_id: str) -> frozenset[str]:
    """The caller's roles at the record's site: the token's, and the staff directory's where the service
    keeps one (X-2: authority follows the role held at the record's site)."""
    caller = principal()
    directory: RoleDirectory | None = getattr(current_app.extensions["psp"], "role_directory", None)
    granted = caller.roles_at(site_id)
    if directory is not None and caller.sees_site(site_id):
        granted = granted | directory(caller, site_id)
    return granted


def require_role_at(site_id: str, *roles: str) -> frozenset[str]:
    """403 unless the caller holds one of the roles at this site; answers the roles held there."""
    held = roles_at(site_id)
    if not held.intersection(roles):
        raise Problem(403, "Forbidden", f"This needs one of the roles at this site: {', '.join(roles)}.")
    return held


def in_organization(stmt, model):
    """Scope a SELECT to the caller's organization: one organization never sees another's rows."""
    return stmt.where(model.organization_id == principal().organization_id)


def visible_site(site_id: str) -> str:
    """The site id, if the caller may see it; otherwise 404 as if it did not exist."""
    if not principal().sees_site(site_id):
        raise not_found("site")
    return site_id
