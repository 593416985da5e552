"""HTTP boundary of offline tokens: a QR pass's token and its image, the public keys and their rotation, and
the revocation list."""

from __future__ import annotations

import base64
import io

import segno
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Range
from flask import Response

from services.access.models import chassis
from services.access.passes.api import readable_pass
from services.access.tokens import rules
from services.access.tokens.tables import SigningKey
from shared import policy
from shared.auth import auth, principal, require_roles
from shared.fields import UtcDateTime
from shared.problems import not_found
from shared.roles import GENERAL_MANAGER, PROPERTY_MANAGER
from shared.web import db_session

api = APIBlueprint("tokens", __name__, url_prefix="/v1")

KEY_KEEPERS = (GENERAL_MANAGER, PROPERTY_MANAGER)
QR_ERROR_LEVEL = "m"


class TokenOut(Schema):
    token = String(metadata={"description": "PSP1: and the base45 COSE_Sign1; QR alphanumeric."})
    kid = String()
    token_id = String()
    qr_version = Integer(metadata={"description": "The QR version the token needs at error correction M."})


class PublicKeyOut(Schema):
    """A JWK (RFC 8037)."""

    kty = String()
    crv = String()
    alg = String()
    kid = String()
    x = String()
    use = String()
    state = String()


class PublicKeysOut(Schema):
    keys = List(Nested(PublicKeyOut))
    clock_skew_seconds = Integer()


class RevocationQuery(Schema):
    since = Integer(load_default=0, validate=Range(0, 2**62),
                    metadata={"description": "The `version` of the last answer; 0 for the whole list."})
    limit = Integer(load_default=rules.REVOCATIONS_PAGE, validate=Range(1, rules.REVOCATIONS_PAGE))


class RevokedTokenOut(Schema):
    token_id = String()
    pass_id = String()
    revoked_at = UtcDateTime()
    reason = String()


class RevocationsOut(Schema):
    version = Integer()
    complete = Boolean()
    revoked = List(Nested(RevokedTokenOut))


def _qr(token: str) -> segno.QRCode:
    return segno.make(token, error=QR_ERROR_LEVEL, micro=False, boost_error=False)


def _jwk(key: SigningKey) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": key.kid, "use": "sig", "state": key.state,
            "x": base64.urlsafe_b64encode(key.public_key).rstrip(b"=").decode("ascii")}


@api.get("/passes/<pass_id>/token")
@api.auth_required(auth)
@api.output(TokenOut)
def pass_token(pass_id):
    pass_ = readable_pass(pass_id)
    token = rules.token_for(db_session(), pass_)
    return {"token": token, "kid": rules.signing_key(db_session(), pass_.organization_id).kid,
            "token_id": pass_.credential, "qr_version": _qr(token).version}


@api.get("/passes/<pass_id>/qr.svg")
@api.auth_required(auth)
@api.doc(responses={200: {"description": "The token as a QR code (SVG).",
                          "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
def pass_qr_svg(pass_id):
    image = io.BytesIO()
    _qr(rules.token_for(db_session(), readable_pass(pass_id))).save(image, kind="svg", scale=4, border=4)
    return Response(image.getvalue(), mimetype="image/svg+xml")


@api.get("/passes/<pass_id>/qr.png")
@api.auth_required(auth)
@api.doc(responses={200: {"description": "The token as a QR code (PNG).",
                          "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}})
def pass_qr_png(pass_id):
    image = io.BytesIO()
    _qr(rules.token_for(db_session(), readable_pass(pass_id))).save(image, kind="png", scale=6, border=4)
    return Response(image.getvalue(), mimetype="image/png")


@api.get("/token-keys")
@api.auth_required(auth)
@api.output(PublicKeysOut)
def token_keys():
    """The public keys a reader verifies tokens with (signing and rotated-out ones), and the clock skew it
    should allow."""
    session, organization_id = db_session(), principal().organization_id
    rules.signing_key(session, organization_id)
    return {"keys": [_jwk(k) for k in rules.verifying_keys(session, organization_id)],
            "clock_skew_seconds": int(policy.value(session, chassis, organization_id, None, rules.CLOCK_SKEW))}


@api.post("/token-keys/rotate")
@api.auth_required(auth)
@api.output(PublicKeyOut, status_code=201)
def rotate_token_key():
    caller = require_roles(*KEY_KEEPERS)
    return _jwk(rules.rotate(db_session(), caller.organization_id, actor=caller.subject))


@api.post("/token-keys/<kid>/retire")
@api.auth_required(auth)
@api.output(PublicKeyOut)
def retire_token_key(kid):
    caller = require_roles(*KEY_KEEPERS)
    key = db_session().get(SigningKey, kid)
    if key is None or key.organization_id != caller.organization_id:
        raise not_found("token key")
    return _jwk(rules.retire(db_session(), key, actor=caller.subject))


@api.get("/revocations")
@api.auth_required(auth)
@api.input(RevocationQuery, location="query")
@api.output(RevocationsOut)
def revocation_list(query_data):
    """Revoked QR passes since the `version` a reader holds: it asks again with the answer's `version`."""
    return rules.revocations(db_session(), principal().organization_id, query_data["since"], query_data["limit"])
