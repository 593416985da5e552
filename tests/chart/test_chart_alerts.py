"""The alert rules, checked and unit-tested by promtool (Debian's prometheus package): the rules file the
chart ships, and the rules as the chart renders them with thresholds from values."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.chart.support import CHART, ROOT, by_kind, manifests

pytestmark = pytest.mark.chart

RULES = CHART / "files" / "alerts.yaml"
UNIT_TESTS = ROOT / "tests" / "chart" / "alerts_test.yaml"


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (apt-get install prometheus)")
    return path


def run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_file_is_valid(promtool):
    run(promtool, "check", "rules", str(RULES))


def test_alerts_fire_as_the_unit_tests_expect(promtool):
    run(promtool, "test", "rules", str(UNIT_TESTS))


def test_every_alert_is_unit_tested():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = {case["alertname"] for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts == tested


def test_rendered_rules_are_valid(promtool, tmp_path):
    docs = manifests({"monitoring": {"prometheusRule": {"thresholds": {"http5xxRatio": 0.01}}}})
    (rule,) = by_kind(docs, "PrometheusRule").values()
    rendered = tmp_path / "rendered-rules.yaml"
    rendered.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    run(promtool, "check", "rules", str(rendered))
