"""What the chassis needs to know about a service: its name, tables, handlers and migrations."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData

from shared.bus.consumer import Handlers
from shared.bus.topology import Subscription
from shared.tables import ChassisTables


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    metadata: MetaData
    tables: ChassisTables
    handlers: Handlers | None
    migrations: Path

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
