"""A small HTTP/1.1 load generator on asyncio, for benchmarks against servers on this machine's loopback.

Each request opens its own connection, as gunicorn's sync workers close every connection after one
answer. Two shapes of load, each bounded in time and count:

- `flat_out`: a fixed number of clients, each sending its next request once the last is answered: the
  server's maximum rate.
- `paced`: requests sent on a fixed schedule whatever the server does, each latency counted from when
  its request was due rather than when it went out, so a stalled server shows in the figures instead of
  pausing the load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

HOST = "127.0.0.1"
REQUEST_TIMEOUT_SECONDS = 30


@dataclass
class Outcome:
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def request(port: int, path: str, headers: dict[str, str] | None = None, *, method: str = "GET",
            body: bytes = b"", content_type: str = "application/json") -> bytes:
    """One request's bytes; a body goes with its length and type."""
    sent = {**({"Content-Type": content_type, "Content-Length": str(len(body))} if body else {}), **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close",
             *(f"{name}: {value}" for name, value in sent.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _fetch(port: int, raw: bytes) -> int | str:
    """The status of one answer, read whole; the error's name when there was none in time."""
    try:
        return await asyncio.wait_for(_exchange(port, raw), REQUEST_TIMEOUT_SECONDS)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:120]


async def _exchange(port: int, raw: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        await (reader.readexactly(length) if length is not None else reader.read())
        return int(head[9:12])
    finally:
        writer.close()


async def _flat_out(port: int, requests: Sequence[bytes], clients: int, seconds: float, most: int) -> Outcome:
    outcome, turns = Outcome(), itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    async def client():
        while time.perf_counter() < deadline:
            turn = next(turns)
            if turn >= most:
                return
            outcome.statuses[await _fetch(port, requests[turn % len(requests)])] += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _paced(port: int, requests: Sequence[bytes], rate: float, seconds: float, in_flight: int) -> Outcome:
    outcome, loop = Outcome(), asyncio.get_running_loop()
    slots = asyncio.Semaphore(in_flight)
    first = loop.time() + 0.05

    async def one(i: int, due: float):
        async with slots:
            status = await _fetch(port, requests[i % len(requests)])
        outcome.statuses[status] += 1
        outcome.latencies.append(loop.time() - due)

    tasks = []
    for i in range(int(rate * seconds)):
        due = first + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    outcome.seconds = loop.time() - first
    return outcome


def flat_out(port: int, requests: Sequence[bytes], *, clients: int, seconds: float, most: int) -> Outcome:
    """`clients` requests in flight for `seconds` (or until `most` were sent)."""
    return asyncio.run(_flat_out(port, requests, clients, seconds, most))


def paced(port: int, requests: Sequence[bytes], *, rate: float, seconds: float, in_flight: int = 256) -> Outcome:
    """`rate` requests a second for `seconds`; at most `in_flight` connections open at once (a request
    that waits for one counts the wait in its latency)."""
    return asyncio.run(_paced(port, requests, rate, seconds, in_flight))
