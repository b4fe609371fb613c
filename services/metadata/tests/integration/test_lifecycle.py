"""The metadata app stops everything it started, even when it stops at once: a Kafka consumer left
running after its service stopped keeps fetching, and once its topics are gone it asks the broker
for metadata in a tight loop (CI found one busying the test process and the broker for minutes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from docstore_devplatform.testing import kafka_consumers_left_running, running_kafka_consumer_loops
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stay_seconds", [0.0, 0.3, 3.0])
async def test_a_stopped_app_leaves_no_consumer_running(
    endpoints: Any, isolated: dict[str, str], stay_seconds: float
) -> None:
    # 0 and 0.3 s stop it while the audit consumer is still joining its group; 3 s once it runs.
    before = running_kafka_consumer_loops()
    app = create_app(Settings(**isolated, s3_bucket="docstore-us-west-2", s3_endpoint_url=endpoints.s3_endpoint))
    async with app.router.lifespan_context(app):
        await asyncio.sleep(stay_seconds)
    left = await kafka_consumers_left_running(before)
    assert not left, f"consumers still running after the app stopped: {sorted(t.get_coro().__qualname__ for t in left)}"
