"""deploy/k8s/docstore/files/grafana-dashboard.json: valid Grafana JSON whose data source is the
`${datasource}` variable, with the panels on-call needs, querying only metrics the code defines
(so a renamed metric breaks this test, not the dashboard at 3 a.m.)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "k8s" / "docstore" / "files" / "grafana-dashboard.json"
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",), "gauge": ("",)}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "by", "without", "rate", "increase", "histogram_quantile", "label_values",
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "offset",
}  # fmt: skip
NEEDED = {
    "request rate": "http_request_duration_seconds_count",
    "latency": "http_request_duration_seconds_bucket",
    "consumer lag": "docstore_consumer_lag_messages",
    "handler duration": "docstore_event_handler_duration_seconds_bucket",
    "dead letters": "docstore_dead_letters_total",
    "outbox backlog": "docstore_outbox_pending_rows",
    "outbox age": "docstore_outbox_oldest_pending_age_seconds",
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def series_names(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


@pytest.fixture(scope="module")
def defined_metrics() -> set[str]:
    """Every series name the code registers: request histograms, event metrics, the gateway's."""
    import docstore_gateway.adapters.upstreams  # noqa: F401
    import docstore_indexer.adapters.preview_metrics  # noqa: F401
    import docstore_kit.health  # noqa: F401
    from docstore_messaging.metrics import EVENTS_REGISTRY

    return series_names(REGISTRY) | series_names(EVENTS_REGISTRY)


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [target for panel in dashboard["panels"] for target in panel.get("targets", [])]


def metrics_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", without_strings)
    without_grouping = re.sub(r"\b(by|without)\s*\([^)]*\)", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", without_grouping))
    return {word for word in words - PROMQL_WORDS if not word.startswith("__")}


def test_the_datasource_is_a_template_variable_used_everywhere(dashboard: dict[str, Any]) -> None:
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    assert all(target["datasource"]["uid"] == "${datasource}" for target in targets(dashboard))
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_query_names_only_metrics_the_code_defines(dashboard: dict[str, Any], defined_metrics: set[str]) -> None:
    used = set()
    for target in targets(dashboard):
        expr = target["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        used |= metrics_in(expr)
    assert used, "no query found"
    assert used <= defined_metrics, f"not defined by the code: {sorted(used - defined_metrics)}"
    missing = {need: name for need, name in NEEDED.items() if name not in used}
    assert not missing, f"no panel for {missing}"


def test_the_metric_check_catches_an_unknown_name(defined_metrics: set[str]) -> None:
    assert metrics_in('sum by (job) (rate(http_requests_totl{job=~"$job"}[$__rate_interval]))') == {
        "http_requests_totl"
    }
    assert "http_requests_totl" not in defined_metrics


def test_latency_panels_show_p50_and_p99(dashboard: dict[str, Any]) -> None:
    exprs = [target["expr"] for target in targets(dashboard)]
    for quantile in ("0.5", "0.99"):
        assert any(
            f"histogram_quantile({quantile}, " in e and "http_request_duration_seconds_bucket" in e for e in exprs
        )
