"""The HTTP benchmarks' side of the apps: each started as production starts an API, and loaded with
`bench.http_load`, a phase failing on any answer other than the expected one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench import http_load
from bench.infra import ROOT, exact_quantile, free_port, progress

# A bound on a flat-out phase's requests besides its time: far above what one machine answers in it.
MOST_PER_PHASE = 200_000


@contextmanager
def gunicorn_logs(prefix: str) -> Iterator[Path]:
    """A folder for the apps' logs: removed after a run that succeeded, kept and named after one that failed."""
    logs = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield logs
    except BaseException:
        progress(f"gunicorn logs kept in {logs}")
        raise
    shutil.rmtree(logs, ignore_errors=True)


def api_env(service: str, database_url: str, secret: str, logs: Path) -> dict[str, str]:
    """The environment a service's API and the hello-world app start with: this one's, on the given database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({f"{service.upper()}_DATABASE_URL": database_url, "AUTH_JWT_SECRET": secret, "PSP_VAR_DIR": str(logs)})
    return env


class Gunicorn:
    """`gunicorn -c python:shared.gunicorn_conf APP`, bound to the loopback, its log kept in a file."""

    def __init__(self, name: str, app: str, env: dict[str, str], logs: Path):
        self.name, self.port, self.log_path = name, free_port(), logs / f"{name}-gunicorn.log"
        metrics = logs / f"{name}-metrics"
        metrics.mkdir()
        self.command = [sys.executable, "-m", "gunicorn", "-c", "python:shared.gunicorn_conf",
                        "--bind", f"127.0.0.1:{self.port}", app]
        self.env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}

    def __enter__(self) -> "Gunicorn":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start; see {self.log_path}") from None
                time.sleep(0.1)

    def __exit__(self, *_) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def flat_out(what: str, port: int, requests: Sequence[bytes], clients: int, seconds: float, expected: int = 200):
    outcome = http_load.flat_out(port, requests, clients=clients, seconds=seconds, most=MOST_PER_PHASE)
    refuse_failures(what, outcome, expected)
    progress(f"  {what}: {outcome.rate:.0f} requests/s flat out ({outcome.answered} in {outcome.seconds:.1f} s)")
    return outcome


def paced(what: str, port: int, requests: Sequence[bytes], rate: float, seconds: float, expected: int = 200):
    outcome = http_load.paced(port, requests, rate=rate, seconds=seconds)
    refuse_failures(what, outcome, expected)
    ms = [1000 * exact_quantile(q, outcome.latencies) for q in (0.5, 0.99)]
    progress(f"  {what} at {rate:.0f} requests/s: p50 {ms[0]:.1f} ms, p99 {ms[1]:.1f} ms, "
             f"max {1000 * max(outcome.latencies):.0f} ms")
    return outcome


def refuse_failures(what: str, outcome, expected: int = 200) -> None:
    failed = {status: n for status, n in outcome.statuses.items() if status != expected}
    if failed:
        raise RuntimeError(f"{what}: answers other than {expected}: {failed}")
