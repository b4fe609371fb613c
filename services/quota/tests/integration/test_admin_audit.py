"""quota's admin actions are audit sources: a dead-letter replay and a reconciliation run each put
exactly one event in the outbox, keyed by the administrator; a refused replay records nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from docstore_devplatform.testing import EventPublisher
from docstore_events import UploadCompleted
from docstore_events.activity import DeadLetterReplayed, ReconciliationRan
from docstore_events.base import Event
from docstore_events.envelope import decode
from docstore_messaging.consumer import DLQ_CONSUMER, DLQ_ERROR, DLQ_ORIGINAL_TOPIC
from docstore_quota.main import create_app
from docstore_quota.settings import Settings

pytestmark = pytest.mark.integration

ADMIN = "admin-audit-1"


@pytest_asyncio.fixture
async def app(isolated: dict[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(
        **{**isolated, "region": f"t-{uuid.uuid4().hex[:8]}"},
        s3_bucket="docstore-us-west-2",
        reconcile_interval_seconds=0,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def admin(app: FastAPI) -> httpx.AsyncClient:
    auth = app.state.internal_auth.client_auth("quota", subject=ADMIN, role="admin")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q", auth=auth)


async def emitted(app: FastAPI, event_class: type[Event]) -> list[Any]:
    """Events of `event_class` in the service's outbox, in write order."""
    rows = (
        await app.state.services.runtime.db["outbox"]
        .find({"headers.ce_type": event_class.cloudevent_type()})
        .sort("seq", 1)
        .to_list(None)
    )
    return [decode(row["headers"], row["value"]).data for row in rows]


async def test_a_replay_records_one_event_for_the_admin(
    app: FastAPI, publisher: EventPublisher, isolated: dict[str, str]
) -> None:
    topic = f"{isolated['kafka_topic_prefix']}docstore.upload.completed"
    event = UploadCompleted(
        account_id=f"acc-{uuid.uuid4().hex[:8]}",
        upload_id="up-1",
        document_id="doc-1",
        bucket="docstore-us-west-2",
        key="k/doc-1",
        filename="f.txt",
        content_type="text/plain",
        size=10,
        etag="e",
        sha256="s",
    )
    headers = {DLQ_ERROR: "RuntimeError: boom", DLQ_ORIGINAL_TOPIC: topic, DLQ_CONSUMER: "quota"}
    sent = await publisher.send(event, topic=f"{topic}.dlq", headers=headers)
    async with admin(app) as c:
        [letter] = [
            i for i in (await c.get("/admin/dlq", params={"limit": 200})).json()["items"] if i["event_id"] == sent.id
        ]
        missing = await c.post(f"/admin/dlq/{letter['topic']}/{letter['partition']}/99999/replay")
        assert missing.status_code == 404
        assert await emitted(app, DeadLetterReplayed) == []

        replayed = await c.post(f"/admin/dlq/{letter['topic']}/{letter['partition']}/{letter['offset']}/replay")
        assert replayed.status_code == 200, replayed.text

    [recorded] = await emitted(app, DeadLetterReplayed)
    assert recorded.model_dump() == {
        "account_id": ADMIN,
        "dead_letter_topic": letter["topic"],
        "partition": letter["partition"],
        "offset": letter["offset"],
        "original_topic": topic,
        "event_id": sent.id,
    }


async def test_a_reconciliation_run_records_one_event_with_the_report(app: FastAPI) -> None:
    async with admin(app) as c:
        answer = await c.post("/admin/reconciliation")
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (await c.get("/admin/reconciliation")).status_code == 200  # reading records nothing
    [recorded] = await emitted(app, ReconciliationRan)
    assert recorded.account_id == ADMIN
    assert (recorded.report_id, recorded.accounts_checked, recorded.drifting_accounts) == (
        report["id"],
        report["accounts_checked"],
        report["drifting_accounts"],
    )
