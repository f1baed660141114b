"""The committed Grafana dashboards and alerting rules (``deploy/grafana``) refer only to metrics
the code exports: each PromQL expression's metric names are in ``shared.metrics.METRIC_NAMES``
(which the scrape test, ``test_metrics.py``, finds on ``/metrics``), and each workflow type it
names is one the workflow worker runs. Each alert's runbook is a section of
``docs/operations.md``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio import workflow

from shared.metrics import METRIC_NAMES
from workflows.worker import WORKFLOWS

ROOT = Path(__file__).parents[1]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
ALERTS = ROOT / "deploy" / "grafana" / "alerts.yaml"
RUNBOOK = ROOT / "docs" / "operations.md"
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A name not within another token, and not a function's (followed by its parenthesis).
_NAME = re.compile(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:]*\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan"}
_WORKFLOW_TYPE = re.compile(r'workflow_type\s*=~?\s*"([^"]*)"')


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    bare = _MATCHERS.sub("", _STRING.sub('""', expression))
    bare = _GROUPING.sub("", _RANGES.sub("", bare))
    return {match.group() for match in _NAME.finditer(bare)} - _KEYWORDS


def exported_series() -> set[str]:
    series = set(METRIC_NAMES)
    for name, kind in METRIC_NAMES.items():
        if kind == "histogram":
            series.update(name + suffix for suffix in HISTOGRAM_SERIES)
    return series


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def test_the_parser_finds_metric_names_and_nothing_else() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_seconds_bucket{route=~"/v1/x"}[5m])))'
        ' / on (route) sum(increase(b_total{status="500"}[1h] offset 1d)) * 60 > bool 1e3'
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_total"}
    assert metric_names("max(engage_nonexistent)") - exported_series() == {"engage_nonexistent"}


def test_there_is_a_platform_and_an_engagement_pipeline_dashboard() -> None:
    uids = {json.loads(path.read_text())["uid"] for path in DASHBOARDS}
    assert {"engage-platform", "engage-pipeline"} <= uids


@pytest.mark.parametrize("path", DASHBOARDS, ids=[path.stem for path in DASHBOARDS])
def test_a_dashboard_refers_only_to_exported_metrics(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    found = expressions(dashboard)
    assert len(found) >= 8, "a dashboard with (almost) no queries"
    assert_only_exported(found)


def assert_only_exported(found: list[str]) -> None:
    unknown = {
        expression: sorted(metric_names(expression) - exported_series()) for expression in found
    }
    assert not {e: names for e, names in unknown.items() if names}
    assert all(metric_names(expression) for expression in found)
    registered = {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}
    named = {
        name
        for expression in found
        for pattern in _WORKFLOW_TYPE.findall(expression)
        for name in pattern.split("|")
    }
    assert named <= registered, named - registered


def anchor(heading: str) -> str:
    """A Markdown heading's anchor, as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_alerts_refer_to_exported_metrics_and_to_their_runbook() -> None:
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert len(rules) >= 5
    assert_only_exported([rule["expr"] for rule in rules])
    headings = {
        anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    runbooks = {rule["alert"]: rule["annotations"]["runbook"] for rule in rules}
    assert all(link.startswith("docs/operations.md#") for link in runbooks.values()), runbooks
    missing = {
        alert: link for alert, link in runbooks.items() if link.partition("#")[2] not in headings
    }
    assert not missing
