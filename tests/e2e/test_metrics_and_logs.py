"""What an engineer on call reads from the running system: each service's `/metrics` (200 at
once, request histograms by route template, consumer lag per topic and partition, handler time
per event type, outbox backlog) and each service's log file, where every line is one JSON object
with the service, region, level, event and timestamp."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from docstore_devplatform.services import SERVICES

from .conftest import REGION_A, System, eventually, sign_up, upload

pytestmark = pytest.mark.e2e

CONSUMERS = ("gateway", "metadata", "quota", "indexer", "notify", "upload")
LAUNCHER_MARK = "=== "
"""The line devplatform's launcher writes into a log file before it starts the process."""


async def scrape(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(f"{url}/metrics")
    assert response.status_code == 200, f"{url}/metrics -> {response.status_code}"  # no redirect to /metrics/
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def labelled(families: dict[str, Any], name: str, **labels: str) -> list[Any]:
    family = families.get(name)
    samples = family.samples if family else []
    return [s for s in samples if all(s.labels.get(key) == value for key, value in labels.items())]


async def test_every_service_serves_metrics_an_on_call_engineer_can_use(api: httpx.AsyncClient, system: System) -> None:
    user = await sign_up(api)
    await upload(api, user, "metrics.txt", b"counted once")
    async with httpx.AsyncClient(timeout=30) as client:
        gateway = await scrape(client, system.gateway)
        assert labelled(gateway, "http_request_duration_seconds", handler="/v1/sessions", method="POST", status="201")
        assert labelled(gateway, "docstore_gateway_upstream_duration_seconds", upstream="upload", method="POST")
        # Its outbox carries the audit trail's sign-ins (issue 18); it consumes account.sessions-revoked.
        assert labelled(gateway, "docstore_outbox_pending_rows")

        upload_metrics = await scrape(client, system.urls["upload"])
        assert labelled(upload_metrics, "http_request_duration_seconds", handler="/uploads", method="POST")
        assert labelled(upload_metrics, "docstore_outbox_published", topic="docstore.upload.completed")
        assert labelled(upload_metrics, "docstore_outbox_pending_rows")
        assert labelled(upload_metrics, "docstore_outbox_oldest_pending_age_seconds")

        async def quota_measured() -> dict[str, Any] | None:
            quota = await scrape(client, system.urls["quota"])
            handled = labelled(quota, "docstore_event_handler_duration_seconds")
            # The lag is sampled every few seconds, from the consumer's own offsets.
            lag = labelled(quota, "docstore_consumer_lag_messages", group="quota", topic="docstore.upload.completed")
            return quota if handled and lag else None

        quota = await eventually(quota_measured, timeout=90)
        assert all(sample.value >= 0 for sample in labelled(quota, "docstore_consumer_lag_messages"))

        for name in CONSUMERS:
            families = await scrape(client, system.urls[name])
            assert "docstore_consumer_lag_messages" in families, name
            assert "docstore_dead_letters" in families, name  # a counter's family drops `_total`


def read_lines(path: Path) -> list[str]:
    text = path.read_text(errors="replace")
    return [line for line in text.splitlines() if line.strip() and not line.startswith(LAUNCHER_MARK)]


async def test_every_log_line_of_every_service_is_one_json_object(api: httpx.AsyncClient, system: System) -> None:
    user = await sign_up(api)
    await upload(api, user, "logged.txt", b"one line each")
    await api.get("/v1/documents/no-such-document", headers=user.auth)  # a marker in the access lines
    logs = Path(system.logs)

    async def request_lines_written() -> bool:
        text = await asyncio.to_thread((logs / "gateway.log").read_text, errors="replace")
        return '"http_request"' in text and "no-such-document" in text

    await eventually(request_lines_written, timeout=30)
    problems: list[str] = []
    traced = 0
    for name in SERVICES:
        lines = await asyncio.to_thread(read_lines, logs / f"{name}.log")
        assert lines, f"{name} wrote no log line"
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{name}.log line {number} is not JSON: {line[:200]}")
                continue
            missing = {"service", "region", "level", "event", "timestamp"} - set(entry)
            if missing or entry["service"] != name or entry["region"] != REGION_A:
                problems.append(f"{name}.log line {number} lacks {sorted(missing)} or is mislabelled: {line[:200]}")
            if "trace_id" in entry:
                traced += 1
                assert len(entry["trace_id"]) == 32 and len(entry["span_id"]) == 16, line
            assert "\x1b[" not in line, f"ANSI colour codes in {name}.log: {line[:200]}"
    assert not problems, "\n".join(problems[:20])
    assert traced, "no line carries the trace of the span it was written in"
