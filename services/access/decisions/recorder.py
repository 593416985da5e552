"""Decisions are written off the request path, in batches, without losing any.

A decision is put on a bounded in-process queue and a background thread writes what has gathered in one
multi-row INSERT, every `interval` seconds or sooner when `batch` are waiting. A full queue makes the request
wait for room (back-pressure), never drops a decision. On exit the queue is written out; a process killed
outright (SIGKILL, power loss) loses at most the decisions of its last interval, which the readers' own
entry events also hold.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time

from sqlalchemy import Engine

from sqlalchemy.orm import Session

from services.access.decisions.tables import Decision
from shared import bulk

log = logging.getLogger(__name__)


class DecisionRecorder:
    def __init__(self, engine: Engine, *, capacity: int = 20000, batch: int = 500, interval: float = 0.05):
        self.engine = engine
        self.batch = batch
        self.interval = interval
        self._queue: queue.Queue[dict] = queue.Queue(maxsize=capacity)
        self._writer: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        atexit.register(self.flush)

    def record(self, decision: dict) -> None:
        self._ensure_writer()
        self._queue.put(decision)

    def flush(self) -> None:
        """Return once every decision recorded so far is written, by this thread or the writer."""
        while rows := self._take(self.batch):
            self._write(rows)
            self._done(rows)
        self._queue.join()

    def _ensure_writer(self) -> None:
        # gunicorn forks workers: a thread started before the fork does not run in the child.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._writer = threading.Thread(target=self._run, name="decision-recorder", daemon=True)
                    self._writer.start()
                    self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get()
            except Exception:  # interpreter shutting down
                return
            rows = [first, *self._take(self.batch - 1, until=time.monotonic() + self.interval)]
            try:
                self._write(rows)
            except Exception:
                log.exception("decisions could not be written; retrying")
                self._requeue(rows)
            self._done(rows)

    def _take(self, most: int, until: float = 0.0) -> list[dict]:
        """Up to `most` queued decisions, waiting for more until `until` (monotonic) at the latest."""
        rows = []
        while len(rows) < most:
            left = until - time.monotonic()
            try:
                rows.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _requeue(self, rows: list[dict]) -> None:
        threading.Event().wait(1)
        for row in rows:
            self._queue.put(row)

    def _done(self, rows: list[dict]) -> None:
        for _ in rows:
            self._queue.task_done()

    def _write(self, rows: list[dict]) -> None:
        with Session(self.engine) as session, session.begin():
            bulk.insert(session, Decision.__table__, rows)
