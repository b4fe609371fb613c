"""analytics in-process against real Kafka and MongoDB: a day of events through the consumer,
the same day replayed (other batches, other order) changing nothing, the roll-ups wiped and
rebuilt equal, the CSV export recorded for the audit trail, and no account reading another's."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from docstore_analytics.adapters.repositories import DAILY, DOCUMENTS, LINK_DAILY, LINKS
from docstore_analytics.consumers.handlers import fact
from docstore_analytics.main import create_app
from docstore_analytics.settings import Settings
from docstore_devplatform.testing import EventPublisher
from docstore_events import decode
from docstore_events.accounts import AccountCreated, AccountPlanChanged
from docstore_events.activity import FileDownloadUrlIssued
from docstore_events.files import FileDeleted, FileRestored, FileTrashed, FileVersionRecorded, ShareCreated
from docstore_events.indexing import DocumentIndexFailed
from docstore_events.shares import ShareLinkCreated, ShareLinkUsed
from docstore_events.uploads import UploadCompleted

pytestmark = pytest.mark.integration

DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(minute: int) -> datetime:
    return DAY + timedelta(minutes=minute)


@pytest_asyncio.fixture
async def app(isolated: dict[str, str]) -> AsyncIterator[FastAPI]:
    application = create_app(Settings(**isolated, rebuild_wait_seconds=0.05))
    async with application.router.lifespan_context(application):
        yield application


def client(app: FastAPI, subject: str, role: str = "user") -> httpx.AsyncClient:
    auth = app.state.internal_auth.client_auth("analytics", subject=subject, role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a", auth=auth)


def version(account: str, doc: str, v: int, size: int, content_type: str = "application/pdf") -> FileVersionRecorded:
    return FileVersionRecorded(
        account_id=account,
        document_id=doc,
        version=v,
        upload_id=f"u-{doc}-{v}",
        bucket="b",
        key="k",
        filename=f"{doc}.dat",
        content_type=content_type,
        size=size,
        sha256="0" * 64,
    )


def uploaded(account: str, doc: str, v: int, size: int) -> UploadCompleted:
    return UploadCompleted(
        account_id=account,
        upload_id=f"u-{doc}-{v}",
        document_id=doc,
        bucket="b",
        key="k",
        filename=f"{doc}.pdf",
        content_type="application/pdf",
        size=size,
        etag="e",
        sha256="0" * 64,
    )


def a_day(alice: str, bob: str) -> list[tuple[Any, datetime]]:
    """A day of two people's events, each with its time (the trash is sent before its version)."""
    events: list[tuple[Any, datetime]] = [
        (AccountCreated(account_id=alice, username="alice", email="a@x", plan="free", home_region="r"), at(0)),
        (AccountCreated(account_id=bob, username="bob", email="b@x", plan="free", home_region="r"), at(1)),
        (AccountPlanChanged(account_id=alice, old_plan="free", new_plan="premium"), at(300)),
        (FileTrashed(account_id=bob, document_id="b-old"), at(200)),
    ]
    for n, (size, kind) in enumerate([(1000, "application/pdf"), (2000, "image/png"), (300, "text/plain")]):
        doc = f"a-{n}"
        events += [(version(alice, doc, 1, size, kind), at(10 + n)), (uploaded(alice, doc, 1, size), at(10 + n))]
    events += [
        (version(alice, "a-0", 2, 1500), at(60)),
        (uploaded(alice, "a-0", 2, 1500), at(60)),
        (version(bob, "b-old", 1, 700), at(20)),
        (version(bob, "b-keep", 1, 50), at(21)),
        (FileTrashed(account_id=alice, document_id="a-2"), at(90)),
        (FileRestored(account_id=alice, document_id="a-2"), at(95)),
        (FileTrashed(account_id=alice, document_id="a-1"), at(100)),
        (FileDeleted(account_id=alice, document_id="a-1", versions=[1], size=2000), at(110)),
        (ShareCreated(account_id=alice, document_id="a-0", grantee_id=bob, permission="view"), at(120)),
        (FileDownloadUrlIssued(account_id=bob, document_id="a-0", owner_id=alice, version=2, name="a-0.pdf"), at(121)),
        (
            FileDownloadUrlIssued(account_id=alice, document_id="a-0", owner_id=alice, version=2, name="a-0.pdf"),
            at(122),
        ),
        (DocumentIndexFailed(account_id=bob, document_id="b-keep", version=1, reason="corrupt"), at(22)),
        (
            ShareLinkCreated(
                account_id=alice,
                link_id="L-alice",
                document_id="a-0",
                document_name="a-0.pdf",
                expires_at=DAY + timedelta(days=7),
                actor_id=alice,
            ),
            at(130),
        ),
        (
            ShareLinkCreated(
                account_id=bob,
                link_id="L-bob",
                document_id="b-keep",
                document_name="secret-b.pdf",
                expires_at=DAY + timedelta(days=7),
                actor_id=bob,
            ),
            at(131),
        ),
    ]
    for n in range(3):
        used = ShareLinkUsed(
            account_id=alice, link_id="L-alice", document_id="a-0", document_name="a-0.pdf", version=2, downloads=n + 1
        )
        events.append((used, at(140 + n)))
    events.append(
        (
            ShareLinkUsed(
                account_id=bob,
                link_id="L-bob",
                document_id="b-keep",
                document_name="secret-b.pdf",
                version=1,
                downloads=1,
            ),
            at(150),
        )
    )
    return events


async def snapshot(app: FastAPI) -> dict[str, Any]:
    db = app.state.services.runtime.db
    out: dict[str, Any] = {}
    for name in (DAILY, LINK_DAILY, LINKS, DOCUMENTS):
        rows = [row async for row in db[name].find({}).sort("_id", 1)]
        out[name] = [json.loads(json.dumps(row, default=str, sort_keys=True)) for row in rows]
    return out


async def eventually(probe: Any, timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


async def test_a_day_replayed_twice_and_rebuilt_gives_the_same_rollups(app: FastAPI, publisher: EventPublisher) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    records = [await publisher.send(event, time=time) for event, time in a_day(alice, bob)]
    day = DAY.date().isoformat()

    async with client(app, alice) as me:

        async def settled() -> dict[str, Any] | None:
            body = (await me.get("/analytics/usage", params={"days": 3})).json()
            point = next(p for p in body["days"] if p["day"] == day)
            links = (await me.get("/analytics/links", params={"days": 3})).json()
            done = point.get("downloads") == 2 and links["links"] and links["links"][0]["downloads"] == 3
            return body if done and point.get("uploads") == 4 and body["now"]["documents"] == 2 else None

        usage = await eventually(settled)
    point = next(p for p in usage["days"] if p["day"] == day)
    # a-0: v2 1500 current, v1 1000 old; a-1 trashed then purged; a-2 trashed and restored: 300 current
    assert (point["current_bytes"], point["old_bytes"], point.get("trash_bytes", 0)) == (1800, 1000, 0)
    assert point["upload_bytes"] == 1000 + 2000 + 300 + 1500
    assert point["shares"] == 1 and point["link_downloads"] == 3
    assert usage["now"]["by_type"] == {"pdf": 1, "text": 1}
    assert [d["document_id"] for d in usage["largest"]] == ["a-0", "a-2"]
    assert [d["document_id"] for d in usage["old_versions"]] == ["a-0"]

    async with client(app, "admin-1", role="admin") as admin:
        overview = (await admin.get("/admin/analytics", params={"days": 3})).json()
        system = next(p for p in overview["days"] if p["day"] == day)
        # bob's b-old: trashed (sent first, at 200) after its version (at 20): 700 in the trash
        assert system["trash_bytes"] >= 700 and system["index_failures"] >= 1
        assert overview["now"]["accounts_by_plan"].get("premium", 0) >= 1
        before = await snapshot(app)

        # The same day again, straight into the consumer's handler, in other batches and order.
        envelopes = [decode(record.headers, record.value) for record in records]
        random.Random(7).shuffle(envelopes)
        recorder = app.state.services.recorder
        for start in range(0, len(envelopes), 5):
            assert await recorder.apply([fact(e) for e in envelopes[start : start + 5]]) == frozenset()
        assert await snapshot(app) == before

        # Wiped, then rebuilt from the ledger: equal.
        db = app.state.services.runtime.db
        for name in (DAILY, LINK_DAILY, LINKS, DOCUMENTS):
            await db[name].delete_many({})
        assert (await snapshot(app))[DAILY] == []
        rebuilt = (await admin.post("/admin/analytics/rebuild")).json()
        assert rebuilt["facts"] >= len(records)
        assert await snapshot(app) == before

        # An export is an audit record.
        csv = await admin.get("/admin/analytics/export/most-downloaded")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("document_id,owner,downloads")
        assert any(line.startswith(f"a-0,{alice},2,3,1") for line in csv.text.splitlines())
        assert "a-0.pdf" not in csv.text  # ids and counts, never names
        rows = db["outbox"].find({"key": b"admin-1"})
        types = [row["headers"]["ce_type"] async for row in rows]
        assert "docstore.admin.analytics-exported" in types
        assert (await admin.get("/admin/analytics/export/accounts")).status_code == 422

    # One account never learns about another's links or the system's figures.
    async with client(app, alice) as me:
        links = (await me.get("/analytics/links")).json()["links"]
        assert [link["link_id"] for link in links] == ["L-alice"]
        assert "secret-b" not in json.dumps(links)
        for path in ("/admin/analytics", "/admin/analytics/top/most-downloaded", "/admin/analytics/export/series"):
            assert (await me.get(path)).status_code == 403
        assert (await me.post("/admin/analytics/rebuild")).status_code == 403
