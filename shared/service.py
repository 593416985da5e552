"""What the chassis needs to know about a service: its name, tables, handlers and migrations."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.orm import sessionmaker

from shared.bus.consumer import Handlers
from shared.bus.topology import Subscription
from shared.tables import ChassisTables


@dataclass(frozen=True)
class ScheduledJob:
    """A domain task the worker repeats every `every` seconds, given the service's sessions.

    Several workers may run it at once and a worker may die half-way, so it claims what it acts on (a
    conditional UPDATE of a due row, or SELECT … FOR UPDATE SKIP LOCKED) in the transaction that acts:
    each firing (a deadline, a reminder, an import) then happens once.
    """

    name: str
    every: float
    run: Callable[[sessionmaker], object]


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    metadata: MetaData
    tables: ChassisTables
    handlers: Handlers | None
    migrations: Path
    jobs: tuple[ScheduledJob, ...] = ()

    def subscription(self, retry_delays: tuple[float, ...]) -> Subscription | None:
        if self.handlers is None or not self.handlers.routes:
            return None
        return self.handlers.subscription(retry_delays)


def load(name: str) -> Service:
    """The service defined in `services/<name>/service.py`, or in the module a dotted path names."""
    try:
        module = importlib.import_module(name if "." in name else f"services.{name}.service")
    except ModuleNotFoundError as exc:
        raise SystemExit(f"unknown service {name!r}") from exc
    return module.SERVICE
