"""quota in-process against real Kafka, MongoDB and S3: the ledger, warnings, plans,
the counting rule, reconciliation with S3 and the admin dashboard (DLQ included)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from docstore_devplatform.testing import EventPublisher
from docstore_events import (
    AccountCreated,
    AccountPlanChanged,
    FileDeleted,
    FileRestored,
    FileTrashed,
    UploadCompleted,
)
from docstore_kit.s3 import S3Settings, make_s3_client
from docstore_messaging.consumer import DLQ_CONSUMER, DLQ_ERROR, DLQ_ORIGINAL_TOPIC
from docstore_quota.main import create_app
from docstore_quota.settings import Settings

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"


async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture
async def region() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture
async def app(isolated: dict[str, str], region: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        **{**isolated, "region": region},
        s3_bucket=BUCKET,
        free_cap_bytes=1000,
        premium_cap_bytes=10_000,
        reconcile_interval_seconds=0,
        metrics_interval_seconds=0.5,
    )
    async for application in running(settings):
        yield application


def client(app: FastAPI, *, subject: str = "upload", role: str = "service", signed: bool = True) -> httpx.AsyncClient:
    """A client of the in-process app, signing every request as `subject` with `role` (by
    default as the upload service), or sending no identity token at all."""
    auth = app.state.internal_auth.client_auth("quota", subject=subject, role=role) if signed else None
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q", auth=auth)


def admin(app: FastAPI) -> httpx.AsyncClient:
    return client(app, subject="admin-1", role="admin")


async def usage(app: FastAPI, account_id: str) -> dict[str, Any]:
    async with client(app) as c:
        return (await c.get(f"/internal/accounts/{account_id}/room")).json()


async def eventually(probe, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def used_is(app: FastAPI, account_id: str, expected: int, field: str = "used_bytes") -> dict[str, Any]:
    async def probe():
        body = await usage(app, account_id)
        return body if body[field] == expected else None

    return await eventually(probe)


async def emitted(app: FastAPI, account_id: str) -> list[tuple[str, dict]]:
    import json

    rows = app.state.services.runtime.db["outbox"].find({"key": account_id.encode()}).sort("seq", 1)
    return [(row["headers"]["ce_type"].removeprefix("docstore."), json.loads(row["value"])) async for row in rows]


def uploaded(account_id: str, size: int, document_id: str | None = None, **extra: Any) -> UploadCompleted:
    document_id = document_id or f"doc-{uuid.uuid4().hex[:8]}"
    return UploadCompleted(
        account_id=account_id,
        upload_id=f"up-{uuid.uuid4().hex[:8]}",
        document_id=document_id,
        bucket=BUCKET,
        key=f"k/{document_id}",
        filename="f.txt",
        content_type="text/plain",
        size=size,
        etag="e",
        sha256="s",
        **extra,
    )


def deleted(account_id: str, document_id: str, size: int) -> FileDeleted:
    return FileDeleted(account_id=account_id, document_id=document_id, versions=[1], size=size)


async def test_warnings_cap_and_restore_each_once_and_redelivery_counts_once(
    app: FastAPI, publisher: EventPublisher
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    await publisher.send(
        AccountCreated(account_id=account, username="u", email="u@example.com", plan="free", home_region="us-west-2")
    )
    first = uploaded(account, 700, "d1")
    event_id = (await publisher.send(first)).id
    await publisher.send(first, event_id=event_id)  # redelivered
    await publisher.send(uploaded(account, 100, "d2"))  # 80%
    await used_is(app, account, 800)
    await publisher.send(uploaded(account, 160, "d3"))  # 96%
    await publisher.send(uploaded(account, 10, "d4"))  # 97%: nothing new
    await used_is(app, account, 970)
    await publisher.send(uploaded(account, 100, "d5"))  # over
    body = await used_is(app, account, 1070)
    assert body["over_quota"] and body["room_bytes"] == 0
    await publisher.send(deleted(account, "d5", 100))
    await publisher.send(deleted(account, "d3", 160))  # 81%: 95 re-armed
    body = await used_is(app, account, 810)
    assert not body["over_quota"] and body["room_bytes"] == 190 and body["documents"] == 3
    await publisher.send(uploaded(account, 150, "d6"))  # 96% again: 95 announced again
    await used_is(app, account, 960)

    events = [(kind, data.get("percent")) for kind, data in await emitted(app, account)]
    assert events == [
        ("quota.warning-reached", 80),
        ("quota.warning-reached", 95),
        ("quota.exceeded", None),
        ("quota.restored", None),
        ("quota.warning-reached", 95),
    ]


async def test_a_deletion_before_its_upload_nets_out_and_plan_changes_apply_both_ways(
    app: FastAPI, publisher: EventPublisher
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    await publisher.send(deleted(account, "early", 300))  # out of order: the purge first
    await publisher.send(uploaded(account, 1500, "big"))
    body = await used_is(app, account, 1200, field="stored_bytes")
    assert body["over_quota"] and body["used_bytes"] == 1500  # "early" counts nothing while negative
    await publisher.send(uploaded(account, 300, "early"))
    body = await used_is(app, account, 1500, field="stored_bytes")
    assert body["used_bytes"] == 1500 and body["documents"] == 1

    await publisher.send(AccountPlanChanged(account_id=account, old_plan="free", new_plan="premium"))
    body = await eventually(lambda: _flag(app, account, False))
    assert body["plan"] == "premium" and body["cap_bytes"] == 10_000 and body["room_bytes"] == 8500
    # An account.created older than the plan change arrives late: it must not undo it.
    await publisher.send(
        AccountCreated(account_id=account, username="u", email="u@example.com", plan="free", home_region="us-west-2"),
        time=datetime.now(UTC) - timedelta(minutes=5),
    )
    # The `isolated` topics have one partition, applied in order: once an account created after
    # the late one counts, the late one was handled too (no guessed wait).
    await applied_after(app, publisher)
    assert (await usage(app, account))["plan"] == "premium"
    await publisher.send(AccountPlanChanged(account_id=account, old_plan="premium", new_plan="free"))
    body = await eventually(lambda: _flag(app, account, True))
    assert body["plan"] == "free" and body["room_bytes"] == 0
    kinds = [kind for kind, _ in await emitted(app, account)]
    assert kinds == ["quota.exceeded", "quota.restored", "quota.exceeded"]


async def applied_after(app: FastAPI, publisher: EventPublisher) -> None:
    """Send an `account.created` of a new premium account and wait until it counts: every
    `account.created` sent before it has been handled (one partition, applied in order)."""
    marker = f"acc-{uuid.uuid4().hex[:8]}"
    await publisher.send(
        AccountCreated(account_id=marker, username="m", email="m@example.com", plan="premium", home_region="us-west-2")
    )
    await eventually(lambda: _plan(app, marker, "premium"))


async def _plan(app: FastAPI, account: str, plan: str):
    body = await usage(app, account)
    return body if body["plan"] == plan else None


async def _flag(app: FastAPI, account: str, over: bool):
    body = await usage(app, account)
    return body if body["over_quota"] is over else None


async def test_trash_can_be_left_out_of_usage(isolated: dict[str, str], region: str, publisher: EventPublisher) -> None:
    settings = Settings(
        **{**isolated, "region": region},
        s3_bucket=BUCKET,
        free_cap_bytes=1000,
        count_trash=False,
        reconcile_interval_seconds=0,
    )
    async for app in running(settings):
        account = f"acc-{uuid.uuid4().hex[:8]}"
        await publisher.send(uploaded(account, 600, "keep"))
        await publisher.send(uploaded(account, 300, "bin"))
        await used_is(app, account, 900)
        await publisher.send(FileTrashed(account_id=account, document_id="bin"))
        body = await used_is(app, account, 600)
        assert body["stored_bytes"] == 900  # still in S3
        await publisher.send(FileRestored(account_id=account, document_id="bin"))
        await used_is(app, account, 900)
        await publisher.send(FileTrashed(account_id=account, document_id="bin"))
        await used_is(app, account, 600)
        await publisher.send(deleted(account, "bin", 300))  # purged from the trash
        body = await used_is(app, account, 600, field="stored_bytes")
        assert body["used_bytes"] == 600 and body["room_bytes"] == 400


async def test_admin_dashboard_totals_top_over_quota_and_reconciliation(
    app: FastAPI, publisher: EventPublisher, region: str, endpoints: Any
) -> None:
    s3 = make_s3_client(S3Settings(s3_endpoint_url=endpoints.s3_endpoint))
    big, small = f"acc-{uuid.uuid4().hex[:8]}", f"acc-{uuid.uuid4().hex[:8]}"
    for account, size in ((big, 1200), (small, 10)):
        event = uploaded(account, size)
        s3.put_object(Bucket=BUCKET, Key=f"{region}/{account}/{event.document_id}/{event.upload_id}", Body=b"x" * size)
        await publisher.send(event)
    await used_is(app, big, 1200)
    await used_is(app, small, 10)

    async with client(app, signed=False) as bare:
        # The old bare headers are no identity at all, even when they claim admin.
        for headers in ({}, {"X-Account-Id": "someone"}, {"X-Account-Id": "x", "X-Account-Role": "admin"}):
            assert (await bare.get("/admin/totals", headers=headers)).status_code == 401
    for role in ("user", "service"):
        async with client(app, subject="someone", role=role) as other:
            assert (await other.get("/admin/totals")).status_code == 403
    async with admin(app) as c:
        totals = (await c.get("/admin/totals")).json()
        assert totals["plans"]["free"]["documents"] >= 2 and totals["all"]["stored_bytes"] >= 1210
        top = (await c.get("/admin/accounts/top", params={"limit": 1})).json()
        assert [a["account_id"] for a in top["items"]] == [big] and top["next"]
        second = (await c.get("/admin/accounts/top" + top["next"])).json()
        assert len(second["items"]) == 1 and second["items"][0]["account_id"] != big
        over = (await c.get("/admin/accounts/over-quota")).json()
        assert [a["account_id"] for a in over["items"]] == [big] and over["next_cursor"] is None
        assert (await c.get("/admin/accounts/over-quota", params={"cursor": "garbage"})).status_code == 422

        report = (await c.post("/admin/reconciliation")).json()
        assert report["drifting_accounts"] == 0 and report["s3_bytes"] == 1210 and report["fixed"] is False
        # An object the ledger never heard of, and bytes the ledger counts that S3 lost.
        s3.put_object(Bucket=BUCKET, Key=f"{region}/{small}/stray/up", Body=b"y" * 5)
        await publisher.send(uploaded(big, 50))
        await used_is(app, big, 1250)
        report = (await c.post("/admin/reconciliation")).json()
        assert report["drifts"] == [
            {"account_id": big, "ledger_bytes": 1250, "s3_bytes": 1200, "drift_bytes": 50},
            {"account_id": small, "ledger_bytes": 10, "s3_bytes": 15, "drift_bytes": -5},
        ]
        assert (await c.get("/admin/reconciliation")).json()["id"] == report["id"]
        assert (await usage(app, big))["used_bytes"] == 1250  # reported, never "fixed"
        metrics = (await c.get("/metrics")).text
        assert "docstore_quota_drifting_accounts 2.0" in metrics
        assert 'docstore_quota_stored_bytes{plan="free"}' in metrics
        assert 'docstore_quota_upload_size_bytes_bucket{le="10000.0",plan="free"}' in metrics


async def test_dead_letters_are_listed_with_paging_and_replayed_idempotently(
    app: FastAPI, publisher: EventPublisher, isolated: dict[str, str]
) -> None:
    prefix = isolated["kafka_topic_prefix"]
    account = f"acc-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}docstore.upload.completed"
    dlq_headers = {
        DLQ_ERROR: "RuntimeError: boom",
        DLQ_ORIGINAL_TOPIC: topic,
        DLQ_CONSUMER: "quota",
        "x-dlq-attempts": "5",
    }
    ids = [
        (await publisher.send(uploaded(account, 100 + n), topic=f"{topic}.dlq", headers=dlq_headers)).id
        for n in range(3)
    ]
    async with admin(app) as c:
        first = (await c.get("/admin/dlq", params={"limit": 2})).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = (await c.get("/admin/dlq", params={"limit": 2, "cursor": first["next_cursor"]})).json()
        items = first["items"] + second["items"]
        assert second["next_cursor"] is None
        assert sorted(item["event_id"] for item in items) == sorted(ids)
        assert all(
            i["original_topic"] == topic and i["error"] == "RuntimeError: boom" and i["consumer"] == "quota"
            for i in items
        )
        letter = next(i for i in items if i["event_id"] == ids[0])
        path = f"/admin/dlq/{letter['topic']}/{letter['partition']}/{letter['offset']}/replay"
        async with client(app, subject="x", role="user") as user:
            assert (await user.post(path)).status_code == 403
        replayed = await c.post(path)
        assert replayed.status_code == 200 and replayed.json()["topic"] == topic
        await used_is(app, account, 100)
        assert (await c.post(path)).status_code == 200  # twice: harmless
        # The replay published before answering, on the topic's one partition: once an upload
        # sent after it counts, the second replay was handled too (no guessed wait).
        await publisher.send(uploaded(account, 1))
        await used_is(app, account, 101)
        missing = await c.post(f"/admin/dlq/{letter['topic']}/{letter['partition']}/99999/replay")
        assert missing.status_code == 404
