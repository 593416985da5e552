"""Structured JSON logs, each record carrying the trace, span and correlation ids."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shared import tracing


class _ContextIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in tracing.log_ids().items():
            setattr(record, key, value)
        return True


def configure(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextIds())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu and amqp log every reconnect attempt at WARNING already; their INFO is noise.
    for noisy in ("amqp", "kombu"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
