"""Throwaway infrastructure for a benchmark run: a RabbitMQ vhost, PostgreSQL databases, worker processes.

Everything is created fresh and removed afterwards, so a run neither sees nor leaves state behind, and
the workers are the real `python -m shared.cli worker` processes, configured only through the environment
as in production.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from shared import migrations
from shared.service import load
from tests.support import scratch

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used (user + system, all cores): broker and database
    included, so a phase's difference divided by its messages is the whole path's cost per message."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system = (int(v) for v in fields[:3])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(workers: list["WorkerProcess"]) -> dict[str, float]:
    """CPU seconds so far of each worker, of PostgreSQL's and RabbitMQ's processes, and of the rest (writers,
    this process, the kernel's threads, other daemons): where a phase's machine CPU went."""
    ticks = os.sysconf("SC_CLK_TCK")
    own = {worker.process.pid: f"{worker.service} worker" for worker in workers}
    used = dict.fromkeys([*own.values(), "postgresql", "rabbitmq"], 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:
            continue  # the process ended while we looked
        name, fields = rest.rsplit(") ", 1)
        utime, stime = (int(v) for v in fields.split()[11:13])
        group = own.get(int(pid)) or {"postgres": "postgresql", "beam.smp": "rabbitmq"}.get(name)
        if group:
            used[group] += (utime + stime) / ticks
    used["the rest"] = machine_cpu_seconds() - sum(used.values())
    return used


@contextmanager
def vhost():
    """A vhost of its own, so queue depths and bindings are the benchmark's alone."""
    with scratch.vhost(f"psp_bench_{secrets.token_hex(4)}") as url:
        yield url


@contextmanager
def databases(services: list[str]):
    """A fresh, migrated database per service: name -> SQLAlchemy URL."""
    run = secrets.token_hex(4)
    with scratch.databases() as create:
        urls = {service: create(f"psp_bench_{run}_{service}") for service in services}
        for service, url in urls.items():
            migrations.upgrade(load(service), url)
        yield urls


def flush_to_disk() -> float:
    """Write out the page cache the earlier phases left dirty; answers the seconds it took.

    The kernel writes a dirty page back once it is 30 s old, and on ext4 every fsync meanwhile waits for
    that writeback: here the flat-out phases' 90 MB or so went out at once, some 30 s after they ran, and
    held every commit on the machine for 100-200 ms in the middle of the latency phase. No CHECKPOINT:
    after one, the first change to each page writes the whole page to the WAL, which would weigh on that
    phase's commits instead.
    """
    started = time.monotonic()
    os.sync()
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    """One `python -m shared.cli worker <service>` process, its log kept in a file rather than our stderr."""

    def __init__(self, service: str, env: dict[str, str], log_dir: Path):
        self.service = service
        self.port = free_port()
        self.log_path = log_dir / f"{service}-worker.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "worker", service],
                env={**env, "WORKER_PORT": str(self.port)}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read()
        except OSError as exc:
            return getattr(exc, "code", 0) or 0, b""

    def wait_ready(self, timeout: float = 60) -> float:
        """Answers when /readyz first said ready: within milliseconds of the relay and consumer starting."""
        deadline = time.monotonic() + timeout
        while self.get("/readyz")[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.service} worker did not become ready; see {self.log_path}")
            time.sleep(0.05)
        return time.time()

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """Every sample on /metrics: (name, sorted labels) -> value."""
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"{self.service} worker /metrics answered {status}")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    def problems(self) -> Counter:
        """Warnings and errors the worker logged, by message and final exception line."""
        found: Counter = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") not in ("DEBUG", "INFO"):
                cause = (record.get("exc_info") or "").strip().splitlines()[-1:] or [""]
                found[f"{record.get('message', '')} {cause[0][:160]}".strip()] += 1
        return found

    def stop(self) -> None:
        """SIGTERM lets the worker finish the batch in hand, as a rolling deploy would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class FsyncProbe:
    """Writes a page and fdatasyncs it every `every` seconds on the disk PostgreSQL and RabbitMQ share (one
    root filesystem here), so a phase's latency can be read beside what the disk itself did meanwhile: every
    durable commit waits for such a flush, and writeback of other files stalls them all at once."""

    def __init__(self, directory: Path, every: float = 0.02):
        self.path, self.every = directory / "fsync-probe", every
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-probe", daemon=True)

    def __enter__(self) -> "FsyncProbe":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            page, slot = b"\0" * 8192, 0
            while not self._stop.wait(self.every):
                os.pwrite(fd, page, slot * len(page))
                slot = (slot + 1) % 256
                started = time.perf_counter()
                os.fdatasync(fd)
                self.latencies.append(time.perf_counter() - started)
        finally:
            os.close(fd)

    def summary(self) -> str:
        stalls = [t for t in self.latencies if t > 0.05]
        return (f"{len(self.latencies)} fsyncs, p50 {1000 * exact_quantile(0.5, self.latencies):.1f} ms, "
                f"p99 {1000 * exact_quantile(0.99, self.latencies):.1f} ms, max {1000 * max(self.latencies):.0f} ms; "
                f"{len(stalls)} over 50 ms, {1000 * sum(stalls):.0f} ms in all") if self.latencies else "no fsyncs"


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' estimate from cumulative (upper bound, count) buckets: linear within the bucket.

    The same estimator serves the chassis histogram and the raw baseline's samples, so both latency
    figures carry the same bucket error.
    """
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def bucketize(samples: list[float], bounds: tuple[float, ...]) -> list[tuple[float, float]]:
    """Cumulative buckets of raw samples, as a Prometheus histogram with these bounds would hold them."""
    ordered = sorted(samples)
    cumulative, i = [], 0
    for bound in (*bounds, float("inf")):
        while i < len(ordered) and ordered[i] <= bound:
            i += 1
        cumulative.append((bound, float(i)))
    return cumulative


def exact_quantile(q: float, samples: list[float]) -> float | None:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None
