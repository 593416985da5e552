"""The chart, proven without a cluster: real Helm (helm-python-sdk) lints and renders it for several value
sets, every object is validated against the Kubernetes API schemas of two versions, the objects keep the
runtime contract of docs/architecture.md, and values that would make a broken release are refused with a
message naming the value."""

from __future__ import annotations

import json
import re

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.chart import crd_schemas
from tests.chart.support import (
    CHART,
    NAMESPACE,
    VALUE_SETS,
    by_kind,
    dashboard_queries,
    expand,
    manifests,
    metrics_read_by,
    render,
    value_set,
)

pytestmark = pytest.mark.chart

# The oldest Kubernetes the chart admits (kubeVersion in Chart.yaml) and the newest kubernetes-validate knows.
OLDEST = re.fullmatch(r">=(\d+\.\d+\.\d+)-0", yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"])[1]
KUBERNETES_VERSIONS = (OLDEST, "1.37.0")
SERVICES = ("occupants", "ticketing", "billing", "access", "notifications")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request):
    return request.param, manifests(value_set(request.param))


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_lint_strict_finds_nothing(name):
    for kube_version in KUBERNETES_VERSIONS:
        report = helm.lint(CHART, value_set(name), strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems and not report["errors"], (name, kube_version, problems, report["errors"])


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(rendered, kube_version):
    name, docs = rendered
    errors = []
    for doc in docs:
        what = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{what}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            spec_schema = crd_schemas.SPECS.get((doc["apiVersion"], doc["kind"]))
            if spec_schema is None:
                errors.append(f"{what}: no schema for {doc['apiVersion']} {doc['kind']}")
            else:
                errors += [f"{what}: spec.{'.'.join(map(str, e.path))}: {e.message}"
                           for e in jsonschema.Draft7Validator(spec_schema).iter_errors(doc["spec"])]
        if len(doc["metadata"]["name"]) > 63 or not DNS_LABEL.match(doc["metadata"]["name"]):
            errors.append(f"{what}: the name is not a DNS label")
        for key, value in doc["metadata"].get("labels", {}).items():
            if not LABEL_VALUE.match(str(value)):
                errors.append(f"{what}: label {key}={value!r} is not a valid label value")
    assert not errors, f"{name} on Kubernetes {kube_version}:\n" + "\n".join(errors)


def test_no_object_is_rendered_twice(rendered):
    _, docs = rendered
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))


def test_deployments_keep_the_runtime_contract(rendered):
    """Commands, ports, probes, resources and security as docs/architecture.md and the image expect."""
    _, docs = rendered
    accounts = by_kind(docs, "ServiceAccount")
    deployments = by_kind(docs, "Deployment")
    assert deployments
    for deployment in deployments.values():
        labels = deployment["metadata"]["labels"]
        service, component = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        argv = container["command"] + container["args"]
        env = {e["name"]: e for e in container["env"]}
        port = container["ports"][0]["containerPort"]
        if component == "api":
            assert argv == ["gunicorn", "-c", "python:shared.gunicorn_conf", f"services.{service}.app:create_app()"]
            assert env["PORT"]["value"] == str(port)
            assert int(env["WEB_CONCURRENCY"]["value"]) >= 1
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert env["PROMETHEUS_MULTIPROC_DIR"]["value"] in mounts
        else:
            assert argv == ["python", "-m", "shared.cli", "worker", service]
            assert env["WORKER_PORT"]["value"] == str(port)
            assert "PROMETHEUS_MULTIPROC_DIR" not in env
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"
        assert container["ports"][0]["name"] == "http"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}
        assert pod["serviceAccountName"] in accounts
        assert f"{service.upper()}_DATABASE_URL" in env and "BUS_URL" in env
        assert {"AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY"} & set(env)


def test_secrets_only_come_from_secret_references(rendered):
    """A database URL, broker URL or token key is a Secret reference or composed of Secret references."""
    _, docs = rendered
    containers = [c for d in docs if d["kind"] in ("Deployment", "Job") for c in d["spec"]["template"]["spec"]["containers"]]
    sensitive = re.compile(r"(DATABASE_URL|BUS_URL|SMTP_URL|AUTH_JWT_SECRET|AUTH_JWT_PUBLIC_KEY|SECRET_KEYS|GATEWAY_SECRET|WEBHOOK_SECRET|PASSWORD|USERNAME)$")
    for container in containers:
        from_secrets = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        for item in container["env"]:
            if sensitive.search(item["name"]) and "value" in item:
                references = set(re.findall(r"\$\((\w+)\)", item["value"]))
                assert references and references <= from_secrets, item
    for configmap in by_kind(docs, "ConfigMap").values():
        assert not any(sensitive.search(key) for key in configmap.get("data", {})), configmap["metadata"]["name"]


def test_the_access_processes_and_migration_alone_get_the_door_systems_keys_from_their_secret(rendered):
    _, docs = rendered
    for kind in ("Deployment", "Job"):
        for name, owner in by_kind(docs, kind).items():
            (container,) = owner["spec"]["template"]["spec"]["containers"]
            keys = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"] == "ACCESS_SYSTEM_SECRET_KEYS"]
            expected = [{"name": "psp-access-systems", "key": "secret-keys"}] if name.startswith("psp-access-") else []
            assert keys == expected, name


def test_notifications_alone_read_their_channels_from_the_named_secret():
    docs = manifests({"notificationChannels": {"existingSecret": "psp-channels"}})
    for name, deployment in by_kind(docs, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        channels = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                    if e["name"] in ("SMTP_URL", "SMS_GATEWAY_URL", "SMS_GATEWAY_SECRET")}
        if name.startswith("psp-notifications-"):
            assert channels["SMTP_URL"] == {"name": "psp-channels", "key": "SMTP_URL", "optional": True}
            assert set(channels) == {"SMTP_URL", "SMS_GATEWAY_URL", "SMS_GATEWAY_SECRET"}
        else:
            assert channels == {}, name
    (without,) = [d for n, d in by_kind(manifests(), "Deployment").items() if n == "psp-notifications-worker"]
    assert not any(e["name"] == "SMTP_URL" for e in without["spec"]["template"]["spec"]["containers"][0]["env"])


def test_migrations_run_as_hooks_before_the_new_version():
    for name, hook in (("defaults", "pre-install,pre-upgrade"), ("operators", "post-install,pre-upgrade")):
        docs = manifests(value_set(name))
        jobs = by_kind(docs, "Job")
        assert sorted(jobs) == sorted(f"psp-{s}-migrate" for s in SERVICES)
        for job_name, job in jobs.items():
            service = job["metadata"]["labels"]["app.kubernetes.io/name"]
            annotations = job["metadata"]["annotations"]
            assert annotations["helm.sh/hook"] == hook
            pod = job["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert container["command"] + container["args"] == ["python", "-m", "shared.cli", "migrate", service]
            account = by_kind(docs, "ServiceAccount")[pod["serviceAccountName"]]
            # The Job's account exists when the Job does: it is an earlier hook of the same phase.
            assert account["metadata"]["annotations"]["helm.sh/hook"] == hook
            assert int(account["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
            assert not {"AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY"} & {e["name"] for e in container["env"]}


def test_defaults_give_each_service_its_objects():
    docs = manifests({})
    for service in SERVICES:
        for component in ("api", "worker"):
            name = f"psp-{service}-{component}"
            assert name in by_kind(docs, "Deployment") and name in by_kind(docs, "Service")
            assert name in by_kind(docs, "PodDisruptionBudget")
        assert f"psp-{service}-api" in by_kind(docs, "HorizontalPodAutoscaler")
        assert f"psp-{service}-worker" not in by_kind(docs, "HorizontalPodAutoscaler")
        assert "replicas" not in by_kind(docs, "Deployment")[f"psp-{service}-api"]["spec"]
        monitor = by_kind(docs, "ServiceMonitor")[f"psp-{service}"]
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["http", "metrics"]
        assert all(e["honorLabels"] for e in monitor["spec"]["endpoints"])
        assert by_kind(docs, "Service")[f"psp-{service}-worker"]["spec"]["ports"][0]["name"] == "metrics"


def test_network_policies_open_only_what_each_service_needs():
    defaults = by_kind(manifests({}), "NetworkPolicy")
    operators = by_kind(manifests(value_set("operators")), "NetworkPolicy")
    for service in SERVICES:
        policy = defaults[f"psp-{service}"]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "psp",
                                                        "app.kubernetes.io/name": service}
        ports = [{p["port"] for p in rule["ports"]} for rule in policy["egress"]]
        assert ports == [{53}, {5672, 5671}, {5432}]
        (scrape,) = policy["ingress"]
        assert scrape["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}

        rabbit, postgres, tracing = operators[f"psp-{service}"]["spec"]["egress"][1:4]
        assert rabbit["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "psp-rabbitmq"}}}]
        assert postgres["to"] == [{"podSelector": {"matchLabels": {"cnpg.io/cluster": f"psp-{service}-db"}}}]
        assert tracing["ports"] == [{"port": 4318, "protocol": "TCP"}]
    # ticketing names occupants as a peer in the operators set: its pods may call occupants' API.
    assert {"port": "http", "protocol": "TCP"} in operators["psp-ticketing"]["spec"]["egress"][-1]["ports"]
    callers = operators["psp-occupants-api"]["spec"]["ingress"]
    assert callers[1]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "ticketing"


def test_operator_secrets_compose_working_urls():
    """With the operators, URLs are built from their Secrets' user and password by $(VAR) expansion."""
    docs = manifests(value_set("operators"))
    deployment = by_kind(docs, "Deployment")["psp-occupants-api"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for item in container["env"]:
        secret = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = f"{secret['key']}-x" if secret else expand(item.get("value", ""), env)
    url = make_url(env["OCCUPANTS_DATABASE_URL"])
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg", "username-x", "password-x", f"psp-occupants-db-rw.{NAMESPACE}.svc", 5432, "occupants")
    assert env["BUS_URL"] == f"amqp://username-x:password-x@psp-rabbitmq.{NAMESPACE}.svc:5672/%2F"
    secrets = {item["valueFrom"]["secretKeyRef"]["name"] for item in container["env"] if "valueFrom" in item
               and "secretKeyRef" in item["valueFrom"]}
    assert {"psp-occupants-db-app", "psp-rabbitmq-default-user"} <= secrets
    assert by_kind(docs, "Cluster")["psp-occupants-db"]["spec"]["bootstrap"]["initdb"] == {
        "database": "occupants", "owner": "occupants"}


def test_tracing_values_reach_the_processes():
    traced = by_kind(manifests(value_set("operators")), "ConfigMap")["psp-billing"]["data"]
    assert traced["OTEL_TRACES_EXPORTER"] == "otlp"
    assert traced["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://opentelemetry-collector.observability.svc:4318"
    assert traced["OTEL_SERVICE_NAME"] == "billing"
    assert by_kind(manifests({}), "ConfigMap")["psp-billing"]["data"]["OTEL_TRACES_EXPORTER"] == "none"
    deployment = by_kind(manifests(value_set("operators")), "Deployment")["psp-billing-worker"]
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "deployment.environment=staging" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")


def test_an_identity_providers_keys_reach_the_processes_and_no_secret_is_needed():
    provider = {"jwksUrl": "https://id.example.cn/realms/psp/protocol/openid-connect/certs",
                "issuer": "https://id.example.cn/realms/psp", "jwtSecretKey": "", "existingSecret": ""}
    docs = manifests({"auth": provider})
    settings = by_kind(docs, "ConfigMap")["psp-occupants"]["data"]
    assert (settings["AUTH_JWKS_URL"], settings["AUTH_JWT_ISSUER"]) == (provider["jwksUrl"], provider["issuer"])
    api = by_kind(docs, "Deployment")["psp-occupants-api"]["spec"]["template"]["spec"]["containers"][0]
    assert not {e["name"] for e in api["env"]} & {"AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY"}
    egress = by_kind(docs, "NetworkPolicy")["psp-occupants"]["spec"]["egress"]
    assert [{p["port"] for p in rule["ports"]} for rule in egress] == [{53}, {5672, 5671}, {5432}, {443}]
    # Without a provider nothing opens 443, and the ConfigMap does not name one.
    assert "AUTH_JWKS_URL" not in by_kind(manifests({}), "ConfigMap")["psp-occupants"]["data"]


def test_a_service_can_be_set_to_zero_and_false():
    """Per-service settings override the defaults even with 0 and false (which sprig's merge would drop)."""
    docs = manifests({"services": {"billing": {"worker": {"replicas": 0, "podDisruptionBudget": {"enabled": False}}},
                                   "access": {"enabled": False}}})
    assert by_kind(docs, "Deployment")["psp-billing-worker"]["spec"]["replicas"] == 0
    assert "psp-billing-worker" not in by_kind(docs, "PodDisruptionBudget")
    assert not [d for d in docs if d["metadata"]["labels"].get("app.kubernetes.io/name") == "access"]


@pytest.mark.parametrize(("values", "names"), [
    pytest.param({"services": {"occupants": {"database": {"existingSecret": ""}}}},
                 "services.occupants.database.existingSecret", id="no database URL"),
    pytest.param({"services": {"billing": {"api": {"replicas": 0, "autoscaling": {"enabled": False}}}}},
                 "services.billing.api.replicas", id="replicas 0 with a disruption budget"),
    pytest.param({"defaults": {"worker": {"replicas": 0}}},
                 "defaults.worker.replicas", id="replicas 0 for every worker with disruption budgets"),
    pytest.param({"logLevel": "TRACE"}, "/logLevel", id="unknown log level"),
    pytest.param({"services": {"access": {"logLevel": "verbose"}}}, "/services/access/logLevel",
                 id="unknown log level of one service"),
    pytest.param({"services": {"ocupants": {}}}, "ocupants", id="misspelt service"),
    pytest.param({"defaults": {"env": {"BUS_URL": "amqp://user:password@broker"}}}, "env.BUS_URL",
                 id="a secret in values"),
    pytest.param({"bus": {"existingSecret": ""}}, "bus.existingSecret", id="no broker URL"),
    pytest.param({"auth": {"jwtPublicKeyKey": "public.pem"}}, "auth.jwtSecretKey and auth.jwtPublicKeyKey",
                 id="two token keys"),
    pytest.param({"auth": {"jwtSecretKey": ""}}, "auth.jwksUrl", id="nothing to verify tokens with"),
    pytest.param({"auth": {"jwksUrl": "id.example.cn/certs"}}, "/auth/jwksUrl", id="a JWKS URL without scheme"),
    pytest.param({"defaults": {"api": {"autoscaling": {"minReplicas": 0}}}}, "/defaults/api/autoscaling/minReplicas",
                 id="autoscaling to zero"),
    pytest.param({"services": {"ticketing": {"peers": ["payments"]}}}, "services.ticketing.peers",
                 id="unknown peer"),
    pytest.param({"accessSystems": {"existingSecret": ""}}, "accessSystems.existingSecret",
                 id="no key for door systems' secrets"),
    pytest.param({"services": {"access": {"env": {"ACCESS_SYSTEM_SECRET_KEYS": "a-key"}}}},
                 "env.ACCESS_SYSTEM_SECRET_KEYS", id="door systems' keys in values"),
])
def test_values_that_would_break_the_release_are_refused(values, names):
    with pytest.raises(helm.HelmError) as refused:
        render(values)
    assert names in str(refused.value)


def test_alert_thresholds_come_from_values():
    thresholds = {"http5xxRatio": 0.02, "queueLatencyP99Seconds": 2.5, "outboxOldestAgeSeconds": 120,
                  "slaBreachesPerHour": 3, "accessSyncUnacknowledgedSeconds": 30}
    docs = manifests({"monitoring": {"prometheusRule": {"thresholds": thresholds}}})
    (rule,) = by_kind(docs, "PrometheusRule").values()
    records = {r["record"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    assert records == {
        "psp:alert_threshold:http_5xx_ratio": "vector(0.02)",
        "psp:alert_threshold:queue_latency_p99_seconds": "vector(2.5)",
        "psp:alert_threshold:outbox_oldest_age_seconds": "vector(120)",
        "psp:alert_threshold:sla_breaches_per_hour": "vector(3)",
        "psp:alert_threshold:access_sync_unacknowledged_seconds": "vector(30)",
    }
    # Apart from those constants, the rules are the file promtool tests.
    rules_file = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    alerts = [r for g in rules_file["groups"] for r in g["rules"] if "alert" in r]
    assert [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r] == alerts


def _services_own_boards(service: str) -> dict[str, str]:
    """A service's own dashboards (files/dashboards/<service>-<board>.json): title by board name."""
    return {path.stem: json.loads(path.read_text())["title"]
            for path in sorted((CHART / "files" / "dashboards").glob(f"{service}-*.json"))}


def test_dashboards_are_configmaps_for_the_grafana_sidecar():
    docs = manifests({})
    boards = {name: cm for name, cm in by_kind(docs, "ConfigMap").items() if "dashboard" in name}
    own = {board: title for s in SERVICES for board, title in _services_own_boards(s).items()}
    assert "ticketing-desk" in own
    assert sorted(boards) == sorted(["psp-dashboard-overview"] + [f"psp-dashboard-{s}" for s in SERVICES]
                                    + [f"psp-dashboard-{board}" for board in own])
    assert all(cm["metadata"]["labels"]["grafana_dashboard"] == "1" for cm in boards.values())
    queries = dashboard_queries(docs)
    assert set(queries) == {"Property service platform / Overview"} | {f"Property service platform / {s}"
                                                                       for s in SERVICES} | set(own.values())
    for title, exprs in queries.items():
        assert exprs, title
        assert not any("__SERVICE__" in e for e in exprs), title
        for expr in exprs:
            assert metrics_read_by(expr), (title, expr)


def test_a_disabled_services_own_dashboards_are_left_out():
    docs = manifests({"services": {"ticketing": {"enabled": False}}})
    boards = {name for name in by_kind(docs, "ConfigMap") if "dashboard" in name}
    assert "psp-dashboard-ticketing-desk" not in boards and "psp-dashboard-occupants" in boards


def test_readme_documents_every_value():
    """Each value down to two levels has a row or a mention in charts/README.md; below services' names and
    Kubernetes' own security contexts, the chart adds no keys of its own."""
    readme = (CHART.parent / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    opaque = {"services", "podSecurityContext", "securityContext"}
    paths = [key for key, value in values.items() if key in opaque or not isinstance(value, dict)]
    paths += [f"{key}.{sub}" for key, value in values.items() if key not in opaque and isinstance(value, dict)
              for sub in value]
    assert [p for p in paths if f"`{p}" not in readme] == []


def test_uploaded_files_can_live_on_a_claim_the_api_mounts():
    docs = manifests({"services": {"occupants": {"files": {"existingClaim": "psp-occupants-files"}}}})
    pod = by_kind(docs, "Deployment")["psp-occupants-api"]["spec"]["template"]["spec"]
    [files] = [v for v in pod["volumes"] if v["name"] == "files"]
    assert files["persistentVolumeClaim"] == {"claimName": "psp-occupants-files"}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert by_kind(docs, "ConfigMap")["psp-occupants"]["data"]["FILE_STORE_DIR"] == mounts["files"]
    # Other services and the default keep no claim.
    for deployment in by_kind(manifests({}), "Deployment").values():
        assert "files" not in {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "files" not in {v["name"] for v in by_kind(docs, "Deployment")["psp-billing-api"]["spec"]["template"]
                           ["spec"]["volumes"]}
