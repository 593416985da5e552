"""The first real flow: occupants registers a person; four services each keep it in their read model."""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import bearer, running_workers, wait_until

pytestmark = pytest.mark.integration

READ_MODELS = {"ticketing": "reporters", "billing": "payers", "access": "pass_holders",
               "notifications": "recipients"}


def test_person_registered_reaches_every_read_model(occupants_api, demo_site, databases):
    body = {"site_id": demo_site, "full_name": "陈静", "phone": "13700000000", "email": "chen@example.cn",
            "preferred_language": "zh-CN", "preferred_channels": ["app", "email"]}
    response = occupants_api.post("/v1/persons", json=body, headers=bearer())
    assert response.status_code == 201
    person_id = response.get_json()["id"]

    with running_workers("occupants", *READ_MODELS):
        for service, table in READ_MODELS.items():
            wait_until(lambda: databases[service].scalar(
                f"SELECT full_name FROM {table} WHERE person_id = :id", id=person_id) == "陈静",
                what=f"{service}.{table}")
    assert databases["notifications"].scalar(
        "SELECT channels FROM recipients WHERE person_id = :id", id=person_id) == ["app", "email"]
    assert databases["occupants"].scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


def test_one_trace_runs_from_the_request_through_the_bus_into_each_handler(occupants_api, demo_site):
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    response = occupants_api.post("/v1/persons", headers=bearer(),
                                  json={"site_id": demo_site, "full_name": "Trace Me", "phone": "13800000001"})
    assert response.status_code == 201
    http_span = next(s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER)

    with running_workers("occupants", "ticketing"):
        wait_until(lambda: any(s.name == "person.registered.v1 process" for s in exporter.get_finished_spans()),
                   what="the consumer span")
    spans = exporter.get_finished_spans()
    publish = next(s for s in spans if s.name == "person.registered.v1 publish")
    process = next(s for s in spans if s.name == "person.registered.v1 process")
    assert publish.context.trace_id == http_span.context.trace_id
    assert process.context.trace_id == http_span.context.trace_id
    assert process.parent.span_id == publish.context.span_id
