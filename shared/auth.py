"""Bearer tokens (JWT) carrying user, organization, roles and site scope; tenancy helpers for queries.

People get user tokens from the identity provider; door controllers and other machines get machine tokens
(`"kind": "machine"`) minted for them by an operator. Both are verified the same way here. An OpenID
Connect provider's tokens are verified against its JWKS; they need only `sub`, `aud`, `exp` and `org`,
and the roles they do not carry come from the staff directory (`roles_at`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import jwt
from apiflask import HTTPTokenAuth
from flask import current_app

from shared.problems import Problem, not_found

log = logging.getLogger(__name__)

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
    # The token's `exp`, as a Unix time.
    expires_at: float = 0.0

    def sees_site(self, site_id: str) -> bool:
        return ALL_SITES in self.sites or site_id in self.sites or site_id in self.site_roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def roles_at(self, site_id: str) -> frozenset[str]:
        """The roles the token grants at this site (the staff directory may grant more: `roles_at`)."""
        if not self.sees_site(site_id):
            return frozenset()
        return self.roles | self.site_roles.get(site_id, frozenset())


JWKS_ALGORITHMS = ["RS256", "ES256"]
JWKS_TIMEOUT_SECONDS = 5


@functools.cache
def _jwks(url: str, refresh_seconds: float) -> jwt.PyJWKClient:
    """One client per process and URL: it caches the provider's keys across requests (PyJWT's JWKS cache,
    5 minutes) and fetches them again for a `kid` it has not seen, at most once per `refresh_seconds`."""
    return jwt.PyJWKClient(url, timeout=JWKS_TIMEOUT_SECONDS, cooldown_duration=refresh_seconds)


def _key(token: str, settings) -> tuple[object, list[str], str]:
    """The key that verifies this token, its algorithms and the issuer it must name ("": any).

    The header says which: HS256 is the platform's own secret; a `kid` is one of the identity provider's
    JWKS keys; anything else is for the public key. A token never chooses a weaker check than that."""
    if not (settings.auth_jwt_secret or settings.auth_jwt_public_key or settings.auth_jwks_url):
        raise RuntimeError("set AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL")
    header = jwt.get_unverified_header(token)
    if header.get("alg") == "HS256":
        if not settings.auth_jwt_secret:
            raise jwt.InvalidAlgorithmError("no secret to verify HS256 tokens with")
        return settings.auth_jwt_secret, ["HS256"], ""
    if _from_provider(header, settings):
        client = _jwks(settings.auth_jwks_url, settings.auth_jwks_refresh_seconds)
        try:
            signing_key = client.get_signing_key(str(header["kid"]))
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("identity provider's JWKS unreachable: %s", exc)
            raise Problem(503, "Service Unavailable", "The identity provider's keys cannot be fetched; "
                          "try again shortly.", headers={"Retry-After": "5"}) from exc
        return signing_key.key, JWKS_ALGORITHMS, settings.auth_jwt_issuer
    if not settings.auth_jwt_public_key:
        raise jwt.InvalidKeyError("no key to verify this token with")
    return settings.auth_jwt_public_key, JWKS_ALGORITHMS, settings.auth_jwt_issuer


def _from_provider(header: dict, settings) -> bool:
    """Whether the identity provider's keys verify a token with this header."""
    return bool(header.get("kid") and settings.auth_jwks_url)


def decode(token: str, settings) -> Principal:
    key, algorithms, issuer = _key(token, settings)
    claims = jwt.decode(
        token,
        key,
        algorithms=algorithms,
        audience=settings.auth_jwt_audience,
        issuer=issuer or None,
        options={"require": ["exp", "sub", "org", "aud", *(["iss"] if issuer else [])]},
    )
    return Principal(
        subject=str(claims["sub"]),
        organization_id=str(claims["org"]),
        roles=_names(claims.get("roles")),
        sites=_names(claims.get("sites")),
        kind=claims.get("kind", "user"),
        site_roles={str(site): _names(roles) for site, roles in _mapping(claims.get("site_roles")).items()},
        expires_at=float(claims["exp"]),
    )


class VerifiedTokens:
    """Tokens this process has verified with the platform's own secret or public key, so a client's next
    request with the same token skips the signature check and the parsing of its claims: a quarter of a
    small request's CPU. An entry lasts until its token expires; the whole cache is dropped when full, which
    costs one verification per token in use. An identity provider's tokens are not kept: the provider may
    retire a key at any moment, and its tokens must be refused from then on."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._principals: dict[str, Principal] = {}

    def get(self, token: str) -> Principal | None:
        found = self._principals.get(token)
        return found if found is not None and found.expires_at > time.time() else None

    def remember(self, token: str, verified: Principal) -> Principal:
        if len(self._principals) >= self.size:
            self._principals.clear()
        self._principals[token] = verified
        return verified


def _names(claim) -> frozenset[str]:
    """A list claim as names; a provider's token may leave it out or shape it otherwise (then: none)."""
    return frozenset(str(name) for name in claim) if isinstance(claim, list) else frozenset()


def _mapping(claim) -> Mapping:
    return claim if isinstance(claim, dict) else {}


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


def authenticated(authorization: str) -> bool:
    """Whether an Authorization header carries a valid bearer token."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        decode(token.strip(), current_app.extensions["psp"].settings)
    except jwt.PyJWTError:
        return False
    return True


@auth.verify_token
def _verify(token: str) -> Principal | None:
    state = current_app.extensions["psp"]
    known = state.tokens.get(token)
    if known is not None:
        return known
    try:
        verified = decode(token, state.settings)
    except jwt.PyJWTError:
        return None
    if _from_provider(jwt.get_unverified_header(token), state.settings):
        return verified
    return state.tokens.remember(token, verified)


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


def _directory_roles(caller: Principal, site_id: str) -> frozenset[str]:
    directory: RoleDirectory | None = getattr(current_app.extensions["psp"], "role_directory", None)
    return directory(caller, site_id) if directory is not None else frozenset()


def sees_site(site_id: str) -> bool:
    """Whether the caller sees the site: the token grants it, or the staff directory gives the caller a
    role there (a provider's token may name no sites at all)."""
    caller = principal()
    return caller.sees_site(site_id) or bool(_directory_roles(caller, site_id))


def roles_at(site_id: str) -> frozenset[str]:
    """The caller's roles at the record's site: the token's, and the staff directory's where the service
    keeps one (X-2: authority follows the role held at the record's site)."""
    caller = principal()
    granted = _directory_roles(caller, site_id)
    if granted or caller.sees_site(site_id):
        granted = granted | caller.roles | caller.site_roles.get(site_id, frozenset())
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
    if not sees_site(site_id):
        raise not_found("site")
    return site_id
