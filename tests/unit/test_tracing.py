"""Tracing costs nothing to record when nothing exports, yet the trace still travels."""

import json
import os
import subprocess
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from tests.conftest import ROOT


def test_without_an_exporter_spans_are_not_recorded_but_carry_a_trace(monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    tracer = tracing.new_provider("test", exporter=None).get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        assert not span.is_recording()
        assert span.get_span_context().trace_id != 0
        flags = tracing.current_trace_headers()["traceparent"].rsplit("-", 1)[1]
        assert int(flags, 16) & 1 == 0  # carried downstream as not sampled


def test_with_an_exporter_every_span_is_recorded_and_exported(monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    exporter = InMemorySpanExporter()
    provider = tracing.new_provider("test", exporter=exporter)
    with provider.get_tracer("test").start_as_current_span("request") as span:
        assert span.is_recording()
    provider.force_flush()
    assert [s.name for s in exporter.get_finished_spans()] == ["request"]


def test_the_sampler_variable_overrides_the_quiet_default(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    with tracing.new_provider("test", exporter=None).get_tracer("test").start_as_current_span("request") as span:
        assert span.is_recording()


def test_sql_statements_get_spans_only_where_spans_are_recorded(monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    assert not tracing.records_spans(tracing.new_provider("test", exporter=None))
    assert not tracing.records_spans(trace.NoOpTracerProvider())
    assert tracing.records_spans(tracing.new_provider("test", exporter=InMemorySpanExporter()))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    assert tracing.records_spans(tracing.new_provider("test", exporter=None))


TRACE_ID, WRITER_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@pytest.fixture
def exported():
    """The process's provider (parent-based, as in production) with an exporter the test can read."""
    tracing.configure_once("test")
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def test_a_message_of_an_unsampled_trace_goes_on_in_that_trace_without_a_span_of_its_own(exported):
    headers = {"traceparent": f"00-{TRACE_ID}-{WRITER_SPAN_ID}-00"}
    with tracing.message_span("event process", headers, trace.SpanKind.CONSUMER, {}) as span:
        assert not span.is_recording()
        assert tracing.current_trace_headers()["traceparent"] == headers["traceparent"]
    assert exported.get_finished_spans() == ()


def test_a_message_of_a_sampled_trace_gets_a_recorded_child_of_the_writers_span(exported):
    headers = {"traceparent": f"00-{TRACE_ID}-{WRITER_SPAN_ID}-01"}
    with tracing.message_span("event process", headers, trace.SpanKind.CONSUMER, {"messaging.system": "rabbitmq"}):
        assert tracing.current_trace_headers()["traceparent"].split("-")[1] == TRACE_ID
    [span] = exported.get_finished_spans()
    assert (span.name, span.kind, span.attributes["messaging.system"]) == (
        "event process", trace.SpanKind.CONSUMER, "rabbitmq")
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == WRITER_SPAN_ID


def test_a_message_without_a_trace_starts_one(exported):
    with tracing.message_span("event publish", {}, trace.SpanKind.PRODUCER, {}):
        assert trace.get_current_span().get_span_context().is_valid
    [span] = exported.get_finished_spans()
    assert span.parent is None


def test_the_relay_hangs_the_consumers_from_its_recorded_publish_span(exported):
    stored = {"traceparent": f"00-{TRACE_ID}-{WRITER_SPAN_ID}-01"}
    headers = tracing.publish_headers(stored, "event publish", {"messaging.system": "rabbitmq"})
    [span] = exported.get_finished_spans()
    assert format(span.parent.span_id, "016x") == WRITER_SPAN_ID
    assert headers["traceparent"] == f"00-{TRACE_ID}-{format(span.context.span_id, '016x')}-01"


def test_where_nothing_records_spans_the_relay_passes_the_writers_headers_on_untouched(exported, monkeypatch):
    monkeypatch.setattr(tracing, "recording", lambda: False)
    stored = {"traceparent": f"00-{TRACE_ID}-{WRITER_SPAN_ID}-01", "tracestate": "vendor=1"}
    headers = tracing.publish_headers(stored, "event publish", {})
    assert headers == stored and headers is not stored
    assert tracing.publish_headers(None, "event publish", {}) == {}
    assert exported.get_finished_spans() == ()


QUIET_REQUEST = """
import json, os
from tests.conftest import SECRET, bearer, migrate, occupants_client
os.environ.pop("OTEL_TRACES_SAMPLER")  # which importing the tests' conftest sets
url = f"sqlite:///{os.environ['PSP_VAR_DIR']}/occupants.sqlite3"
migrate("occupants", url)
os.environ.update(OCCUPANTS_DATABASE_URL=url, AUTH_JWT_SECRET=SECRET)
from shared import tracing
with occupants_client() as client:
    headers = {**bearer(roles=("property_manager",)), "traceparent": "00-%s-%s-00"}
    assert client.post("/v1/sites", json={"code": "T", "name": "Traced"}, headers=headers).status_code == 201
    outbox = client.application.extensions["psp"].service.tables.outbox
    with client.application.extensions["psp"].engine.connect() as connection:
        stored = [row.trace_headers for row in connection.execute(outbox.select())]
print(json.dumps({"recording": tracing.recording(), "stored": stored}))
"""


def test_where_nothing_records_spans_a_request_still_carries_its_callers_trace_into_its_events(tmp_path):
    """The test process records spans (conftest), so the quiet default runs in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PSP_VAR_DIR"] = str(tmp_path)
    script = QUIET_REQUEST % (TRACE_ID, WRITER_SPAN_ID)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["recording"] is False
    assert outcome["stored"] and all(h["traceparent"].split("-")[1] == TRACE_ID for h in outcome["stored"])
