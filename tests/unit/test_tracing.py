"""Tracing costs nothing to record when nothing exports, yet the trace still travels."""

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing


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
