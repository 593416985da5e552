"""Broker connections: RabbitMQ when BUS_URL is set, else the embedded file bus under var/bus."""

from __future__ import annotations

import socket

from kombu import Connection

from shared.bus import embedded
from shared.config import Settings


def connect(settings: Settings) -> Connection:
    if settings.embedded_bus:
        folder = (settings.var_dir / "bus").resolve()
        return Connection(transport=embedded.Transport, transport_options=embedded.transport_options(folder))
    return Connection(settings.bus_url, heartbeat=settings.bus_heartbeat_seconds, connect_timeout=5)


def keep_alive(connection: Connection) -> None:
    """Read what the broker sent meanwhile (its heartbeats among it) and send a heartbeat when one is due.

    A connection that only waits, as an idle relay's does, must do both every few seconds: RabbitMQ drops a
    client that stays silent for two heartbeat intervals, and py-amqp gives up on a broker it has not
    heard from for as long, since it only counts what it has read.
    """
    if not is_rabbitmq(connection):
        return
    try:
        while True:
            connection.drain_events(timeout=0)
    except socket.timeout:
        pass
    connection.heartbeat_check()


def is_rabbitmq(connection: Connection) -> bool:
    """True on RabbitMQ, which has publisher confirms and multiple acks. kombu's virtual transports (the
    embedded bus) store a message synchronously, so a return means it is kept, and ack one tag at a time."""
    return connection.transport.driver_type == "amqp"
