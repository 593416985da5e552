"""The chart cannot drift from the code: the rendered migration Jobs and Deployments are started here as
local processes — their command, arguments and environment exactly as rendered, on top of the image's ENV —
against the real RabbitMQ and PostgreSQL. Secret references are answered with a fresh vhost and fresh
databases on 127.0.0.1, and the trace collector is a stand-in on 127.0.0.1. Their probes must pass, an
event must flow from occupants to ticketing with its traces exported, and the dashboards and alerts may
read only metrics these processes really expose."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.support import (
    alert_rules,
    by_kind,
    container_port,
    container_process,
    dashboard_queries,
    manifests,
    metrics_read_by,
    start,
)
from tests.conftest import SECRET, fresh_vhost, wait_until

pytestmark = [pytest.mark.chart, pytest.mark.integration]

SERVICES = ("occupants", "ticketing", "billing", "access", "notifications")
ORG = "0c000000-0000-4000-8000-00000000000c"
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}


@dataclass
class Process:
    deployment: dict
    container: dict
    popen: subprocess.Popen
    log: Path

    @property
    def name(self) -> str:
        return self.deployment["metadata"]["name"]

    def url(self, probe: str = "readinessProbe", path: str | None = None) -> str:
        get = self.container[probe]["httpGet"]
        return f"http://127.0.0.1:{container_port(self.container, get['port'])}{path or get['path']}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Collector:
    """Stands in for an OpenTelemetry collector: keeps every OTLP/HTTP trace export it receives."""

    exports: list[bytes] = field(default_factory=list)

    def __enter__(self) -> Collector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    collector.exports.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self, *fragments: bytes) -> bool:
        return any(all(f in body for f in fragments) for body in self.exports)


@dataclass
class Platform:
    docs: list[dict]
    processes: dict[str, Process]
    secrets: dict[tuple[str, str], str]
    scratch: Path
    collector: Collector

    def run_beside(self, name: str, *argv: str) -> str:
        """Run a command with the environment and working directory of a rendered container, as
        `kubectl exec` would, and return what it prints."""
        process = self.processes[name]
        _, env, cwd = container_process(process.deployment, process.container, docs=self.docs,
                                        secrets=self.secrets, scratch=self.scratch / f"{name}-exec")
        return subprocess.run([sys.executable, *argv], env=env, cwd=cwd, capture_output=True, text=True, check=True,
                              timeout=60).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(process: Process) -> bool:
    if process.popen.poll() is not None:
        raise AssertionError(f"{process.name} exited with {process.popen.returncode}:\n{process.output()}")
    try:
        return requests.get(process.url(), timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


@pytest.fixture(scope="module")
def collector():
    with Collector() as running:
        yield running


@pytest.fixture(scope="module")
def bus_vhost_url():
    with fresh_vhost("chart") as url:
        yield url


@pytest.fixture(scope="module")
def platform(pg_database, bus_vhost_url, collector, tmp_path_factory):
    # Free ports instead of 8000/9000, so the five services can share this machine; the probes follow.
    values = {
        "defaults": {"api": {"webConcurrency": 1}},
        "services": {name: {"api": {"port": free_port()}, "worker": {"port": free_port()}} for name in SERVICES},
        "tracing": {"enabled": True, "endpoint": collector.endpoint, "sampler": "always_on"},
    }
    docs = manifests(values)
    secrets = {("psp-bus", "url"): bus_vhost_url, ("psp-auth", "jwt-secret"): SECRET,
               ("psp-access-systems", "secret-keys"): Fernet.generate_key().decode()}
    for name in SERVICES:
        secrets[(f"psp-{name}-db", "url")] = pg_database(f"chart_{name}")
    scratch = tmp_path_factory.mktemp("pods")

    for job in by_kind(docs, "Job").values():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        argv, env, cwd = container_process(job, container, docs=docs, secrets=secrets,
                                           scratch=scratch / job["metadata"]["name"])
        result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{job['metadata']['name']}: {result.stdout}{result.stderr}"

    processes: dict[str, Process] = {}
    try:
        for name, deployment in by_kind(docs, "Deployment").items():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            log = scratch / f"{name}.log"
            popen = start(deployment, container, log, docs=docs, secrets=secrets, scratch=scratch / name)
            processes[name] = Process(deployment, container, popen, log)
        for process in processes.values():
            wait_until(lambda: ready(process), timeout=120, interval=0.5, what=f"{process.name} to be ready")
        yield Platform(docs, processes, secrets, scratch, collector)
    finally:
        for process in processes.values():
            process.popen.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def scrape(process: Process) -> str:
    response = requests.get(process.url(path="/metrics"), timeout=5)
    assert response.status_code == 200, process.name
    return response.text


def test_every_rendered_process_passes_its_probes(platform):
    assert len(platform.processes) == 2 * len(SERVICES)
    for process in platform.processes.values():
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            response = requests.get(process.url(probe), timeout=5)
            assert response.status_code == 200, (process.name, probe, response.text)


def handled(process: Process, event_type: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(scrape(process))
               for sample in family.samples
               if sample.name == "bus_events_handled_total" and sample.labels.get("event_type") == event_type
               and sample.labels.get("outcome") == "handled")


def test_a_person_registered_in_occupants_reaches_ticketing(platform):
    token = platform.run_beside("psp-occupants-api", "-m", "shared.cli", "token", "--org", ORG,
                                "--roles", "cs_specialist,property_manager", "--sites", "*").strip()
    api = platform.processes["psp-occupants-api"]
    headers = {"Authorization": f"Bearer {token}"}
    site = requests.post(api.url(path="/v1/sites"), json={"code": "CH", "name": "Chart Heights"}, headers=headers,
                         timeout=10)
    assert site.status_code == 201, site.text
    person = requests.post(api.url(path="/v1/persons"), headers=headers, timeout=10,
                           json={"site_id": site.json()["id"], "full_name": "Helm Chart", "phone": "13800000000"})
    assert person.status_code == 201, person.text

    ticketing = platform.processes["psp-ticketing-worker"]
    wait_until(lambda: handled(ticketing, "person.registered.v1") >= 1, timeout=60, interval=0.5,
               what="ticketing's worker to count person.registered.v1 as handled")
    # Spans reach the collector named by the chart, with the pod identity the chart adds.
    wait_until(lambda: platform.collector.received(b"occupants", b"psp-occupants-api-local"), timeout=30,
               interval=0.5, what="the occupants API's spans at the collector")
    wait_until(lambda: platform.collector.received(b"person.registered.v1 process", b"psp-ticketing-worker-local"),
               timeout=30, interval=0.5, what="ticketing's consumer span at the collector")


def exposed_metric_names(exposition: str) -> set[str]:
    """Every series name the exposition has or declares (a declared metric without samples yet counts)."""
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("", "_count", "_sum", "_created"), "info": ("_info",)}
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def test_dashboards_and_alerts_read_only_metrics_the_services_expose(platform):
    exposed = set().union(*(exposed_metric_names(scrape(p)) for p in platform.processes.values()))
    rules = alert_rules(platform.docs)
    known = exposed | PROMETHEUS_OWN | {rule["record"] for rule in rules if "record" in rule}

    for title, queries in dashboard_queries(platform.docs).items():
        for query in queries:
            assert metrics_read_by(query) <= known, f"{title}: {query} reads {metrics_read_by(query) - known}"
    for rule in rules:
        unknown = metrics_read_by(str(rule["expr"])) - known
        assert not unknown, f"{rule.get('alert') or rule['record']} reads {unknown}"
