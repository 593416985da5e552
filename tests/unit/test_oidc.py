"""Tokens from an OpenID Connect provider, verified against its JWKS served by a real HTTP peer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug import Response

from shared.auth import auth, principal
from shared.web import create_service_app
from tests.conftest import ORG_A, SECRET, bearer
from tests.support.probe.service import SERVICE

ISSUER = "https://id.example.test/realms/psp"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key, kid: str) -> dict:
    public = private_key.public_key()
    algorithm = jwt.algorithms.ECAlgorithm if isinstance(public, ec.EllipticCurvePublicKey) else jwt.algorithms.RSAAlgorithm
    return {**algorithm.to_jwk(public, as_dict=True), "kid": kid, "use": "sig"}


def provider_token(private_key, kid: str | None, *, algorithm: str = "RS256", issuer: str = ISSUER,
                   expires_in: timedelta = timedelta(minutes=5), drop: tuple[str, ...] = (), **claims) -> str:
    now = datetime.now(timezone.utc)
    body = {"iss": issuer, "aud": "psp", "sub": "f3b1c2d4-kc-user", "org": ORG_A, "iat": now,
            "exp": now + expires_in, "sites": ["*"], **claims}
    for name in drop:
        body.pop(name)
    return jwt.encode(body, private_key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def hmac_token(secret: bytes, kid: str) -> str:
    """Signed by hand: PyJWT itself refuses to sign with a key that looks like a JWK."""
    def part(data) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    now = int(datetime.now(timezone.utc).timestamp())
    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": kid}) + b"." + part(
        {"iss": ISSUER, "aud": "psp", "sub": "intruder", "org": ORG_A, "exp": now + 300, "roles": ["general_manager"]})
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


class Provider:
    """The identity provider's JWKS endpoint; `keys` is what it serves now, `fetches` how often it was asked."""

    def __init__(self, httpserver):
        self.path = f"/realms/psp/certs/{uuid.uuid4().hex}"  # a fresh URL: no key cache from another test
        self.keys: list[dict] = []
        self.status = 200
        self.server = httpserver
        httpserver.expect_request(self.path).respond_with_handler(self._answer)

    def _answer(self, _request):
        return Response(json.dumps({"keys": self.keys}), status=self.status, content_type="application/json")

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    @property
    def fetches(self) -> int:
        return sum(1 for request, _ in self.server.log if request.path == self.path)


@pytest.fixture
def provider(httpserver):
    return Provider(httpserver)


@contextmanager
def service_api():
    """A service's HTTP app, configured from the environment, with one authenticated endpoint."""
    app = create_service_app(SERVICE)

    @app.get("/whoami")
    @app.auth_required(auth)
    def whoami():
        caller = principal()
        return {"subject": caller.subject, "organization": caller.organization_id, "roles": sorted(caller.roles)}

    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


@pytest.fixture
def api(tmp_path, monkeypatch, provider):
    """Verifying the provider's tokens beside the platform's own secret."""
    for name, value in {"AUTH_JWT_SECRET": SECRET, "PSP_VAR_DIR": str(tmp_path), "AUTH_JWKS_URL": provider.url,
                        "AUTH_JWT_ISSUER": ISSUER, "AUTH_JWKS_REFRESH_SECONDS": "0"}.items():
        monkeypatch.setenv(name, value)
    with service_api() as client:
        yield client


def call(api, token: str):
    return api.get("/whoami", headers={"Authorization": f"Bearer {token}"})


def test_a_token_signed_with_a_provider_key_is_accepted(api, provider):
    key, ec_key = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    provider.keys = [jwk(key, "rsa-1"), jwk(ec_key, "ec-1")]
    answer = call(api, provider_token(key, "rsa-1"))
    assert answer.status_code == 200
    # Roles may be absent: then the staff directory is where they come from.
    assert answer.get_json() == {"subject": "f3b1c2d4-kc-user", "organization": ORG_A, "roles": []}
    assert call(api, provider_token(ec_key, "ec-1", algorithm="ES256", roles=["cs_supervisor"])).get_json()[
        "roles"] == ["cs_supervisor"]
    # The keys were fetched once and kept.
    assert provider.fetches == 1


def test_the_platforms_own_tokens_still_verify_with_the_secret(api, provider):
    provider.keys = [jwk(rsa_key(), "rsa-1")]
    assert api.get("/whoami", headers=bearer()).get_json()["subject"] == "tester"
    assert provider.fetches == 0


@pytest.mark.parametrize("bad", ["wrong key", "expired", "wrong issuer", "no issuer", "no organization",
                                 "other audience", "unknown kid", "HS256 under a provider kid"])
def test_a_token_the_provider_did_not_vouch_for_is_refused(api, provider, bad):
    key = rsa_key()
    provider.keys = [jwk(key, "rsa-1")]
    token = {
        "wrong key": lambda: provider_token(rsa_key(), "rsa-1"),
        "expired": lambda: provider_token(key, "rsa-1", expires_in=timedelta(minutes=-5)),
        "wrong issuer": lambda: provider_token(key, "rsa-1", issuer="https://evil.example.test"),
        "no issuer": lambda: provider_token(key, "rsa-1", drop=("iss",)),
        "no organization": lambda: provider_token(key, "rsa-1", drop=("org",)),
        "other audience": lambda: provider_token(key, "rsa-1", aud="account"),
        "unknown kid": lambda: provider_token(key, "rsa-9"),
        # Anyone may read the provider's public keys: one must not serve as an HMAC secret.
        "HS256 under a provider kid": lambda: hmac_token(json.dumps(provider.keys[0]).encode(), "rsa-1"),
    }[bad]()
    response = call(api, token)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_rotated_key_is_fetched_when_a_token_names_it(api, provider):
    old, new = rsa_key(), rsa_key()
    provider.keys = [jwk(old, "2026-11")]
    assert call(api, provider_token(old, "2026-11")).status_code == 200
    provider.keys = [jwk(new, "2026-12")]
    assert call(api, provider_token(new, "2026-12")).status_code == 200
    assert provider.fetches == 2
    # The retired key is gone from the provider, and from what the service trusts.
    assert call(api, provider_token(old, "2026-11")).status_code == 401


def test_made_up_key_ids_do_not_flood_the_provider(api, provider, monkeypatch):
    monkeypatch.setenv("AUTH_JWKS_REFRESH_SECONDS", "3600")
    with service_api() as throttled:
        key = rsa_key()
        provider.keys = [jwk(key, "rsa-1")]
        assert call(throttled, provider_token(key, "rsa-1")).status_code == 200
        for n in range(5):
            assert call(throttled, provider_token(key, f"made-up-{n}")).status_code == 401
    assert provider.fetches == 1


def test_an_unreachable_provider_is_a_503_not_a_401(api, provider):
    provider.status = 502
    response = call(api, provider_token(rsa_key(), "rsa-1"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_a_token_without_kid_is_verified_with_the_public_key(tmp_path, monkeypatch):
    key = rsa_key()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("AUTH_JWT_PUBLIC_KEY", pem.decode())
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    with service_api() as api:
        assert call(api, provider_token(key, None, issuer="anyone")).status_code == 200
        assert call(api, provider_token(rsa_key(), None)).status_code == 401
        # No secret configured: an HS256 token has nothing to be checked against.
        assert api.get("/whoami", headers=bearer()).status_code == 401
