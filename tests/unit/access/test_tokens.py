"""Offline pass tokens (ACC-5): COSE_Sign1 over a CWT with Ed25519 in base45. Checked against `cwt`, an
independent COSE/CWT implementation, both ways; forged, altered, expired and not-yet-valid tokens and retired
keys refused; the clock skew; QR version 8 at level M; the revocation list fetched incrementally; the token
presented to the decision API."""

import base64
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone

import base45
import cbor2
import cwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import jwt
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from services.access.tokens import codec
from tests.unit.access.support import FRONT_DESK, a_site, machine, ok, refused, staff
from tests.unit.access.test_decisions import _fresh

NOW = int(time.time())
SITE = str(uuid.uuid4())
KEY = Ed25519PrivateKey.generate()
KEYS = {"0a1b2c3d": KEY.public_key()}
MANAGER = staff("gm-liu", roles=("general_manager",))


def _token(key=KEY, kid="0a1b2c3d", not_before=NOW - 60, expires=NOW + 3600, token_id=None):
    return codec.sign(token_id=token_id or secrets.token_hex(8), site_id=SITE, not_before=not_before,
                      expires=expires, issued_at=NOW, kid=kid, key=key)


def _refusal(token, keys=KEYS, now=NOW, skew=300):
    with pytest.raises(codec.InvalidToken) as refused_token:
        codec.verify(token, keys, now, skew)
    return refused_token.value.reason


def _cose_key(private: bool, key=KEY, kid="0a1b2c3d"):
    raw = (key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()) if private
           else key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    params = {1: 1, -1: 6, 3: -8, 2: bytes.fromhex(kid), -4 if private else -2: raw}
    if private:
        params[-2] = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return cwt.COSEKey.new(params)


def test_a_token_verifies_and_carries_its_claims():
    token_id = secrets.token_hex(8)
    claims = codec.verify(_token(token_id=token_id), KEYS, NOW, 0)
    assert (claims.token_id, claims.site_id, claims.kid) == (token_id, SITE, "0a1b2c3d")


def test_an_independent_cose_implementation_reads_our_tokens_and_we_read_its():
    token = _token(expires=NOW + 3600)
    decoded = cwt.decode(base45.b45decode(token[len(codec.PREFIX):]), _cose_key(False))
    assert decoded[codec.EXP] == NOW + 3600 and uuid.UUID(bytes=decoded[codec.SITE]) == uuid.UUID(SITE)
    theirs = cwt.encode({codec.EXP: NOW + 600, codec.NBF: NOW - 5, codec.IAT: NOW, codec.CTI: bytes(8),
                         codec.SITE: uuid.UUID(SITE).bytes}, _cose_key(True))
    claims = codec.verify(codec.PREFIX + base45.b45encode(theirs).decode(), KEYS, NOW, 0)
    assert claims.token_id == "00" * 8 and claims.expires == NOW + 600


def test_forged_altered_malformed_and_unknown_key_tokens_are_refused():
    assert _refusal(_token(key=Ed25519PrivateKey.generate())) == "bad_signature"
    token = _token()
    # One character changed inside the signed payload.
    body = bytearray(base45.b45decode(token[len(codec.PREFIX):]))
    body[-70] ^= 0x01
    assert _refusal(codec.PREFIX + base45.b45encode(bytes(body)).decode()) in ("bad_signature", "malformed")
    assert _refusal(token[:-3]) == "malformed"
    assert _refusal("HC1:" + token[len(codec.PREFIX):]) == "malformed"
    assert _refusal(codec.PREFIX + base45.b45encode(cbor2.dumps([1, 2, 3])).decode()) == "malformed"
    assert _refusal(_token(kid="ffffffff")) == "unknown_key"


def test_the_window_holds_within_the_clock_skew():
    early = _token(not_before=NOW + 200)
    assert codec.verify(early, KEYS, NOW, 300)
    assert _refusal(early, skew=100) == "not_yet_valid"
    late = _token(not_before=NOW - 3600, expires=NOW - 200)
    assert codec.verify(late, KEYS, NOW, 300)
    assert _refusal(late, skew=100) == "expired"


def test_a_token_fits_qr_version_8_at_level_m_where_a_jwt_does_not():
    token = _token(expires=NOW + 10 * 365 * 86400)
    qr = segno.make(token, error="m", micro=False, boost_error=False)
    assert qr.mode == "alphanumeric" and qr.version <= 8
    same_claims = jwt.encode({"exp": NOW + 10 * 365 * 86400, "nbf": NOW, "iat": NOW, "jti": secrets.token_hex(8),
                              "site": SITE}, KEY, algorithm="EdDSA", headers={"kid": "0a1b2c3d"})
    assert segno.make(same_claims, error="m", micro=False, boost_error=False).version > 8


NOW_DT = datetime.now(timezone.utc)


def _qr_pass(client, where, **overrides):
    body = {"site_id": where["site_id"], "kind": "resident", "holder_name": "张伟", "person_id": where["person_id"],
            "credential_kind": "qr", "valid_from": (NOW_DT - timedelta(hours=1)).isoformat(),
            "valid_until": (NOW_DT + timedelta(days=30)).isoformat(), "zone_ids": [where["lobby"]]}
    body.update(overrides)
    return ok(client.post("/v1/passes", json=body, headers=FRONT_DESK), 201)


def test_a_qr_pass_token_verifies_with_the_published_key_and_opens_its_doors(access):
    where = a_site(access)
    _fresh(access)
    issued = _qr_pass(access, where)
    holder = staff(where["person_id"], roles=())
    served = ok(access.get(f"/v1/passes/{issued['id']}/token", headers=holder))
    assert served["token_id"] == issued["credential"] and served["qr_version"] <= 8
    published = ok(access.get("/v1/token-keys", headers=machine()))
    assert published["clock_skew_seconds"] == 300
    [jwk] = published["keys"]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    claims = codec.verify(served["token"], {jwk["kid"]: key}, time.time(), 0)
    assert claims.token_id == issued["credential"] and claims.site_id == where["site_id"]
    answer = ok(access.post("/v1/decisions", json={"door_id": where["front"], "credential": served["token"],
                                                    "credential_kind": "qr"}, headers=machine()))
    assert answer["reason"] == "granted" and answer["pass_id"] == issued["id"]
    forged = served["token"][:-2] + ("00" if served["token"][-2:] != "00" else "11")
    answer = ok(access.post("/v1/decisions", json={"door_id": where["front"], "credential": forged,
                                                    "credential_kind": "qr"}, headers=machine()))
    assert answer["outcome"] == "deny" and answer["reason"] == "invalid_token"
    svg = access.get(f"/v1/passes/{issued['id']}/qr.svg", headers=holder)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = access.get(f"/v1/passes/{issued['id']}/qr.png", headers=FRONT_DESK)
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    refused(access.get(f"/v1/passes/{issued['id']}/qr.png", headers=staff("stranger", roles=())), 403)


def test_rotation_keeps_old_tokens_verifying_until_the_key_is_retired(access):
    where = a_site(access)
    _fresh(access)
    issued = _qr_pass(access, where)
    old = ok(access.get(f"/v1/passes/{issued['id']}/token", headers=FRONT_DESK))
    refused(access.post("/v1/token-keys/rotate", headers=FRONT_DESK), 403)
    new_key = ok(access.post("/v1/token-keys/rotate", headers=MANAGER), 201)
    assert new_key["state"] == "signing" and new_key["kid"] != old["kid"]
    assert {k["state"] for k in ok(access.get("/v1/token-keys", headers=machine()))["keys"]} == {"signing", "verifying"}
    assert ok(access.get(f"/v1/passes/{issued['id']}/token", headers=FRONT_DESK))["kid"] == new_key["kid"]

    def ask(token):
        return ok(access.post("/v1/decisions", json={"door_id": where["front"], "credential": token,
                                                     "credential_kind": "qr"}, headers=machine()))["reason"]

    assert ask(old["token"]) == "granted"
    refused(access.post(f"/v1/token-keys/{new_key['kid']}/retire", headers=MANAGER), 409, "kid")
    ok(access.post(f"/v1/token-keys/{old['kid']}/retire", headers=MANAGER))
    assert ask(old["token"]) == "invalid_token"
    refused(access.post("/v1/token-keys/nope/retire", headers=MANAGER), 404)


def test_the_revocation_list_is_fetched_incrementally(access):
    where = a_site(access)
    first, second = _qr_pass(access, where), _qr_pass(access, where)
    card = ok(access.post("/v1/passes", json={
        "site_id": where["site_id"], "kind": "resident", "holder_name": "王五", "credential": "CARD-9",
        "credential_kind": "card", "valid_from": NOW_DT.isoformat(),
        "valid_until": (NOW_DT + timedelta(days=1)).isoformat(), "zone_ids": [where["lobby"]]},
        headers=FRONT_DESK), 201)
    empty = ok(access.get("/v1/revocations", headers=machine()))
    assert empty["revoked"] == [] and empty["complete"]
    for issued in (first, card):
        ok(access.post(f"/v1/passes/{issued['id']}/revoke", json={}, headers=FRONT_DESK))
    since = ok(access.get(f"/v1/revocations?since={empty['version']}", headers=machine()))
    assert [r["token_id"] for r in since["revoked"]] == [first["credential"]] and since["version"] > empty["version"]
    ok(access.post(f"/v1/passes/{second['id']}/revoke", json={}, headers=FRONT_DESK))
    paged = ok(access.get("/v1/revocations?since=0&limit=1", headers=machine()))
    assert not paged["complete"] and [r["token_id"] for r in paged["revoked"]] == [first["credential"]]
    rest = ok(access.get(f"/v1/revocations?since={paged['version']}", headers=machine()))
    assert [r["token_id"] for r in rest["revoked"]] == [second["credential"]] and rest["complete"]
    assert ok(access.get(f"/v1/revocations?since={rest['version']}", headers=machine()))["revoked"] == []
    refused(access.get(f"/v1/passes/{card['id']}/token", headers=FRONT_DESK), 409)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_base45_decoding_agrees_with_the_base45_package(data):
    assert codec.b45decode(base45.b45encode(data).decode()) == data


@pytest.mark.parametrize("text", ["A", "GGW", "ab", "::::", "A B C"[:4], "%%%"])
def test_text_that_is_not_base45_is_refused(text):
    with pytest.raises((KeyError, ValueError)):
        codec.b45decode(text)
    with pytest.raises((KeyError, ValueError)):
        base45.b45decode(text)


def test_a_signed_payload_that_is_not_a_pass_tokens_claims_is_malformed():
    protected = cbor2.dumps({codec.ALG: codec.EDDSA, codec.KID: bytes.fromhex("0a1b2c3d")})
    payload = cbor2.dumps({codec.EXP: NOW + 60})
    signature = KEY.sign(codec._to_be_signed(protected, payload))
    sign1 = cbor2.dumps(cbor2.CBORTag(codec.COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    assert _refusal(codec.PREFIX + base45.b45encode(sign1).decode()) == "malformed"


def test_a_header_naming_another_algorithm_is_malformed_however_often_it_is_shown():
    protected = cbor2.dumps({codec.ALG: -7, codec.KID: bytes.fromhex("0a1b2c3d")})
    payload = cbor2.dumps({codec.EXP: NOW + 60, codec.NBF: NOW - 60, codec.IAT: NOW, codec.CTI: bytes(8),
                           codec.SITE: uuid.UUID(SITE).bytes})
    signature = KEY.sign(codec._to_be_signed(protected, payload))
    sign1 = cbor2.dumps(cbor2.CBORTag(codec.COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    token = codec.PREFIX + base45.b45encode(sign1).decode()
    assert [_refusal(token), _refusal(token)] == ["malformed", "malformed"]
