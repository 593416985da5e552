"""Throwaway RabbitMQ vhosts and PostgreSQL databases, for tests and benchmarks, removed afterwards.

They live on the local broker and server, reached through TEST_AMQP_URL and TEST_PG_ADMIN_URL.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_ROOT = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def vhost(name: str) -> Iterator[str]:
    """The vhost `name`, open to guest; answers its AMQP URL."""
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{AMQP_ROOT}/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


@contextmanager
def databases() -> Iterator[Callable[[str], str]]:
    """A factory: `create(name)` makes an empty database and answers its SQLAlchemy URL. All are dropped
    on exit, even with connections still open."""
    created: list[str] = []
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)

    def create(name: str) -> str:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{base}/{name}"

    try:
        yield create
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            for name in created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
