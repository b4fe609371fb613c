"""The gateway's `/metrics`: answered directly (200, no redirect to `/metrics/`), with the request
histogram filled, and no empty event or outbox families (the gateway has neither). A process of
its own: in a shared test process another test's event runtime would add the event metrics."""

from __future__ import annotations

import json
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

SCRAPE = """
import asyncio, json, httpx
from docstore_gateway.main import create_app
from docstore_gateway.settings import Settings

async def main():
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/healthz")
        response = await client.get("/metrics")
    print(json.dumps({"status": response.status_code, "text": response.text}))

asyncio.run(main())
"""


def test_gateway_metrics_have_no_empty_families() -> None:
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_WEB_DIR": ""}
    done = subprocess.run([sys.executable, "-c", SCRAPE], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    families = {family.name: family for family in text_string_to_metric_families(answer["text"])}
    empty = sorted(name for name, family in families.items() if not family.samples)
    # The upstream histogram fills with the first forwarded request; nothing else may be empty.
    assert empty in ([], ["docstore_gateway_upstream_duration_seconds"]), empty
    assert not [name for name in families if name.startswith(("docstore_events", "docstore_outbox"))]
    durations = families["http_request_duration_seconds"].samples
    assert any(sample.labels.get("handler") == "/healthz" for sample in durations)
