"""What the chart tests share: rendering through real Helm, reading the image's Dockerfile, starting a
rendered container's command as a local process the way the kubelet would, and naming the metrics a
PromQL query reads."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "psp"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
RELEASE, NAMESPACE = "psp", "prod"

# The value sets rendered in every check: the defaults, operators enabled, and the smallest footprint.
VALUE_SETS = {path.name.removesuffix("-values.yaml"): path for path in sorted((CHART / "ci").glob("*-values.yaml"))}


def value_set(name: str) -> dict:
    return yaml.safe_load(VALUE_SETS[name].read_text()) or {}


def render(values: dict | None = None) -> dict[str, str]:
    """What `helm install` would create, by template; raises helm_python.HelmError where it would refuse."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(values: dict | None = None) -> list[dict]:
    return [doc for path, text in render(values).items() if not path.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


# ---- the image ------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def image_environment(host_paths: dict[str, str]) -> tuple[dict[str, str], str]:
    """The final stage's ENV and WORKDIR, with the image's paths mapped onto this machine's."""
    env: dict[str, str] = {"PATH": os.environ["PATH"]}
    workdir = "/"
    for instruction, arguments in dockerfile_stages()[-1]:
        if instruction == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), map_paths(value, host_paths))
        elif instruction == "WORKDIR":
            workdir = map_paths(arguments, host_paths)
    return env, workdir


def map_paths(value: str, host_paths: dict[str, str]) -> str:
    """Rewrite, in one pass, each image path (the longest that matches) that starts a value or a PATH-like
    element."""
    alternatives = "|".join(re.escape(p) for p in sorted(host_paths, key=len, reverse=True))
    return re.sub(rf"(^|[:=])({alternatives})(?=/|:|$)", lambda m: m.group(1) + host_paths[m.group(2)], value)


# ---- a rendered container as a local process ------------------------------------------------------


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, anything else stays."""
    return re.sub(r"\$\$|\$\((\w+)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


def container_process(owner: dict, container: dict, *, docs: list[dict], secrets: dict[tuple[str, str], str],
                      scratch: Path) -> tuple[list[str], dict[str, str], str]:
    """argv, environment and working directory of a container of `owner` (a Deployment or Job), as the
    kubelet would start it from this image: the image's ENV, then envFrom, then env in order, with secret references answered from
    `secrets`, each volume an empty folder under `scratch`, and the image's /app and /opt/venv being
    this checkout and this virtualenv."""
    host_paths = {"/app": str(ROOT), "/opt/venv": sys.prefix}
    for mount in container.get("volumeMounts", []):
        folder = scratch / mount["name"]
        folder.mkdir(parents=True, exist_ok=True)
        host_paths[mount["mountPath"]] = str(folder)
    env, workdir = image_environment(host_paths)
    configmaps = by_kind(docs, "ConfigMap")
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        if "value" in item:
            value = map_paths(expand(item["value"], env), host_paths)
        else:
            ref = item["valueFrom"]
            if "secretKeyRef" in ref:
                value = secrets[(ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])]
            else:
                value = {"metadata.name": f"{owner['metadata']['name']}-local", "metadata.namespace": NAMESPACE}[
                    ref["fieldRef"]["fieldPath"]]
        env[item["name"]] = value
    argv = [expand(part, env) for part in container.get("command", []) + container.get("args", [])]
    venv_binary = Path(sys.prefix) / "bin" / argv[0]
    if venv_binary.exists():
        argv[0] = str(venv_binary)
    return argv, env, workdir


def start(owner: dict, container: dict, log: Path, **kwargs) -> subprocess.Popen:
    argv, env, workdir = container_process(owner, container, **kwargs)
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)


def container_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


# ---- PromQL ---------------------------------------------------------------------------------------

# Grafana's variables, given values that make each query plain PromQL.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__range": "1h", "__interval": "1m", "namespace": ".*"}


def metrics_read_by(query: str) -> set[str]:
    """Names of the series a query selects; a selector without a metric name is an error."""
    query = re.sub(r"\$\{?(\w+)\}?", lambda m: GRAFANA_VARIABLES[m.group(1)], query)
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                raise ValueError(f"selector without a metric name in {query!r}")
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(query), visit)
    return names


def dashboard_queries(docs: list[dict]) -> dict[str, list[str]]:
    """Every panel query of every rendered dashboard, by dashboard title."""
    queries: dict[str, list[str]] = {}
    for configmap in by_kind(docs, "ConfigMap").values():
        for key, text in configmap.get("data", {}).items():
            if key.endswith(".json"):
                board = json.loads(text)
                panels = [p for p in board["panels"] if p["type"] != "row"]
                queries[board["title"]] = [t["expr"] for p in panels for t in p.get("targets", [])]
    return queries


def alert_rules(docs: list[dict]) -> list[dict]:
    (rule,) = by_kind(docs, "PrometheusRule").values()
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]
