"""Publishing with publisher confirms, a batch at a time.

Waiting for a confirm per message caps a relay at the round-trip rate; RabbitMQ confirms a stream of
publishes asynchronously, so the relay sends a batch and then waits for every confirm (or return) in it.
A message is only reported confirmed once the broker has acked it and did not return it as unroutable.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from amqp import spec
from kombu import Connection

from shared.bus.connection import is_rabbitmq
from shared.bus.envelope import CONTENT_TYPE


class PublishTimeout(Exception):
    pass


@dataclass
class Outgoing:
    message_id: str
    exchange: str
    routing_key: str
    body: bytes
    headers: dict = field(default_factory=dict)


# The start of the reason given for a message the broker confirmed but could route to no queue.
UNROUTABLE = "unroutable"


class Publisher:
    def __init__(self, connection: Connection, confirm_timeout: float = 30.0):
        self.connection = connection
        self.confirm_timeout = confirm_timeout
        self.channel = connection.channel()
        self.confirms = is_rabbitmq(connection)
        self._next_tag = 1
        self._open: set[int] = set()
        self._nacked: set[int] = set()
        self._returned: dict[str, str] = {}
        if self.confirms:
            self.channel.confirm_select()
            self.channel.events["basic_ack"].add(self._on_ack)
            self.channel.events["basic_nack"].add(self._on_nack)
            self.channel.events["basic_return"].add(self._on_return)

    def publish(self, batch: list[Outgoing]) -> dict[str, str | None]:
        """Publish every message; answer message_id -> None when confirmed, or the reason it was not."""
        tags: dict[int, str] = {}
        self._open = set()
        with self._held_in_kernel():
            for message in batch:
                tags[self._next_tag] = message.message_id
                self._open.add(self._next_tag)
                self._next_tag += 1
                properties = {"delivery_mode": 2, "message_id": message.message_id, "timestamp": int(time.time())}
                self._send(message, self.channel.prepare_message(
                    message.body, None, CONTENT_TYPE, "binary", message.headers, properties))
        if not self.confirms:
            return {message_id: None for message_id in tags.values()}
        self._wait_for_confirms()
        outcome: dict[str, str | None] = {}
        for tag, message_id in tags.items():
            returned = self._returned.pop(message_id, None)
            outcome[message_id] = "nacked by the broker" if tag in self._nacked else returned
        self._nacked.clear()
        return outcome

    def _send(self, message: Outgoing, prepared) -> None:
        if self.confirms:
            # basic_publish would first poll the socket for a connection.blocked notice, a few syscalls per
            # message; the confirm wait after the batch reads whatever the broker sent meanwhile.
            self.channel.send_method(spec.Basic.Publish, "Bssbb",
                                     (0, message.exchange, message.routing_key, True, False), prepared)
        else:
            self.channel.basic_publish(prepared, exchange=message.exchange, routing_key=message.routing_key,
                                       mandatory=True)

    @contextmanager
    def _held_in_kernel(self) -> Iterator[None]:
        """Cork the socket while a batch is written (Linux): its small frames leave as full segments when
        the last is written, instead of a packet each, which spares the relay and the broker a wakeup per
        message."""
        sock = self.connection.connection.sock if self.confirms and hasattr(socket, "TCP_CORK") else None
        if sock is None:
            yield
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            yield
        finally:
            with suppress(OSError):  # a broken connection is reported by the publish itself
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    def _wait_for_confirms(self) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        while self._open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishTimeout(f"{len(self._open)} publishes not confirmed in time")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._open if t <= delivery_tag} if multiple else {delivery_tag} & self._open
        self._open -= settled
        return settled

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        message_id = message.properties.get("message_id", "")
        self._returned[message_id] = f"{UNROUTABLE}: no queue bound to {exchange!r} with key {routing_key!r}"

    def close(self) -> None:
        self.channel.close()
