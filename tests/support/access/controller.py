"""A reference vendor-neutral door controller: a real HTTP server in a thread, the other end of the generic
webhook adapter.

It verifies each webhook's Standard Webhooks signature, refuses an old or future timestamp, applies a
webhook id once (a replay of a seen id changes nothing), keeps its own allow-list from the grants and
revocations, decides swipes from that list alone, verifies QR pass tokens offline with the platform's
published keys and its revocation list (fetched incrementally: a revoked QR pass is refused even when no push
reached the controller), and reports entries back to the platform signed with the same secret. Tests steer it into
the troubles real endpoints have: failures, 429 with Retry-After, 410, or accepting now and acknowledging
later.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from services.access.tokens import codec

PASSED_TYPE = "psp.access.door_passed.v1"
ACKNOWLEDGED_TYPE = "psp.access.acknowledged.v1"
REVOCATIONS_EVERY = 5.0


@dataclass
class ReferenceController:
    secret: str = ""
    # Steering: statuses to answer before applying anything, in order (e.g. [503, 503], [429], [410]).
    answers: deque = field(default_factory=deque)
    retry_after: str = "1"
    # Answer 202 and acknowledge later (through `acknowledge_pending`).
    accept_later: bool = False
    allow_list: dict = field(default_factory=dict)
    applied: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    replays: int = 0
    # (monotonic time, status) of every request.
    answered: list = field(default_factory=list)
    seen_ids: set = field(default_factory=set)
    pending_acks: list = field(default_factory=list)
    token_keys: dict = field(default_factory=dict)
    clock_skew: float = 0
    # The platform's revocation list as far as `revocations_version` (GET /v1/revocations).
    revoked_tokens: set = field(default_factory=set)
    revocations_version: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the server --------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        self._server = make_server("127.0.0.1", port, self._wsgi, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def stop(self) -> None:
        self._server.shutdown()

    def _wsgi(self, environ, start_response):
        return self._receive(Request(environ))(environ, start_response)

    def _receive(self, request: Request) -> Response:
        response = self._handle(request)
        with self.lock:
            self.answered.append((time.monotonic(), response.status_code))
        return response

    def _handle(self, request: Request) -> Response:
        body = request.get_data()
        try:
            Webhook(self.secret).verify(body, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:
            with self.lock:
                self.refused.append(str(exc))
            return Response(str(exc), status=401)
        with self.lock:
            if self.answers:
                status = self.answers.popleft()
                headers = {"Retry-After": self.retry_after} if status == 429 else {}
                return Response("", status=status, headers=headers)
            message_id = request.headers["webhook-id"]
            if message_id in self.seen_ids:
                self.replays += 1
                return Response("", status=200)
            self.seen_ids.add(message_id)
            self._apply(json.loads(body))
            if self.accept_later:
                self.pending_acks.append(message_id)
                return Response("", status=202)
        return Response("", status=204)

    def _apply(self, event: dict) -> None:
        data = event["data"]
        if event["type"] == "psp.access.grant.v1":
            self.allow_list[data["credential"]] = data
        else:
            self.allow_list.pop(data["credential"], None)
        self.applied.append((time.monotonic(), event))

    # -- what a reader at a door does ----------------------------------------------------------------------

    def allows(self, credential: str, door: str, at: datetime | None = None) -> bool:
        """The controller's own decision, offline: on its list, for this door, within the window."""
        at = at or datetime.now(timezone.utc)
        grant = self.allow_list.get(credential)
        return bool(grant and door in grant["doors"]
                    and datetime.fromisoformat(grant["valid_from"]) <= at < datetime.fromisoformat(grant["valid_until"]))

    def trust(self, published_keys: dict) -> None:
        """The platform's published token keys (GET /v1/token-keys): all a reader needs to check QR passes."""
        self.token_keys = {key["kid"]: Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key["x"] + "=="))
                           for key in published_keys["keys"]}
        self.clock_skew = published_keys["clock_skew_seconds"]

    def fetch_revocations(self, platform_url: str, headers: dict) -> int:
        """Bring the controller's copy of the revocation list up to date: only what changed since the version
        it holds, page after page. Answers how many tokens it had not known revoked."""
        fresh = 0
        with httpx.Client(base_url=platform_url, headers=headers, timeout=10) as client:
            while True:
                answer = client.get("/v1/revocations", params={"since": self.revocations_version})
                answer.raise_for_status()
                page = answer.json()
                with self.lock:
                    known = len(self.revoked_tokens)
                    self.revoked_tokens.update(entry["token_id"] for entry in page["revoked"])
                    self.revocations_version = page["version"]
                    fresh += len(self.revoked_tokens) - known
                if page["complete"]:
                    return fresh

    def scan(self, token: str, door: str, at: datetime | None = None) -> tuple[bool, str]:
        """A QR pass at a reader, decided offline: signed by a published key, within its window and not on
        the revocation list (checked here, with no call to the platform), then on the controller's own list
        for this door."""
        at = at or datetime.now(timezone.utc)
        try:
            claims = codec.verify(token, self.token_keys, at.timestamp(), self.clock_skew)
        except codec.InvalidToken as refused:
            return False, refused.reason
        if claims.token_id in self.revoked_tokens:
            return False, "revoked"
        grant = self.allow_list.get(claims.token_id)
        if grant is None:
            return False, "not_granted"
        return (True, "granted") if self.allows(claims.token_id, door, at) else (False, "not_in_scope")

    def swipe(self, credential: str, door: str, direction: str = "entry", serial_no: str | None = None,
              at: datetime | None = None) -> tuple[bytes, dict]:
        """A swipe decided locally, as the signed request reporting it (body, headers) for the platform."""
        at = at or datetime.now(timezone.utc)
        return self.signed(PASSED_TYPE, {
            "serial_no": serial_no or uuid.uuid4().hex, "credential": credential, "door": door,
            "direction": direction, "outcome": "granted" if self.allows(credential, door, at) else "denied",
            "occurred_at": at.isoformat()})

    def acknowledge_pending(self) -> tuple[bytes, dict]:
        """The late acknowledgement of every change answered with 202, as a signed request."""
        with self.lock:
            ids, self.pending_acks = self.pending_acks, []
        return self.signed(ACKNOWLEDGED_TYPE, {"change_ids": ids})

    def signed(self, event_type: str, data: dict, at: datetime | None = None) -> tuple[bytes, dict]:
        at = at or datetime.now(timezone.utc)
        message_id = str(uuid.uuid4())
        body = json.dumps({"specversion": "1.0", "id": message_id, "source": "/reference-controller",
                           "type": event_type, "time": at.isoformat(), "datacontenttype": "application/json",
                           "data": data}).encode()
        headers = {"Content-Type": "application/cloudevents+json", "webhook-id": message_id,
                   "webhook-timestamp": str(int(at.timestamp())),
                   "webhook-signature": Webhook(self.secret).sign(message_id, at, body.decode())}
        return body, headers

    def revoked_at(self, credential: str) -> float | None:
        """When (monotonic) the controller applied the latest revocation of this credential."""
        with self.lock:
            return next((at for at, event in reversed(self.applied)
                         if event["type"] == "psp.access.revoke.v1" and event["data"]["credential"] == credential),
                        None)


def _follow_revocations(controller: ReferenceController, platform: str, token: str) -> None:
    try:
        fresh = controller.fetch_revocations(platform, {"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as failed:
        print(f"revocation list not fetched: {failed}", flush=True)
        return
    if fresh:
        print(f"revocation list version {controller.revocations_version}: {fresh} more tokens revoked", flush=True)


def main() -> None:
    """Serve a reference controller by hand (the `make run` demo's), printing what it is told."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--secret", required=True, help="the system's webhook secret (whsec_…)")
    parser.add_argument("--platform", default="", help="access's API, e.g. http://127.0.0.1:8004: its revocation "
                                                       f"list is fetched every {REVOCATIONS_EVERY:.0f} s")
    parser.add_argument("--token", default="", help="a bearer token for access's API")
    arguments = parser.parse_args()
    controller = ReferenceController(secret=arguments.secret)
    controller.start(arguments.port)
    print(f"reference controller on {controller.url}; Ctrl-C stops it", flush=True)
    seen, fetched_at = 0, 0.0
    try:
        while True:
            time.sleep(0.5)
            if arguments.platform and time.monotonic() - fetched_at >= REVOCATIONS_EVERY:
                fetched_at = time.monotonic()
                _follow_revocations(controller, arguments.platform, arguments.token)
            with controller.lock:
                fresh, seen = controller.applied[seen:], len(controller.applied)
            for _, event in fresh:
                print(f"{event['type']}: {event['data']['credential']} doors {event['data'].get('doors', [])}",
                      flush=True)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
