"""Real protocol peers for notifications' channels: an SMTP server (aiosmtpd) and an HTTP server playing an
SMS gateway that answers as told and posts signed delivery reports back."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
import time
import urllib.request
import uuid
from collections import deque
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO

from services.notifications.delivery.channels import sign


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Collector:
    """aiosmtpd handler: keeps every message accepted; refuses recipients listed in `refused` with 550."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, controller: Controller, collector: _Collector):
        self.controller, self.collector = controller, collector
        self.url = f"smtp://127.0.0.1:{controller.port}"

    @property
    def messages(self) -> list:
        with self.collector.lock:
            return list(self.collector.messages)

    def refuse(self, address: str) -> None:
        self.collector.refused.add(address)


@contextmanager
def mail_server():
    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield MailServer(controller, collector)
    finally:
        controller.stop()


class SmsGateway:
    """Takes texts over HTTP; answers each with the next status in `answers` (200 once they run out) and
    keeps the accepted ones. `report` posts a signed delivery report to the callback URL a text named.
    It keeps every request as received, so it serves as a webhook endpoint too."""

    def __init__(self, secret: str):
        self.secret = secret
        self.texts: list[dict] = []
        self.requests: list[tuple[dict, bytes]] = []
        self.answers: deque[int] = deque()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/texts"
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append((dict(self.headers), body))
                status = gateway.answers.popleft() if gateway.answers else 200
                answer = b"{}"
                if status == 200:
                    text = json.loads(body)
                    text["id"] = f"gw-{uuid.uuid4().hex[:12]}"
                    gateway.texts.append(text)
                    answer = json.dumps({"id": text["id"]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def signed_report(self, reference: str, status: str, reason: str = "") -> tuple[bytes, dict]:
        body = json.dumps({"reference": reference, "status": status, "reason": reason}).encode()
        report_id, stamp = f"dr-{uuid.uuid4().hex}", str(int(time.time()))
        return body, {"Content-Type": "application/json", "webhook-id": report_id, "webhook-timestamp": stamp,
                      "webhook-signature": sign(self.secret, report_id, stamp, body)}

    def report(self, text: dict, status: str, reason: str = "") -> int:
        """Post the report to the callback URL the text named, as a gateway does."""
        body, headers = self.signed_report(text["reference"], status, reason)
        request = urllib.request.Request(text["callback_url"], data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status


@contextmanager
def sms_gateway(secret: str = "gateway-secret"):
    gateway = SmsGateway(secret)
    try:
        yield gateway
    finally:
        gateway.close()
