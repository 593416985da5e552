"""The offline token benchmark: how many pass tokens one core verifies a second (base45, COSE_Sign1, the
Ed25519 signature, the CWT's window), against the raw `cryptography` Ed25519 verification of the same signed
bytes in the same run.

Both loops run on this process's one core, timed in its CPU seconds, taking turns for BENCH_TOKEN_ROUNDS (6)
rounds of BENCH_TOKEN_SECONDS (1) each, so a neighbour's load weighs on both alike; each figure is the median
of its rounds. Every verification must succeed with the claims signed, and a forged token must fail.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
import uuid

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.infra import progress
from services.access.tokens import codec


def run() -> list[dict]:
    seconds = float(os.environ.get("BENCH_TOKEN_SECONDS", "1"))
    rounds = int(os.environ.get("BENCH_TOKEN_ROUNDS", "6"))
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    token_id = secrets.token_hex(8)
    token = codec.sign(token_id=token_id, site_id=str(uuid.uuid4()), not_before=now - 60, expires=now + 86400,
                       issued_at=now, kid="0a1b2c3d", key=key)
    keys = {"0a1b2c3d": key.public_key()}
    protected, _, payload, signature = cbor2.loads(base45.b45decode(token[len(codec.PREFIX):])).value
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    public = key.public_key()

    def verify_token():
        if codec.verify(token, keys, time.time(), 300).token_id != token_id:
            raise RuntimeError("the token's claims came back changed")

    def verify_raw():
        public.verify(signature, signed)

    _refuse_forgery(token, keys)
    verify_token()
    progress(f"token_verify: {len(token)} characters, {rounds} rounds of {seconds:.0f} s; "
             f"load average {os.getloadavg()[0]:.2f}")
    raw_rates, token_rates = [], []
    for _ in range(rounds):
        raw_rates.append(_rate(verify_raw, seconds))
        token_rates.append(_rate(verify_token, seconds))
    baseline, tokens = statistics.median(raw_rates), statistics.median(token_rates)
    progress(f"  raw Ed25519: {baseline:.0f}, pass tokens: {tokens:.0f} a second of CPU (medians); "
             f"{1e6 / tokens:.1f} CPU µs a token, {1e6 / tokens - 1e6 / baseline:.1f} of them outside the signature")
    return [{"bench": "token_verify", "value": round(tokens, 1), "unit": "verifications/s per core",
             "baseline": round(baseline, 1), "ratio": round(tokens / baseline, 3), "target": ">= 0.8"}]


def _rate(verify, seconds: float) -> float:
    done, started = 0, time.process_time()
    deadline = started + seconds
    while time.process_time() < deadline:
        for _ in range(100):
            verify()
        done += 100
    return done / (time.process_time() - started)


def _refuse_forgery(token: str, keys: dict) -> None:
    body = bytearray(base45.b45decode(token[len(codec.PREFIX):]))
    body[-1] ^= 0x01
    try:
        codec.verify(codec.PREFIX + base45.b45encode(bytes(body)).decode(), keys, time.time(), 300)
    except codec.InvalidToken:
        return
    raise RuntimeError("a forged token verified")
