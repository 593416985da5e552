"""The bus benchmark: occupants' person.registered.v1 through the whole chassis path into ticketing.

write (person + outbox row, one transaction) -> relay (confirms) -> RabbitMQ -> ticketing consumer
(inbox row + reporter upsert, one transaction) -> ack, on PostgreSQL and RabbitMQ, measured against raw
kombu on the same broker in the same run. Writers and workers are separate processes, as in production.

1. Drain: N events are written while only the ticketing worker runs, then the occupants worker starts;
   N / (relay start -> last handled) is what the bus itself moves, with no write load beside it.
2. Throughput: N more events written by concurrent writer processes while both workers run;
   N / (first write -> last handled). This is the headline figure, as a fraction of raw kombu's msgs/s.
3. Latency: writers paced at half the headline rate for M events; p99 of the chassis' own publish->handled
   histogram (`bus_event_latency_seconds` on the ticketing worker's /metrics), against raw kombu paced at
   the same rate and read through the same bucket estimator (linear within a bucket, as Prometheus'
   histogram_quantile; 50 ms is a bucket bound, so the verdict against the target is exact). Beside it,
   write->handled from the rows' own timestamps (outbox created_at, inbox handled_at; one machine, one
   clock): what a user waits, and it sees relay stalls that the histogram cannot, since a republished
   event carries a fresh publish time.
4. Correctness over all 2N + M events: every event has exactly one inbox row and one reporter, and the
   consumer applied no effect twice (its `handled` count equals the distinct events handled).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from kombu import Connection, Queue
from sqlalchemy import create_engine, text

from bench import raw
from bench.infra import (
    WorkerProcess,
    bucketize,
    databases,
    exact_quantile,
    histogram_quantile,
    progress,
    vhost,
)
from shared import db
from shared.config import Settings
from shared.metrics import LATENCY_BUCKETS

MUST_BE_ZERO = ("bus_lost_events", "bus_duplicated_effects")
STALL_SECONDS = 60


def run(events: int) -> list[dict]:
    paced = int(os.environ.get("BENCH_PACED_EVENTS", min(5000, max(1, events // 4))))
    writers = int(os.environ.get("BENCH_WRITERS", "3"))
    logs = Path(tempfile.mkdtemp(prefix="psp-bench-"))
    drained = throughput = p99 = raw_p99 = write_p99 = None
    with vhost() as bus_url, databases(["occupants", "ticketing"]) as urls:
        size = _envelope_size()
        progress(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; raw kombu: {events} "
                 f"messages of {size} bytes")
        raw_rate, _ = raw.run(bus_url, events, size)
        progress(f"raw kombu: {raw_rate:.0f} msgs/s")

        chassis = Settings()
        progress(f"chassis settings: BUS_BATCH_SIZE={chassis.bus_batch_size} BUS_PREFETCH={chassis.bus_prefetch} "
                 f"OUTBOX_POLL_SECONDS={chassis.outbox_poll_seconds}")
        url, env = urls["occupants"], _worker_env(bus_url, urls, logs)
        occupants, ticketing = create_engine(url), create_engine(urls["ticketing"])
        site_id = _seed_site(url)
        workers = [WorkerProcess("ticketing", env, logs)]
        try:
            workers[0].wait_ready()
            _wait_consuming(bus_url, "ticketing.inbox")

            # Each phase runs only if the one before completed: a stuck path has no rate to measure or halve.
            progress(f"drain: {events} events written by {writers} writers before the relay starts")
            started, written = _write(url, site_id, 0, events, writers, rate=None)
            progress(f"drain: written at {events / (written - started):.0f} events/s")
            workers.append(WorkerProcess("occupants", env, logs))
            relay_started = workers[1].wait_ready()
            if _wait_handled(ticketing, events):
                drained = events / (_last_handled(ticketing) - relay_started)
                progress(f"drain: {drained:.0f} events/s")

                progress(f"throughput: {events} events from {writers} writers, flat out, relay running")
                started, written = _write(url, site_id, events, events, writers, rate=None)
                progress(f"throughput: written at {events / (written - started):.0f} events/s")
                if _wait_handled(ticketing, 2 * events):
                    throughput = events / (_last_handled(ticketing) - started)
                    progress(f"throughput: {throughput:.0f} events/s")

            if throughput:
                rate, before = throughput / 2, workers[0].metrics()
                progress(f"latency: {paced} events at {rate:.0f} events/s")
                _write(url, site_id, 2 * events, paced, writers, rate=rate)
                if _wait_handled(ticketing, 2 * events + paced):
                    p99 = histogram_quantile(0.99, _latency_buckets(workers[0].metrics(), before))
                    write_p99 = _write_to_handled_p99(occupants, ticketing, 2 * events)
            lost, duplicated = _verify(occupants, ticketing, workers[0].metrics())
        finally:
            for worker in workers:
                worker.stop()
                for problem, times in worker.problems().most_common(5):
                    progress(f"{worker.service} worker logged {times}x: {problem}")
            occupants.dispose()
            ticketing.dispose()

        if p99 is not None:
            progress(f"raw kombu: {paced} messages at {rate:.0f} msgs/s")
            _, raw_latencies = raw.run(bus_url, paced, size, rate=rate)
            raw_p99 = histogram_quantile(0.99, bucketize(raw_latencies, LATENCY_BUCKETS))
            progress(f"raw kombu p99: {_ms(raw_p99)} ms estimated, {_ms(exact_quantile(0.99, raw_latencies))} ms exact")

    progress(f"load average {os.getloadavg()[0]:.2f} at the end")
    if lost or duplicated:
        progress(f"worker logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return [
        _figure("bus_throughput", throughput, "events/s", raw_rate, ">= 0.5"),
        _figure("bus_drain_throughput", drained, "events/s", raw_rate, None),
        _figure("bus_p99_latency_at_half_max", _ms(p99), "ms", _ms(raw_p99), "<= 50"),
        _figure("bus_p99_write_to_handled_at_half_max", _ms(write_p99), "ms", None, None),
        {"bench": "bus_lost_events", "value": lost, "unit": "events", "baseline": 0, "ratio": None,
         "target": "== 0"},
        {"bench": "bus_duplicated_effects", "value": duplicated, "unit": "events", "baseline": 0, "ratio": None,
         "target": "== 0"},
    ]


def _figure(name: str, value, unit: str, baseline, target: str | None) -> dict:
    ratio = round(value / baseline, 3) if value is not None and baseline else None
    return {"bench": name, "value": _round(value), "unit": unit, "baseline": _round(baseline), "ratio": ratio,
            "target": target}


def _round(value):
    return None if value is None else round(value, 1)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# -- setup --------------------------------------------------------------------------------------------------


def _envelope_size() -> int:
    """Bytes of a real person.registered.v1 envelope, so the raw baseline moves the same payload."""
    from psp.occupants.v1.events_pb2 import PersonRegistered

    from shared.bus.envelope import new_envelope

    payload = PersonRegistered(person_id=str(uuid.uuid4()), kind="individual", full_name="Bench Person 00001",
                               phone="+86 138 00000001", preferred_language="zh-CN", preferred_channels=["sms"],
                               site_id=str(uuid.uuid4()))
    return len(new_envelope(payload, organization_id=str(uuid.uuid4())).SerializeToString())


def _seed_site(url: str) -> str:
    from services.occupants.domain import create_site

    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        site_id = create_site(session, str(uuid.uuid4()), code="BENCH", name="Bench site").id
    engine.dispose()
    return site_id


def _worker_env(bus_url: str, urls: dict[str, str], var_dir: Path) -> dict[str, str]:
    """The production configuration, pointed at this run's vhost and databases; BUS_* tuning passes through."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(BUS_URL=bus_url, OCCUPANTS_DATABASE_URL=urls["occupants"], TICKETING_DATABASE_URL=urls["ticketing"],
               AUTH_JWT_SECRET=secrets.token_urlsafe(32), PSP_VAR_DIR=str(var_dir))
    return env


def _wait_consuming(bus_url: str, queue: str, timeout: float = 60) -> None:
    """The relay's first publish must find the inbox bound, or it would be returned as unroutable."""
    deadline = time.monotonic() + timeout
    with Connection(bus_url) as connection:
        while time.monotonic() < deadline:
            try:
                _, _, consumers = Queue(queue)(connection.channel()).queue_declare(passive=True)
                if consumers:
                    return
            except Exception:  # noqa: BLE001 - not declared yet; the channel is closed by the error
                pass
            time.sleep(0.2)
    raise RuntimeError(f"no consumer on {queue}")


# -- writing ------------------------------------------------------------------------------------------------


def _writer(url: str, site_id: str, indices: range, first: int, rate: float | None, ready, go, start_at,
            done) -> None:
    """Register one person per transaction through the domain function, as the API does per request."""
    from services.occupants.domain import register_person
    from services.occupants.models import Site

    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions() as session:
            site = session.get(Site, site_id)
        ready.release()
        go.wait()
        for k in indices:
            if rate:
                delay = start_at.value + (k - first) / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            with sessions() as session, session.begin():
                register_person(session, site, registered_by="bench", kind="individual",
                                full_name=f"Bench Person {k:05d}", phone=f"+86 138 {k:08d}")
        done.put(time.time())
    except BaseException:
        ready.release()
        done.put(None)
        raise
    finally:
        engine.dispose()


def _write(url: str, site_id: str, first: int, count: int, writers: int, rate: float | None) -> tuple[float, float]:
    """Write events first..first+count across processes (paced at `rate`/s overall, or flat out).

    Answers (time of the first write, time the last writer finished). The writers load their imports and
    connections before the clock starts, so start-up is not counted as bus time.
    """
    context = multiprocessing.get_context("spawn")
    ready, go, done = context.Semaphore(0), context.Event(), context.Queue()
    start_at = context.Value("d", 0.0)
    processes = [
        context.Process(target=_writer, daemon=True,
                        args=(url, site_id, range(first + i, first + count, writers), first, rate, ready, go,
                              start_at, done))
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    start_at.value = time.time()
    go.set()
    finished = [done.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(10)
    if None in finished:
        raise RuntimeError("a writer failed; its traceback is above")
    return start_at.value, max(finished)


# -- observing ----------------------------------------------------------------------------------------------


def _count(engine, sql: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def _wait_handled(ticketing, total: int) -> bool:
    """Until the inbox holds `total` rows (True), or nothing has moved for STALL_SECONDS (False)."""
    seen, moved = -1, time.monotonic()
    while (handled := _count(ticketing, "SELECT count(*) FROM inbox")) < total:
        if handled != seen:
            seen, moved = handled, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            progress(f"stalled at {handled} of {total} handled")
            return False
        time.sleep(0.05)
    return True


def _last_handled(ticketing) -> float:
    """When the last event was handled, by the consumer's own clock (this machine's)."""
    with ticketing.connect() as connection:
        return float(connection.execute(text("SELECT extract(epoch FROM max(handled_at)) FROM inbox")).scalar_one())


def _latency_buckets(after: dict, before: dict) -> list[tuple[float, float]]:
    """Ticketing's publish->handled histogram over the paced phase only (the difference of two scrapes)."""
    buckets: dict[float, float] = defaultdict(float)
    for key, value in after.items():
        name, labels = key
        labels = dict(labels)
        if name == "bus_event_latency_seconds_bucket" and labels.get("service") == "ticketing":
            buckets[float(labels["le"])] += value - before.get(key, 0.0)
    return list(buckets.items())


def _write_to_handled_p99(occupants, ticketing, skip: int) -> float | None:
    """Write -> handled of the events after the first `skip`, exact, from the rows' timestamps."""
    with occupants.connect() as connection:
        created = dict(connection.execute(text(
            "SELECT event_id, extract(epoch FROM created_at) FROM outbox ORDER BY id OFFSET :skip"), {"skip": skip}
        ).all())
    with ticketing.connect() as connection:
        handled = dict(connection.execute(text("SELECT message_id, extract(epoch FROM handled_at) FROM inbox")).all())
    latencies = [float(handled[i]) - float(at) for i, at in created.items() if i in handled]
    progress(f"latency: write->handled p50 {_ms(exact_quantile(0.5, latencies))} ms, "
             f"p99 {_ms(exact_quantile(0.99, latencies))} ms, max {_ms(max(latencies, default=None))} ms")
    return exact_quantile(0.99, latencies)


def _verify(occupants, ticketing, metrics: dict) -> tuple[int, int]:
    """Lost: events without their inbox row or their reporter. Duplicated: effects applied more than once."""
    with occupants.connect() as connection:
        events = set(connection.execute(text("SELECT event_id FROM outbox")).scalars())
        persons = set(connection.execute(text("SELECT id FROM persons")).scalars())
    with ticketing.connect() as connection:
        inbox = set(connection.execute(text("SELECT message_id FROM inbox")).scalars())
        reporters = set(connection.execute(text("SELECT person_id FROM reporters")).scalars())
    outcomes: dict[str, float] = defaultdict(float)
    for (name, labels), value in metrics.items():
        labels = dict(labels)
        if name == "bus_events_handled_total" and labels.get("service") == "ticketing":
            outcomes[labels["outcome"]] += value
    lost = max(len(events - inbox), len(persons - reporters))
    duplicated = int(max(0, outcomes["handled"] - len(inbox & events))) + len(inbox - events) + len(reporters - persons)
    progress(f"{len(events)} events, {len(inbox)} inbox rows, {len(reporters)} reporters; consumer outcomes "
             f"{dict(outcomes)}")
    return lost, duplicated
