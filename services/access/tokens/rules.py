"""Signing keys with rotation, a pass's token, and the revocation list readers fetch incrementally.

Rotating or retiring a key raises the organization's change number, so the decision API's caches take the
new keys at once."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.access import changes
from services.access.models import chassis, utcnow
from services.access.passes.tables import LIVE, Pass
from services.access.tokens import codec
from services.access.tokens.tables import SigningKey
from shared import audit, policy
from shared.db import aware
from shared.problems import Problem

SIGNING, VERIFYING, RETIRED = "signing", "verifying", "retired"
CLOCK_SKEW = policy.define("access.token_clock_skew_seconds", 300,
                           "Seconds a reader's clock may be off when it checks a pass token's window.")
REVOCATIONS_PAGE = 1000


def signing_key(session: Session, organization_id: str) -> SigningKey:
    """The organization's signing key, made on first use. Two first uses at once: one makes it (a unique
    index allows one signing key), the other takes that one."""
    key = session.scalar(_signing(organization_id))
    if key is not None:
        return key
    try:
        with session.begin_nested():
            return _new_key(session, organization_id)
    except IntegrityError:
        return session.scalar(_signing(organization_id))


def _signing(organization_id: str):
    return select(SigningKey).where(SigningKey.organization_id == organization_id, SigningKey.state == SIGNING)


def rotate(session: Session, organization_id: str, *, actor: str) -> SigningKey:
    """A new signing key; the old one keeps verifying the tokens it signed until it is retired."""
    old = signing_key(session, organization_id)
    old.state, old.rotated_at = VERIFYING, utcnow()
    session.flush()
    new = _new_key(session, organization_id)
    changes.bump(session, organization_id)
    _audit(session, new, "rotate", actor, data={"previous": old.kid})
    return new


def retire(session: Session, key: SigningKey, *, actor: str) -> SigningKey:
    """Tokens signed with the key stop verifying; the signing key itself cannot be retired (rotate first)."""
    if key.state != VERIFYING:
        raise Problem(409, "Conflict", f"A {key.state} key cannot be retired; rotate first.", field="kid")
    key.state = RETIRED
    changes.bump(session, key.organization_id)
    _audit(session, key, "retire", actor)
    return key


def verifying_keys(session: Session, organization_id: str) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).where(SigningKey.organization_id == organization_id,
                                                         SigningKey.state.in_((SIGNING, VERIFYING)))
                                .order_by(SigningKey.created_at)))


def public_keys(rows: list[SigningKey]) -> dict[str, Ed25519PublicKey]:
    return {row.kid: Ed25519PublicKey.from_public_bytes(row.public_key) for row in rows}


def token_for(session: Session, pass_: Pass) -> str:
    """A live QR pass's offline token: its window, its credential, its site."""
    if pass_.credential_kind != "qr":
        raise Problem(409, "Conflict", "Only a QR pass has an offline token.", field="credential_kind")
    if pass_.state != LIVE:
        raise Problem(409, "Conflict", "A revoked pass has no token.", field="state")
    key = signing_key(session, pass_.organization_id)
    return codec.sign(token_id=pass_.credential, site_id=pass_.site_id,
                      not_before=int(aware(pass_.valid_from).timestamp()),
                      expires=int(aware(pass_.valid_until).timestamp()),
                      issued_at=int(utcnow().timestamp()), kid=key.kid,
                      key=Ed25519PrivateKey.from_private_bytes(key.private_key))


def revocations(session: Session, organization_id: str, since: int, limit: int = REVOCATIONS_PAGE) -> dict:
    """QR passes revoked after change number `since`, oldest change first. `version` is where the next
    request starts from; `complete` says whether this answer reaches the current change number."""
    current = changes.current(session, organization_id)
    rows = session.execute(select(Pass.credential, Pass.id, Pass.revoked_at, Pass.revocation_reason, Pass.version)
                           .where(Pass.organization_id == organization_id, Pass.credential_kind == "qr",
                                  Pass.state != LIVE, Pass.version > since, Pass.version <= current)
                           .order_by(Pass.version).limit(limit + 1)).all()
    complete = len(rows) <= limit
    rows = rows[:limit]
    return {"version": current if complete else rows[-1].version, "complete": complete,
            "revoked": [{"token_id": r.credential, "pass_id": r.id, "revoked_at": r.revoked_at,
                         "reason": r.revocation_reason} for r in rows]}


def _new_key(session: Session, organization_id: str) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    key = SigningKey(kid=secrets.token_hex(4), organization_id=organization_id, state=SIGNING,
                     private_key=private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
                     public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    session.add(key)
    session.flush()
    return key


def _audit(session: Session, key: SigningKey, action: str, actor: str, data: dict | None = None) -> None:
    audit.record(session, chassis.audit_log, organization_id=key.organization_id, entity="token_key",
                 entity_id=key.kid, action=action, actor=actor, to_state=key.state, data=data)
