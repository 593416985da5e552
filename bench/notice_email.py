"""The notice benchmark: a building notice to BENCH_NOTICE_OCCUPANTS (20,000) occupants by e-mail, every
message accepted by a local SMTP server (aiosmtpd, in a process of its own), against a raw `smtplib` loop
sending as many e-mails to the same server in the same run.

1. Load: one building's occupants in notifications' read model on PostgreSQL, as occupants' events leave
   it, each wanting e-mail; quiet hours off for the organization.
2. Baseline: one `smtplib` connection sending the same number of e-mails, built as the sender builds them
   (`channels.mail_bytes`), one after another.
3. The notice is written and scheduled; the real notifications worker process (notices job, then the
   sender job) resolves the audience, renders and queues one message per occupant, and sends them. The
   time runs from the schedule's commit to the last e-mail the server accepted.
4. Every occupant must have exactly one e-mail (counted by Message-ID at the server), and every message
   must be `sent` afterwards.

`python -m bench.notice_email sink PORT FILE` is the SMTP server: it appends one line per accepted e-mail
(time, Message-ID, X-Correlation-ID) to FILE; the escalation benchmark uses it too.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, select

from bench.infra import ROOT, WorkerProcess, databases, free_port, progress, vhost
from services.notifications.delivery import rules as delivery
from services.notifications.delivery.channels import mail_bytes
from services.notifications.delivery.tables import Message
from services.notifications.models import Recipient, chassis
from services.notifications.notices import rules as notices
from services.notifications.recipients.tables import Occupancy, Site, Unit
from shared import bulk, db, policy

MUST_BE_ZERO = ("notice_email_lost_or_duplicated",)
_HEADER = re.compile(rb"^(Message-ID|X-Correlation-ID): *(.*?)\r?$", re.MULTILINE | re.IGNORECASE)


class Sink:
    """The SMTP server process and what it accepted so far."""

    def __init__(self, directory: Path):
        self.port, self.path = free_port(), directory / "accepted.log"
        self.path.touch()
        self.process = subprocess.Popen([sys.executable, "-m", "bench.notice_email", "sink", str(self.port),
                                         str(self.path)], cwd=ROOT)
        deadline = time.monotonic() + 30
        while True:
            try:
                smtplib.SMTP("127.0.0.1", self.port, timeout=2).quit()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the SMTP sink did not start")
                time.sleep(0.1)
        self.url = f"smtp://127.0.0.1:{self.port}"

    def accepted(self) -> list[tuple[float, str, str]]:
        lines = self.path.read_text().splitlines()
        return [(float(at), message_id, correlation) for at, message_id, correlation in
                (line.split("\t") for line in lines if line.count("\t") == 2)]

    def count(self) -> int:
        return self.path.read_bytes().count(b"\n")

    def wait_for(self, count: int, timeout: float) -> float:
        """Answers when the server had accepted `count` e-mails (its clock)."""
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server accepted {self.count()} of {count} e-mails in {timeout:.0f} s")
            time.sleep(0.05)
        return max(at for at, _, _ in self.accepted())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def serve(port: int, path: str) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    class Recorder:
        def __init__(self):
            self.out = open(path, "a", buffering=1)

        async def handle_DATA(self, server, session, envelope):
            headers = {name.lower(): value.decode() for name, value in _HEADER.findall(
                envelope.content.split(b"\r\n\r\n", 1)[0])}
            self.out.write(f"{time.time():.6f}\t{headers.get(b'message-id', '')}\t"
                           f"{headers.get(b'x-correlation-id', '')}\n")
            return "250 Message accepted for delivery"

    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


def run(occupants: int) -> list[dict]:
    logs = Path(tempfile.mkdtemp(prefix="psp-bench-notice-"))
    sink = Sink(logs)
    try:
        with vhost() as bus_url, databases(["notifications"]) as urls:
            figures = _run(logs, sink, urls["notifications"], bus_url, occupants)
    except BaseException:
        progress(f"worker logs kept in {logs}")
        raise
    finally:
        sink.stop()
    shutil.rmtree(logs, ignore_errors=True)
    return figures


def _run(logs: Path, sink: Sink, url: str, bus_url: str, occupants: int) -> list[dict]:
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    organization_id, site_id, building_id = (str(uuid.uuid4()) for _ in range(3))
    _seed(sessions, organization_id, site_id, building_id, occupants)

    progress(f"notice_email: raw smtplib loop, {occupants} e-mails")
    started = time.time()
    _raw_loop(sink.port, occupants)
    raw_seconds = sink.wait_for(occupants, 600) - started

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(NOTIFICATIONS_DATABASE_URL=url, SMTP_URL=sink.url, PSP_VAR_DIR=str(logs), BUS_URL=bus_url,
               AUTH_JWT_SECRET=secrets.token_urlsafe(32))
    worker = WorkerProcess("notifications", env, logs)
    try:
        worker.wait_ready()
        progress(f"notice_email: a building notice to {occupants} occupants through the notifications worker")
        with sessions() as session, session.begin():
            notice = notices.create(session, organization_id, site_id=site_id,
                                    target={"scope": "building", "site_id": site_id, "building_id": building_id},
                                    texts={"zh-CN": {"title": "停水通知", "body": "明天9:00–12:00本楼停水。"}},
                                    category="notices", expires_at=None, actor="bench")
            notices.take(session, notice, "schedule", actor="bench")
        started = time.time()
        ours_seconds = sink.wait_for(2 * occupants, 900) - started
        problems = worker.problems()
    finally:
        worker.stop()
    ours = [message_id for _, message_id, _ in sink.accepted()[occupants:]]
    with sessions() as session:
        statuses = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        known = set(session.scalars(select(Message.id)))
    engine.dispose()
    mailed = Counter(message_id.strip("<>").split("@")[0] for message_id in ours)
    lost = len(known - set(mailed)) + (occupants - len(known))
    duplicated = sum(count - 1 for count in mailed.values() if count > 1)
    if problems:
        progress(f"  worker problems: {dict(problems)}")
    ratio = (occupants / ours_seconds) / (occupants / raw_seconds)
    progress(f"  raw smtplib {occupants / raw_seconds:.0f}/s ({raw_seconds:.1f} s), "
             f"notice {occupants / ours_seconds:.0f}/s ({ours_seconds:.1f} s): ratio {ratio:.2f}; "
             f"statuses {statuses}; lost {lost}, duplicated {duplicated}")
    return [
        {"bench": "notice_email", "value": round(ratio, 3), "unit": "ratio", "target": ">= 0.5",
         "emails": occupants, "notice_per_s": round(occupants / ours_seconds, 1),
         "raw_smtplib_per_s": round(occupants / raw_seconds, 1), "statuses": statuses},
        {"bench": "notice_email_lost_or_duplicated", "value": lost + duplicated, "unit": "e-mails", "target": "0"},
    ]


def _seed(sessions, organization_id: str, site_id: str, building_id: str, occupants: int) -> None:
    now = datetime.now(timezone.utc)
    people = [str(uuid.uuid4()) for _ in range(occupants)]
    units = [str(uuid.uuid4()) for _ in range(occupants)]
    with sessions() as session, session.begin():
        session.add(Site(site_id=site_id, organization_id=organization_id, name="Bench Court",
                         time_zone="Asia/Shanghai", updated_at=now))
        bulk.insert(session, Unit.__table__, [
            {"unit_id": unit, "organization_id": organization_id, "site_id": site_id, "building_id": building_id,
             "floor": 1 + n // 100, "number": f"{n:05d}", "kind": "residence", "updated_at": now}
            for n, unit in enumerate(units)])
        bulk.insert(session, Recipient.__table__, [
            {"person_id": person, "organization_id": organization_id, "full_name": f"住户{n}", "phone": "",
             "email": f"occupant{n}@example.cn", "language": "zh-CN", "channels": ["email"], "site_id": site_id,
             "birthday": None, "updated_at": now} for n, person in enumerate(people)])
        bulk.insert(session, Occupancy.__table__, [
            {"occupancy_id": str(uuid.uuid4()), "organization_id": organization_id, "site_id": site_id,
             "unit_id": unit, "person_id": person, "role": "owner", "notice_channels": [], "active": True,
             "updated_at": now} for unit, person in zip(units, people)])
        policy.override(session, chassis, organization_id=organization_id, site_id=None,
                        setting=delivery.QUIET_HOURS, new_value=[], actor="bench")


def _raw_loop(port: int, count: int) -> None:
    client = smtplib.SMTP("127.0.0.1", port)
    try:
        for n in range(count):
            message = SimpleNamespace(id=str(uuid.uuid4()), address=f"occupant{n}@example.cn", subject="停水通知",
                                      body=f"住户{n}，您好：\n明天9:00–12:00本楼停水。", correlation_id="", trace_headers={})
            client.sendmail("notices@psp.local", [message.address], mail_bytes("notices@psp.local", message))
    finally:
        client.quit()


if __name__ == "__main__" and sys.argv[1:2] == ["sink"]:
    serve(int(sys.argv[2]), sys.argv[3])
