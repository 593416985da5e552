"""Liveness and readiness. Liveness is the process alone; readiness asks the database and the broker.

The API process reports the broker but stays ready without it: the outbox lets writes succeed while the
broker is down, and taking every API pod out of service would turn a broker outage into a full one. The
worker cannot do its job without the broker, so for it the broker decides readiness too.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from shared import db, metrics
from shared.bus.connection import connect
from shared.config import Settings

BROKER_CHECK_SECONDS = 5.0


class Readiness:
    def __init__(self, service: str, process: str, engine: Engine, settings: Settings, broker_required: bool):
        self.service = service
        self.process = process
        self.engine = engine
        self.settings = settings
        self.broker_required = broker_required
        self._broker = (0.0, False, "")
        self._lock = threading.Lock()

    def check(self) -> dict:
        database_ok, database_error = _attempt(lambda: db.ping(self.engine))
        broker_ok, broker_error = self._broker_status()
        ready = database_ok and (broker_ok or not self.broker_required)
        metrics.set_ready(self.service, self.process, ready)
        return {
            "ready": ready,
            "checks": {
                "database": {"ok": database_ok, "error": database_error},
                "broker": {"ok": broker_ok, "error": broker_error, "required": self.broker_required},
            },
        }

    def _broker_status(self) -> tuple[bool, str]:
        """Cached for a few seconds: probes come often and a broker handshake is not free."""
        with self._lock:
            checked_at, ok, error = self._broker
            if time.monotonic() - checked_at > BROKER_CHECK_SECONDS:
                ok, error = _attempt(self._ping_broker)
                self._broker = (time.monotonic(), ok, error)
            return ok, error

    def _ping_broker(self) -> None:
        with connect(self.settings) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)


def _attempt(check) -> tuple[bool, str]:
    try:
        check()
        return True, ""
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        return False, f"{type(exc).__name__}: {exc}"[:300]
