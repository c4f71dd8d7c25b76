"""The alerts and the dashboard: deploy/helm/modelsync/files/{prometheusrules.yaml,
dashboard.json} and their copies in deploy/components/monitoring.

Every PromQL expression is parsed with a real PromQL parser (promql-parser), and every metric
one names is checked against a scrape of a running operator, so a renamed or dropped metric
fails here rather than as a silently empty panel or an alert that can never fire.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml
from e2e_harness import Scenario
from prometheus_client.parser import text_string_to_metric_families

from deploy.manifests import ROOT, find_one, render_base_with


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_monitoring", ROOT / "scripts" / "gen_monitoring.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_monitoring = _load_generator()

CHART_FILES = ROOT / "deploy" / "helm" / "modelsync" / "files"
RULES_FILE = CHART_FILES / "prometheusrules.yaml"
DASHBOARD_FILE = CHART_FILES / "dashboard.json"
OPERATIONS = ROOT / "docs" / "operations.md"
# Labels Prometheus adds to every scraped series itself.
TARGET_LABELS = frozenset({"job", "instance"})
# Grafana's interval variables, given a value so the expression parses as PromQL.
GRAFANA_DURATIONS = re.compile(
    r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}"
)
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_]\w*)\)$")
DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
LABEL_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
# The shape the prometheus-operator's PrometheusRule CRD (monitoring.coreos.com/v1) gives
# spec.groups, restricted to what we use and with alerts' labels and annotations required.
GROUPS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string", "pattern": DURATION},
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["alert", "expr", "for", "labels", "annotations"],
                            "additionalProperties": False,
                            "properties": {
                                "alert": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9]*$"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": {
                                    **LABEL_MAP,
                                    "required": ["severity"],
                                    "properties": {
                                        "severity": {"enum": ["critical", "warning", "info"]}
                                    },
                                },
                                "annotations": {
                                    **LABEL_MAP,
                                    "required": ["summary", "description", "runbook_url"],
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in groups["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return loaded


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def _graph_panels() -> list[dict[str, Any]]:
    return [p for p in _panels(_dashboard()) if p["type"] != "row"]


def _promql(text: str) -> promql_parser.Expr:
    """`text` parsed as PromQL, with Grafana's interval variables set to 5m (template
    variables in label values are plain strings to the parser)."""
    return promql_parser.parse(GRAFANA_DURATIONS.sub("5m", text))


def _dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable's selector."""
    queries = [
        (f"panel {p['title']!r} target {t['refId']}", t["expr"])
        for p in _graph_panels()
        for t in p["targets"]
    ]
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, f"variable {variable['name']}: expected label_values(SELECTOR, LABEL)"
        queries.append((f"variable {variable['name']}", match["selector"]))
    return queries


def _all_queries() -> list[tuple[str, str]]:
    return [(f"alert {r['alert']}", r["expr"]) for r in _rules()] + _dashboard_queries()


def _selectors(expr: promql_parser.Expr) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) of every series selector in `expr`."""
    found: list[tuple[str, set[str]]] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name: {node}"
            found.append((node.name, {m.name for m in node.matchers.matchers}))

    promql_parser.walk(expr, visit)
    return found


def _grouping_labels(expr: promql_parser.Expr) -> set[str]:
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            found.update(node.modifier.labels)

    promql_parser.walk(expr, visit)
    return found


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but `-` dropped, spaces to `-`."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+\s+(.+?)\s*$", prose, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


# --- the rules -------------------------------------------------------------------------------


def test_the_rules_are_prometheusrule_groups() -> None:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(groups, GROUPS_SCHEMA)
    names = [rule["alert"] for rule in _rules()]
    assert len(names) == len(set(names)), names
    assert {
        "ModelCatalogSyncFailing",
        "ModelCatalogSyncDeletionGuard",
        "ModelCatalogSyncInconsistentListing",
        "ModelCatalogSyncSlow",
        "ModelsyncNoLeader",
    } <= set(names)


def test_no_alert_pages_on_a_single_failed_pass() -> None:
    """A failed pass is retried within seconds: every alert waits minutes first."""
    for rule in _rules():
        assert promql_parser.parse_duration(rule["for"]).total_seconds() >= 300, rule["alert"]


def test_per_sync_alerts_name_the_sync() -> None:
    for rule in _rules():
        if "sync" not in _grouping_labels(_promql(rule["expr"])):
            continue
        for key in ("summary", "description"):
            text = rule["annotations"][key]
            assert "{{ $labels.namespace }}/{{ $labels.sync }}" in text, (rule["alert"], key)


def test_every_runbook_is_a_section_of_the_operations_guide() -> None:
    anchors = _anchors(OPERATIONS.read_text(encoding="utf-8"))
    for rule in _rules():
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in {OPERATIONS}"


def test_every_expression_parses() -> None:
    for where, text in _all_queries():
        try:
            _promql(text)
        except ValueError as exc:
            pytest.fail(f"{where}: {exc}\n{text}")


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_has_its_variables_and_a_query_in_every_panel() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "sync"} <= variables.keys()
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    panels = _graph_panels()
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target["expr"].strip(), (panel["title"], target["refId"])
            assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_panels_do_not_overlap() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in _panels(_dashboard()):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[x, y]!r}"
                taken[x, y] = panel["title"]


# --- the kustomize component -----------------------------------------------------------------


def test_the_component_is_generated_from_the_chart(capsys: pytest.CaptureFixture[str]) -> None:
    code = gen_monitoring.main(["--check"])
    assert code == 0, capsys.readouterr().err


def test_the_generator_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    assert gen_monitoring.main(["--check", "--output", str(tmp_path)]) == 1  # missing
    assert gen_monitoring.main(["--output", str(tmp_path)]) == 0
    assert gen_monitoring.main(["--check", "--output", str(tmp_path)]) == 0
    (tmp_path / "dashboard.json").write_text("{}\n", encoding="utf-8")
    assert gen_monitoring.main(["--check", "--output", str(tmp_path)]) == 1


def test_the_component_ships_the_charts_rules_and_dashboard(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    objects = render_base_with(overlay, "monitoring")
    rule = find_one(objects, "PrometheusRule", "modelsync")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "modelsync-system"
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    config_map = find_one(objects, "ConfigMap", "modelsync-dashboard")
    kubernetes_validate.validate(config_map, kubernetes_validate.latest_version(), strict=True)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"] == {"dashboard.json": DASHBOARD_FILE.read_text(encoding="utf-8")}


# --- against a running operator --------------------------------------------------------------


def _metrics_page(url: str) -> str:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.text


def _exported_names(text: str) -> dict[str, set[str]]:
    """{series name: label names seen} from a /metrics page. A family declares its series
    names by type (a counter `x` is `x_total`, a histogram `x_bucket`, `x_sum`, `x_count`)
    even before it has samples."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("_sum", "_count"),
    }
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in suffixes.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


@pytest.mark.e2e
@pytest.mark.sandbox_only(
    reason="the metric names are the operator's own, whichever API server it talks to"
)
def test_every_metric_named_is_exported_by_the_operator(scenario: Scenario) -> None:
    name = "monitored"
    scenario.create_sync(name, select={"mlRepos": ["churn"]})
    scenario.wait_condition(name, "True", "Synced")
    scenario.catalog.faults.fail_next(1, 503)  # one failed pass: modelsync_sync_failures_total
    scenario.trigger(name)
    key = {"namespace": scenario.namespace, "sync": name}

    def failure_counted() -> str | None:
        page = _metrics_page(scenario.e2e.metrics_url)
        families = text_string_to_metric_families(page)
        counted = any(
            s.name == "modelsync_sync_failures_total" and key.items() <= s.labels.items()
            for family in families
            for s in family.samples
        )
        return page if counted else None

    exported = _exported_names(scenario.wait(failure_counted, "the failed pass in /metrics"))
    for where, text in _all_queries():
        for name, labels in _selectors(_promql(text)):
            assert name in exported, f"{where} names {name}, which the operator does not export"
            unknown = labels - exported[name] - TARGET_LABELS
            assert not unknown, f"{where}: {name} has no label {sorted(unknown)}"
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, variable["name"]
        ((name, _),) = _selectors(_promql(match["selector"]))
        known = exported[name] | TARGET_LABELS
        assert match["label"] in known, f"variable {variable['name']}: no {match['label']}"
