"""The bus benchmark: occupants' person.registered.v1 through the whole chassis path into ticketing.

write (people + outbox rows, one transaction) -> relay (confirms) -> RabbitMQ -> ticketing consumer
(inbox rows + reporter upserts, one transaction) -> ack, on PostgreSQL and RabbitMQ, measured against raw
kombu on the same broker in the same run. Writers and workers are separate processes, as in production.

Writers register people through the domain (`register_people`), BENCH_WRITE_BATCH (100) to a transaction
when flat out, as an import of a site's occupants or a bill run writes; one per transaction in the
single-event phase.

1. Drain: N events are written while only the ticketing worker runs, then the occupants worker starts;
   N / (relay start -> last handled) is what the bus itself moves, with no write load beside it.
2. Throughput: N more events written by concurrent writer processes while both workers run;
   N / (first write -> last handled). This is the headline figure, as a fraction of raw kombu's msgs/s
   (the mean of a raw run before the first phase and one right after this one).
   Beside it, the machine's CPU seconds (every process: broker and database too) per event, against raw
   kombu's per message: on a machine the path saturates, their ratio is what bounds the throughput ratio.
3. Single-event writes: N/4 events, one registration per transaction, as the API writes per request.
4. Latency: first the page cache the earlier phases dirtied is flushed (`flush_to_disk`), so the
   kernel's writeback of it does not stall this phase's commits; then one writer paced at half the
   headline rate for N events, committing what fell due every 10 ms (some ten seconds, so one stall of a
   shared machine does not decide the p99 alone); p99 of the chassis' own publish->handled histogram
   (`bus_event_latency_seconds` on the ticketing worker's /metrics), against raw kombu paced at the same
   rate and read through the same bucket estimator (linear within a bucket, as Prometheus'
   histogram_quantile; 50 ms is a bucket bound, so the verdict against the target is exact). Beside it,
   write->handled from the rows' own timestamps (outbox created_at, inbox handled_at; one machine, one
   clock): what a user waits, and it sees relay stalls that the histogram cannot, since a republished
   event carries a fresh publish time.
5. Correctness over every event written: each has exactly one inbox row and one reporter, and the
   consumer applied no effect twice (its `handled` count equals the distinct events handled).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import fmean

from kombu import Connection, Queue
from sqlalchemy import create_engine, text

from bench import raw
from bench.infra import (
    FsyncProbe,
    WorkerProcess,
    bucketize,
    cpu_by_process,
    databases,
    exact_quantile,
    flush_to_disk,
    histogram_quantile,
    progress,
    vhost,
)
from shared import db, tracing
from shared.config import Settings
from shared.metrics import LATENCY_BUCKETS

MUST_BE_ZERO = ("bus_lost_events", "bus_duplicated_effects")
STALL_SECONDS = 60
PACED_TICK_SECONDS = 0.01


def run(events: int) -> list[dict]:
    paced = int(os.environ.get("BENCH_PACED_EVENTS", events))
    single = int(os.environ.get("BENCH_SINGLE_WRITE_EVENTS", max(1, events // 4)))
    writers = int(os.environ.get("BENCH_WRITERS", "3"))
    per_transaction = int(os.environ.get("BENCH_WRITE_BATCH", "100"))
    logs = Path(tempfile.mkdtemp(prefix="psp-bench-"))
    drained = throughput = single_throughput = cpu = p99 = raw_p99 = write_p99 = None
    with vhost() as bus_url, databases(["occupants", "ticketing"]) as urls:
        size = _envelope_size()
        progress(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; raw kombu: {events} "
                 f"messages of {size} bytes")
        raw_runs: list[tuple[float, float]] = []

        def run_raw() -> None:
            rate, _, machine_cpu = raw.run(bus_url, events, size)
            raw_runs.append((rate, machine_cpu / events))
            progress(f"raw kombu: {rate:.0f} msgs/s, {_ms(machine_cpu / events)} ms of machine CPU per message")

        run_raw()

        chassis = Settings()
        progress(f"chassis settings: BUS_BATCH_SIZE={chassis.bus_batch_size} BUS_PREFETCH={chassis.bus_prefetch} "
                 f"OUTBOX_POLL_SECONDS={chassis.outbox_poll_seconds}")
        url, env = urls["occupants"], _worker_env(bus_url, urls, logs)
        occupants, ticketing = create_engine(url), create_engine(urls["ticketing"])
        site_id = _seed_site(url)
        workers = [WorkerProcess("ticketing", env, logs)]
        written_so_far, cpu_at_start, writers_cpu = 0, {}, 0.0

        def write(count: int, rate: float | None, batch: int) -> float:
            """Answers when the writes started, and keeps the CPU split at that moment for `phase_cpu`. One
            writer paces: it commits every PACED_TICK_SECONDS, so more would only add transactions."""
            nonlocal written_so_far, cpu_at_start, writers_cpu
            started, finished, cpu_at_start, writers_cpu = _write(
                url, site_id, written_so_far, count, 1 if rate else writers, rate, batch,
                lambda: cpu_by_process(workers))
            written_so_far += count
            progress(f"  written at {count / (finished - started):.0f} events/s")
            return started

        def phase_cpu(phase: str, events_in_phase: int) -> float:
            """The machine's CPU seconds since the phase's first write, after showing where they went."""
            now = cpu_by_process(workers)
            spent = {name: now[name] - cpu_at_start.get(name, 0.0) for name in now}
            spent["writers"] = writers_cpu
            spent["the rest"] -= writers_cpu
            shares = ", ".join(f"{name} {1000 * seconds / events_in_phase:.2f}" for name, seconds in spent.items())
            progress(f"{phase}: ms of CPU per event by {shares}")
            return sum(spent.values())

        try:
            workers[0].wait_ready()
            _wait_consuming(bus_url, "ticketing.inbox")

            # Each phase runs only if the one before completed: a stuck path has no rate to measure or halve.
            progress(f"drain: {events} events written by {writers} writers, {per_transaction} per transaction, "
                     f"before the relay starts")
            write(events, None, per_transaction)
            workers.append(WorkerProcess("occupants", env, logs))
            relay_started = workers[1].wait_ready()
            if _wait_handled(ticketing, workers[0], written_so_far):
                drained = events / (_last_handled(ticketing) - relay_started)
                progress(f"drain: {drained:.0f} events/s")

                progress(f"throughput: {events} events, {per_transaction} per transaction, flat out, relay running")
                started = write(events, None, per_transaction)
                if _wait_handled(ticketing, workers[0], written_so_far):
                    throughput = events / (_last_handled(ticketing) - started)
                    cpu = phase_cpu("throughput", events) / events
                    progress(f"throughput: {throughput:.0f} events/s, {_ms(cpu)} ms of machine CPU per event")
                    progress(f"raw kombu again, {events} messages, now the path has been measured")
                    run_raw()

            if throughput:
                progress(f"single-event writes: {single} events, one per transaction, flat out")
                started = write(single, None, 1)
                if _wait_handled(ticketing, workers[0], written_so_far):
                    single_throughput = single / (_last_handled(ticketing) - started)
                    progress(f"single-event writes: {single_throughput:.0f} events/s")

            if throughput:
                progress(f"flushed the earlier phases' writes to disk in {flush_to_disk():.1f}s")
                rate, before, skip = throughput / 2, workers[0].metrics(), written_so_far
                progress(f"latency: {paced} events at {rate:.0f} events/s")
                with FsyncProbe(logs) as disk:
                    started = write(paced, rate, per_transaction)
                    handled = _wait_handled(ticketing, workers[0], written_so_far)
                if handled:
                    busy = phase_cpu("latency", paced) / (time.time() - started)
                    progress(f"latency: the machine was {busy:.2f} cores busy; the disk meanwhile: {disk.summary()}")
                    buckets = _latency_buckets(workers[0].metrics(), before)
                    p99 = histogram_quantile(0.99, buckets)
                    progress(f"latency: publish->handled p50 {_ms(histogram_quantile(0.5, buckets))} ms, "
                             f"p99 {_ms(p99)} ms (estimated from the histogram); "
                             f"{100 * _share_within(buckets, 0.05):.2f} % within 50 ms")
                    write_p99 = _write_to_handled_p99(occupants, ticketing, skip)
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
            _, raw_latencies, _ = raw.run(bus_url, paced, size, rate=rate)
            raw_p99 = histogram_quantile(0.99, bucketize(raw_latencies, LATENCY_BUCKETS))
            progress(f"raw kombu p99: {_ms(raw_p99)} ms estimated, {_ms(exact_quantile(0.99, raw_latencies))} ms exact")

    # The mean of the runs before and after the headline phase: the machine's speed drifts (CPU steal on a
    # shared host), and one run alone moves the ratio by as much as a tenth.
    raw_rate, raw_cpu = fmean(rate for rate, _ in raw_runs), fmean(cpu for _, cpu in raw_runs)
    progress(f"load average {os.getloadavg()[0]:.2f} at the end")
    if lost or duplicated:
        progress(f"worker logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return [
        _figure("bus_throughput", throughput, "events/s", raw_rate, ">= 0.5"),
        _figure("bus_drain_throughput", drained, "events/s", raw_rate, None),
        _figure("bus_throughput_single_event_writes", single_throughput, "events/s", raw_rate, None),
        _figure("bus_machine_cpu_per_event", _ms(cpu), "ms", _ms(raw_cpu), None),
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
    from services.occupants.places.rules import create_site

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


def _writer(url: str, site_id: str, indices: range, first: int, rate: float | None, per_transaction: int, ready,
            go, start_at, done) -> None:
    """Register people through the domain's bulk registration, up to `per_transaction` in one transaction.

    Flat out, every transaction holds `per_transaction` registrations, as a bulk import does. Paced, a
    writer commits what fell due since its last commit, at most every PACED_TICK_SECONDS, so half the
    rate costs about half the CPU, as when concurrent requests keep a service busy.
    """
    from services.occupants.people.rules import register_people
    from services.occupants.places.tables import Site

    tracing.configure("occupants")
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions() as session:
            site = session.get(Site, site_id)
        gc.freeze()  # as the API's processes do once loaded
        ready.release()
        go.wait()
        cpu_at_go = time.process_time()
        due = (lambda k: start_at.value + (k - first) / rate) if rate else (lambda k: 0.0)
        pending, next_commit = list(indices), 0.0
        while pending:
            delay = max(due(pending[0]), next_commit) - time.time()
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            batch = [k for k in pending[:per_transaction] if due(k) <= now]
            del pending[:len(batch)]
            next_commit = now + PACED_TICK_SECONDS if rate else 0.0
            # Inside a span, as the API's requests are: the events carry its trace.
            with tracing.tracer().start_as_current_span("import people"), sessions() as session, session.begin():
                register_people(session, site, [{"kind": "individual", "full_name": f"Bench Person {k:05d}",
                                                 "phone": f"+86 138 {k:08d}"} for k in batch], registered_by="bench")
        done.put((time.time(), time.process_time() - cpu_at_go))
    except BaseException:
        ready.release()
        done.put(None)
        raise
    finally:
        engine.dispose()


def _write(url: str, site_id: str, first: int, count: int, writers: int, rate: float | None,
           per_transaction: int, cpu_snapshot: Callable[[], dict[str, float]]) -> tuple[float, float, dict, float]:
    """Write events first..first+count across processes (paced at `rate`/s overall, or flat out).

    Answers (time of the first write, time the last writer finished, `cpu_snapshot()` at the first
    write, the writers' CPU seconds from the first write to their last). The writers load their imports
    and connections before the clock starts, so start-up is not counted as bus time or CPU.
    """
    context = multiprocessing.get_context("spawn")
    ready, go, done = context.Semaphore(0), context.Event(), context.Queue()
    start_at = context.Value("d", 0.0)
    processes = [
        context.Process(target=_writer, daemon=True,
                        args=(url, site_id, range(first + i, first + count, writers), first, rate,
                              per_transaction, ready, go, start_at, done))
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    cpu_at_start = cpu_snapshot()
    start_at.value = time.time()
    go.set()
    finished = [done.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(10)
    if None in finished:
        raise RuntimeError("a writer failed; its traceback is above")
    return start_at.value, max(at for at, _ in finished), cpu_at_start, sum(cpu for _, cpu in finished)


# -- observing ----------------------------------------------------------------------------------------------


def _count(engine, sql: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def _wait_handled(ticketing, worker: WorkerProcess, total: int) -> bool:
    """Until the inbox holds `total` rows and the worker has counted them on /metrics (True), or nothing
    has moved for STALL_SECONDS (False). The worker counts just after its commit, so a phase's histogram
    scraped now holds all of the phase's events and none of the next's."""
    seen, moved = -1, time.monotonic()
    while (handled := _count(ticketing, "SELECT count(*) FROM inbox")) < total or _counted(worker) < total:
        if handled != seen:
            seen, moved = handled, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            progress(f"stalled at {handled} of {total} handled")
            return False
        time.sleep(0.25)
    return True


def _counted(worker: WorkerProcess) -> float:
    return sum(value for (name, labels), value in worker.metrics().items()
               if name == "bus_events_handled_total" and dict(labels).get("service") == worker.service)


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


def _share_within(buckets: list[tuple[float, float]], bound: float) -> float:
    """The share of observations at or under `bound`, which must be a bucket bound."""
    counts = dict(buckets)
    return counts[bound] / max(counts[float("inf")], 1)


def _write_to_handled_p99(occupants, ticketing, skip: int) -> float | None:
    """Write -> handled of the events after the first `skip`, exact, from the rows' timestamps.

    Write -> confirmed (the relay's published_at, stamped once the broker confirmed) is shown beside it,
    to tell time spent before the broker from time spent after.
    """
    with occupants.connect() as connection:
        rows = connection.execute(text(
            "SELECT event_id, extract(epoch FROM created_at), extract(epoch FROM published_at) FROM outbox "
            "WHERE event_type = 'person.registered.v1' ORDER BY id OFFSET :skip"), {"skip": skip}).all()
    with ticketing.connect() as connection:
        handled = dict(connection.execute(text("SELECT message_id, extract(epoch FROM handled_at) FROM inbox")).all())
    latencies = [float(handled[i]) - float(at) for i, at, _ in rows if i in handled]
    confirmed = [float(published) - float(at) for _, at, published in rows if published is not None]
    progress(f"latency: write->handled p50 {_ms(exact_quantile(0.5, latencies))} ms, "
             f"p99 {_ms(exact_quantile(0.99, latencies))} ms, max {_ms(max(latencies, default=None))} ms; "
             f"write->confirmed p50 {_ms(exact_quantile(0.5, confirmed))} ms, "
             f"p99 {_ms(exact_quantile(0.99, confirmed))} ms")
    return exact_quantile(0.99, latencies)


def _verify(occupants, ticketing, metrics: dict) -> tuple[int, int]:
    """Lost: events without their inbox row or their reporter. Duplicated: effects applied more than once.
    Only the people's events count: ticketing also takes the seeded site's."""
    with occupants.connect() as connection:
        events = set(connection.execute(text(
            "SELECT event_id FROM outbox WHERE event_type = 'person.registered.v1'")).scalars())
        persons = set(connection.execute(text("SELECT id FROM persons")).scalars())
    with ticketing.connect() as connection:
        inbox = set(connection.execute(text(
            "SELECT message_id FROM inbox WHERE event_type = 'person.registered.v1'")).scalars())
        reporters = set(connection.execute(text("SELECT person_id FROM reporters")).scalars())
    outcomes: dict[str, float] = defaultdict(float)
    for (name, labels), value in metrics.items():
        labels = dict(labels)
        if (name == "bus_events_handled_total" and labels.get("service") == "ticketing"
                and labels.get("event_type") == "person.registered.v1"):
            outcomes[labels["outcome"]] += value
    lost = max(len(events - inbox), len(persons - reporters))
    duplicated = int(max(0, outcomes["handled"] - len(inbox & events))) + len(inbox - events) + len(reporters - persons)
    progress(f"{len(events)} events, {len(inbox)} inbox rows, {len(reporters)} reporters; consumer outcomes "
             f"{dict(outcomes)}")
    return lost, duplicated
