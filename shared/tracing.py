"""OpenTelemetry tracing: provider set up per process, context carried across the bus in AMQP headers.

The exporter follows the standard variables: OTEL_TRACES_EXPORTER (otlp, console or none; none when unset,
so a laptop without a collector stays quiet), OTEL_EXPORTER_OTLP_* for the endpoint, OTEL_SERVICE_NAME and
OTEL_RESOURCE_ATTRIBUTES for the resource, OTEL_TRACES_SAMPLER for sampling, OTEL_SDK_DISABLED to switch
tracing off. Under gunicorn the app is not preloaded, so each worker creates its provider after the fork:
the batch exporter's thread would not survive one.
"""

from __future__ import annotations

import contextvars
import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g, request
from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from sqlalchemy import Engine

_QUIET = ParentBased(ALWAYS_OFF)  # nothing exports: carry trace ids, record nothing
_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def configure(service: str) -> None:
    """Install this process's tracer provider, unless OTEL_SDK_DISABLED=true."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true":
        trace.set_tracer_provider(new_provider(service, _exporter_from_environment()))


def new_provider(service: str, exporter: SpanExporter | None) -> TracerProvider:
    """A provider exporting to `exporter`. With nothing to export to, spans are not recorded (unless
    OTEL_TRACES_SAMPLER asks): ids are still made and carried, so logs and downstream services keep the
    trace, at a fraction of the cost."""
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    quiet = exporter is None and "OTEL_TRACES_SAMPLER" not in os.environ
    provider = TracerProvider(resource=resource, sampler=_QUIET if quiet else None)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def records_spans(provider: trace.TracerProvider) -> bool:
    """Whether `provider` ever records a span: not when tracing is off or quiet."""
    return isinstance(provider, TracerProvider) and provider.sampler is not _QUIET


def recording() -> bool:
    """Whether this process's provider records spans. Where it does not, a message needs no span of its
    own, nor its trace headers parsed, to carry its trace on."""
    return records_spans(trace.get_tracer_provider())


def instrument_database(engine: Engine) -> None:
    """A span per SQL statement, where spans are recorded. Where they are not, the instrumentation would
    still make and drop a span per statement and per connection checkout: as much CPU as the statement
    itself for the bus's short ones."""
    if recording():
        SQLAlchemyInstrumentor().instrument(engine=engine)


def continue_request_traces(app: Flask) -> None:
    """Each request continues its caller's trace (W3C traceparent) or starts one, so its logs and the events
    it writes carry the trace on.

    Where spans are recorded, Flask's instrumentation does that and records a span per request. Where they
    are not, it would still collect every request's attributes for a span nobody keeps, a seventh of a small
    request's CPU, so the context alone is carried."""
    if recording():
        FlaskInstrumentor().instrument_app(app, excluded_urls="livez,readyz,metrics")
        return

    @app.before_request
    def _continue_trace():
        parent = propagate.extract(request.headers)
        span = tracer().start_span(f"{request.method} request", context=parent, kind=trace.SpanKind.SERVER)
        g.trace_context = context.attach(trace.set_span_in_context(span, parent))

    @app.teardown_request
    def _leave_trace(_exc):
        token = g.pop("trace_context", None)
        if token is not None:
            context.detach(token)


def configure_once(service: str) -> None:
    """Keep a provider already installed (by a test, or an earlier app in this process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        configure(service)


def _exporter_from_environment() -> SpanExporter | None:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    if name in ("", "none"):
        return None
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none")


@functools.cache
def tracer():
    """One tracer for the process: a proxy until a provider is installed, then the provider's own."""
    return trace.get_tracer("psp")


def current_trace_headers() -> dict[str, str]:
    """W3C traceparent/tracestate of the active span, for storing beside an outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def message_span(name: str, headers: dict | None, kind: trace.SpanKind, attributes: dict) -> Iterator[trace.Span]:
    """The current span while a message is sent or handled: a child of the span that wrote it (its
    context travels in `headers`).

    When that trace is not sampled and the sampler follows the parent (the default), no child would be
    recorded, so none is made: the writer's context is made current instead, which carries the same trace
    on at a fraction of the cost of a span per message.
    """
    parent = propagate.extract({k: v for k, v in (headers or {}).items() if isinstance(v, str)})
    writer = trace.get_current_span(parent)
    written = writer.get_span_context()
    if written.is_valid and not written.trace_flags.sampled and _parent_decides():
        token = context.attach(parent)
        try:
            yield writer
        finally:
            context.detach(token)
        return
    with tracer().start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as span:
        yield span


def publish_headers(stored: dict | None, name: str, attributes: dict) -> dict[str, str]:
    """Trace headers for an event the relay publishes: its recorded publish span's, which the consumers'
    spans then hang from; otherwise the writer's, as stored. Where spans are recorded, an event stored
    without any starts a trace of its own."""
    headers = dict(stored or {})
    if recording():
        with message_span(name, stored, trace.SpanKind.PRODUCER, attributes) as span:
            if span.is_recording() or not headers:
                return current_trace_headers()
    return headers


def _parent_decides() -> bool:
    return isinstance(getattr(trace.get_tracer_provider(), "sampler", None), ParentBased)


def correlation_id() -> str:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token:
    return _correlation_id.set(value or str(uuid.uuid4()))


def reset_correlation_id(token: contextvars.Token) -> None:
    _correlation_id.reset(token)


def log_ids() -> dict[str, str]:
    """Trace, span and correlation ids for the current log record."""
    span = trace.get_current_span().get_span_context()
    ids = {"correlation_id": correlation_id()}
    if span.is_valid:
        ids["trace_id"] = format(span.trace_id, "032x")
        ids["span_id"] = format(span.span_id, "016x")
    return ids
