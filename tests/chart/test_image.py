"""The image recipe (docker/Dockerfile, .dockerignore) read as text: no Docker engine runs here, so these
hold it to the rules it must keep, and test_chart_processes.py runs its ENV with the chart's commands."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.chart.support import CHART, DOCKERFILE, ROOT, dockerfile_stages

pytestmark = pytest.mark.chart

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def arguments(stage, instruction):
    return [args for name, args in stage if name == instruction]


def test_every_base_image_is_pinned_by_digest():
    preamble, *stages = dockerfile_stages()
    build_args = dict(a.split("=", 1) for a in arguments(preamble, "ARG"))
    names = set()
    for stage in stages:
        (source, *alias) = arguments(stage, "FROM")[0].split(" AS ")
        source = re.sub(r"\$\{(\w+)\}", lambda m: build_args[m.group(1)], source)
        assert source in names or DIGEST.search(source), source
        names.update(a.strip() for a in alias)


def test_final_stage_runs_as_the_chart_user_without_build_tools():
    final = dockerfile_stages()[-1]
    (user,) = arguments(final, "USER")
    uid, _, gid = user.partition(":")
    security = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert int(uid) != 0 and (int(uid), int(gid)) == (security["runAsUser"], security["runAsGroup"])
    copies = arguments(final, "COPY")
    assert all(c.startswith("--from=build ") for c in copies), "the final stage takes only built results"
    recipe = DOCKERFILE.read_text()
    assert not re.search(r"\b(gcc|g\+\+|build-essential|apt-get install)\b", recipe)
    assert not re.search(r"(?i)^\s*(ENV|ARG)\s+\S*(PASSWORD|SECRET|TOKEN)", recipe, re.M)


def test_default_command_execs_gunicorn():
    (cmd,) = arguments(dockerfile_stages()[-1], "CMD")
    argv = json.loads(cmd)
    assert argv[:2] == ["sh", "-c"] and "exec gunicorn -c python:shared.gunicorn_conf" in argv[2]


def test_build_stage_generates_the_protobuf_code():
    build = dockerfile_stages()[1]
    runs = " ".join(arguments(build, "RUN"))
    assert "python -m grpc_tools.protoc -I proto --python_out=build/proto $(find proto -name '*.proto')" in runs


def test_build_context_holds_only_what_the_image_copies():
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*"
    admitted = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {c.split()[0].rstrip("/") for stage in dockerfile_stages()[1:] for c in arguments(stage, "COPY")
              if not c.startswith("--from")}
    assert admitted == copied == {"requirements.txt", "proto", "shared", "services"}
