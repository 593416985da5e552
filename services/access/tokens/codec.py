"""Offline pass tokens: a COSE_Sign1 (RFC 9052) over a CWT (RFC 8392), signed with Ed25519 (EdDSA, alg -8),
base45-encoded (RFC 9285) behind a version prefix, as the EU digital COVID certificate does ("HC1:").

Base45 text is all QR alphanumeric characters, so a token of ~190 characters fits QR version 8 at error
correction level M, where a JWT of the same claims needs version 11 or 12.

The claims are the CWT's own: `nbf` and `exp` are the pass's window, `iat` the signing time, `cti` the pass's
credential (8 random bytes: what the revocation list names); one private claim carries the site (16 bytes).
The kid (4 bytes) sits in the protected header, so it is signed too.

The verifier is a few lines over cbor2 and cryptography rather than a general COSE library: a reader runs it
per scan, and it must cost little more than the Ed25519 check itself (bench/token_verify.py). The tests check
it against `cwt`, an independent COSE implementation, both ways.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import NamedTuple

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "PSP1:"
COSE_SIGN1_TAG = 18
ALG, KID, EDDSA = 1, 4, -8
EXP, NBF, IAT, CTI = 4, 5, 6, 7
SITE = -70001
_SIG1_CONTEXT = "Signature1"
_SIG1_PREFIX = cbor2.dumps([_SIG1_CONTEXT, b"", b"", b""])[:1 + 1 + len(_SIG1_CONTEXT)]


BASE45_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@functools.cache
def _base45_tables() -> tuple[dict[tuple[str, str, str], bytes], dict[str, bytes]]:
    """Every valid 3-character group (as a tuple of its characters) and its 2 bytes, and every valid
    2-character tail and its byte (RFC 9285 §4). About 10 MB, made on a process's first decode."""
    def chars(value: int, count: int) -> tuple[str, ...]:
        return tuple(BASE45_CHARSET[value // 45 ** i % 45] for i in range(count))

    return ({chars(x, 3): x.to_bytes(2, "big") for x in range(65536)},
            {"".join(chars(x, 2)): bytes((x,)) for x in range(256)})


def b45decode(text: str) -> bytes:
    """Base45 decoded by table look-ups in C: zip over one iterator cuts the text into 3-character tuples
    (their hashes are cheap: single characters are shared objects), a dict maps each to its bytes. 9× the
    `base45` package's decoder, which loops in Python and took a third of a verification. That package still
    encodes, and the tests check this against it. Raises KeyError or ValueError on text that is not base45."""
    groups, tails = _base45_tables()
    whole, rest = divmod(len(text), 3)
    if rest == 1:
        raise ValueError("a base45 text never leaves one character over")
    characters = iter(text[:3 * whole])
    decoded = b"".join(map(groups.__getitem__, zip(characters, characters, characters)))
    return decoded + tails[text[3 * whole:]] if rest else decoded


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    """The Sig_structure ["Signature1", protected, external_aad = h'', payload] in CBOR, written out: the
    array and text headers are fixed, only the two byte strings' lengths vary."""
    return b"".join((_SIG1_PREFIX, _bstr_head(len(protected)), protected, b"\x40", _bstr_head(len(payload)), payload))


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    if length < 256:
        return bytes((0x58, length))
    return b"\x59" + length.to_bytes(2, "big")


class InvalidToken(Exception):
    """Why a token is refused: malformed, unknown_key, bad_signature, not_yet_valid or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TokenClaims(NamedTuple):
    """A verified token's claims (a tuple: made at every scan, it costs a fifth of a frozen dataclass)."""

    token_id: str
    site: bytes
    kid: str
    not_before: int
    expires: int
    issued_at: int

    @property
    def site_id(self) -> str:
        """The site's id as the API writes it (made on demand: a reader that knows its site's bytes compares
        those)."""
        return str(uuid.UUID(bytes=self.site))


def sign(*, token_id: str, site_id: str, not_before: int, expires: int, issued_at: int, kid: str,
         key: Ed25519PrivateKey) -> str:
    protected = cbor2.dumps({ALG: EDDSA, KID: bytes.fromhex(kid)})
    payload = cbor2.dumps({EXP: expires, NBF: not_before, IAT: issued_at, CTI: bytes.fromhex(token_id),
                           SITE: uuid.UUID(site_id).bytes})
    signature = key.sign(_to_be_signed(protected, payload))
    sign1 = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + base45.b45encode(sign1).decode("ascii")


@functools.lru_cache(maxsize=64)
def _signed_kid(protected: bytes) -> str | None:
    """The kid of an EdDSA protected header, None when the header leaves it out. Every token signed with one
    key carries the same header bytes, so a reader decodes each header once, not at every scan."""
    header = cbor2.loads(protected)
    if header.get(ALG) != EDDSA:
        raise ValueError("not EdDSA")
    kid = header.get(KID)
    return kid.hex() if kid else None


def verify(token: str, keys: Mapping[str, Ed25519PublicKey], now: float, skew: float) -> TokenClaims:
    """The token's claims if one of `keys` (by kid) signed it and `now` is within its window, allowing
    `skew` seconds of clock difference either way; otherwise InvalidToken saying why."""
    try:
        if not token.startswith(PREFIX):
            raise ValueError("no prefix")
        tagged = cbor2.loads(b45decode(token[len(PREFIX):]))
        protected_bytes, unprotected, payload, signature = tagged.value
        if tagged.tag != COSE_SIGN1_TAG:
            raise ValueError("not a COSE_Sign1")
        # Ours sign the kid in the protected header; RFC 9052 allows it unprotected too.
        kid = _signed_kid(protected_bytes) or unprotected[KID].hex()
    except Exception as exc:  # any structure but ours
        raise InvalidToken("malformed") from exc
    key = keys.get(kid)
    if key is None:
        raise InvalidToken("unknown_key")
    try:
        key.verify(signature, _to_be_signed(protected_bytes, payload))
    except (InvalidSignature, TypeError, ValueError) as exc:
        raise InvalidToken("bad_signature") from exc
    try:
        claims = cbor2.loads(payload)
        verified = TokenClaims(token_id=claims[CTI].hex(), site=claims[SITE], kid=kid, not_before=claims[NBF],
                               expires=claims[EXP], issued_at=claims[IAT])
    except Exception as exc:  # signed, but not a pass token's claims
        raise InvalidToken("malformed") from exc
    if now + skew < verified.not_before:
        raise InvalidToken("not_yet_valid")
    if now - skew >= verified.expires:
        raise InvalidToken("expired")
    return verified
