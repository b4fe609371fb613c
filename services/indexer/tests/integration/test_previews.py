"""Previews through the running indexer against real Kafka, MongoDB and S3: a recorded version
becomes two stored images and one `document.preview-ready` (once, however often the event
comes); failures are one `document.preview-failed` with a reason; `file.deleted` removes the
objects; the backfill gives catalogued documents from before previews theirs."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from docstore_devplatform.documents import png_bomb
from docstore_devplatform.testing import eventually
from docstore_events import DocumentPreviewFailed, DocumentPreviewReady, FileDeleted
from docstore_indexer.adapters.preview_store import PREVIEW_JOBS
from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.previews import entry_id
from docstore_indexer.service_layer.previews import PreviewBackfill

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


def png(size: tuple[int, int] = (1200, 900)) -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((100, 100, 700, 700), fill=(0, 90, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def keys_under(indexer: Harness, prefix: str) -> list[str]:
    bucket = indexer.settings.bucket_name(indexer.settings.region)
    listed = await asyncio.to_thread(indexer.s3.list_objects_v2, Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def prefix_of(indexer: Harness, account_id: str, document_id: str) -> str:
    return f"previews/{indexer.settings.region}/{account_id}/{document_id}/"


async def state_of(indexer: Harness, account_id: str, document_id: str, version: int) -> str | None:
    entry = await indexer.services.previews.reads.previews.get(entry_id(account_id, document_id, version))
    return entry.state if entry else None


async def settled(indexer: Harness, account_id: str, document_id: str, version: int) -> str | None:
    state = await state_of(indexer, account_id, document_id, version)
    return state if state in ("ready", "failed") else None


async def test_version_gets_previews_once_and_deletion_removes_them(indexer: Harness) -> None:
    account_id = f"acc-{uuid.uuid4().hex[:10]}"  # no plan known: Free, and previews all the same
    first = await indexer.upload(account_id, png(), content_type="image/png", filename="photo.png")
    record = await indexer.send(first)
    await indexer.resend(record)  # the very same record again, as Kafka may
    await indexer.send(first)  # and the same version under another event id
    document_id = first.document_id
    assert await eventually(lambda: settled(indexer, account_id, document_id, 1), timeout=90) == "ready"

    prefix = prefix_of(indexer, account_id, document_id)
    assert await keys_under(indexer, prefix) == [f"{prefix}v1/large.webp", f"{prefix}v1/small.webp"]
    bucket = indexer.settings.bucket_name(indexer.settings.region)
    head = await asyncio.to_thread(indexer.s3.head_object, Bucket=bucket, Key=f"{prefix}v1/small.webp")
    assert head["ContentType"] == "image/webp"

    ready = [e for e in await indexer.emitted(DocumentPreviewReady, expect=1) if e.data.document_id == document_id]
    assert len(ready) == 1, ready
    event = ready[0].data
    assert (event.version, event.small.key, event.large.key) == (1, f"{prefix}v1/small.webp", f"{prefix}v1/large.webp")
    assert (event.large.width, event.large.height, event.small.width, event.small.height) == (1024, 768, 256, 192)
    assert event.small.size == head["ContentLength"] and event.small.content_type == "image/webp"
    assert ready[0].subject == document_id
    body = await asyncio.to_thread(indexer.s3.get_object, Bucket=bucket, Key=event.large.key)
    assert Image.open(io.BytesIO(body["Body"].read())).size == (1024, 768)

    # A second version gets previews of its own beside the first.
    second = await indexer.upload(
        account_id, png((600, 800)), content_type="image/png", document_id=document_id, version=2
    )
    await indexer.send(second)
    assert await eventually(lambda: settled(indexer, account_id, document_id, 2), timeout=90) == "ready"
    assert len(await keys_under(indexer, prefix)) == 4

    # Version 1 pruned: its previews go, version 2's stay.
    await indexer.send(
        FileDeleted(account_id=account_id, document_id=document_id, versions=[1], size=1, whole_document=False)
    )

    async def only_v2() -> bool:
        return all("/v2/" in key for key in await keys_under(indexer, prefix))

    await eventually(only_v2)
    assert len(await keys_under(indexer, prefix)) == 2

    # The document purged: every preview goes, and a late event for it renders nothing.
    await indexer.send(
        FileDeleted(account_id=account_id, document_id=document_id, versions=[2], size=1, whole_document=True)
    )

    async def none_left() -> bool:
        return not await keys_under(indexer, prefix)

    await eventually(none_left)
    await indexer.send(first.model_copy(update={"version": 3}))
    await asyncio.sleep(3)  # nothing to wait for: the late version must stay unrendered
    assert await state_of(indexer, account_id, document_id, 3) is None
    assert await keys_under(indexer, prefix) == []


async def test_failures_are_one_event_with_a_reason(indexer: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A type without a renderer fails in the transaction that records its version: the worker is
    never handed it (the others are rendered, and fail there)."""
    handed_to_the_worker: list[str] = []
    previews = indexer.services.previews
    monkeypatch.setattr(
        previews,
        "on_due",
        lambda entry, on_due=previews.on_due: (handed_to_the_worker.append(entry.document_id), on_due(entry)),
    )
    account_id = f"acc-{uuid.uuid4().hex[:10]}"
    unsupported = await indexer.upload(account_id, b"PK\x03\x04zip", content_type="application/zip", filename="a.zip")
    corrupt = await indexer.upload(account_id, png()[:400], content_type="image/png", filename="broken.png")
    bomb = await indexer.upload(account_id, png_bomb(50_000, 50_000), content_type="image/png", filename="bomb.png")
    for event in (unsupported, corrupt, bomb):
        await indexer.send(event)
    for event in (unsupported, corrupt, bomb):
        await eventually(lambda e=event: settled(indexer, account_id, e.document_id, 1), timeout=90)

    failed = {
        e.data.document_id: e.data.reason
        for e in await indexer.emitted(DocumentPreviewFailed, expect=3)
        if e.data.account_id == account_id
    }
    assert failed[unsupported.document_id] == "unsupported type"
    assert "truncated" in failed[corrupt.document_id]
    assert "image too large" in failed[bomb.document_id]
    for event in (unsupported, corrupt, bomb):
        assert await keys_under(indexer, prefix_of(indexer, account_id, event.document_id)) == []
    assert unsupported.document_id not in handed_to_the_worker
    assert {corrupt.document_id, bomb.document_id} <= set(handed_to_the_worker)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (scripts/bootstrap installs it)")
async def test_a_video_is_streamed_to_disk_not_read_whole(
    indexer: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A video goes from S3 into a scratch file that the worker's ffmpeg reads: the render pool
    is given a path, never the bytes (a 200 MB video sits neither in the service nor the worker)."""
    clip = tmp_path / "clip.mp4"
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=3:size=640x360:rate=10"]
        + ["-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )
    data = await asyncio.to_thread(clip.read_bytes)
    pool = indexer.services.render_pool
    calls: list[tuple[str, str]] = []
    by_bytes, by_file = pool.render, pool.render_file

    async def render(data: bytes, content_type: str, timeout: float) -> Any:
        calls.append(("bytes", content_type))
        return await by_bytes(data, content_type, timeout)

    async def render_file(path: str, content_type: str, timeout: float) -> Any:
        calls.append(("file", content_type))
        assert await asyncio.to_thread(os.path.getsize, path) == len(data)  # the whole object, on disk
        return await by_file(path, content_type, timeout)

    monkeypatch.setattr(pool, "render", render)
    monkeypatch.setattr(pool, "render_file", render_file)
    account_id = f"acc-{uuid.uuid4().hex[:10]}"
    video = await indexer.upload(account_id, data, content_type="video/mp4", filename="clip.mp4")
    await indexer.send(video)
    settled_as = await eventually(lambda: settled(indexer, account_id, video.document_id, 1), timeout=90)
    entry = await indexer.services.previews.reads.previews.get(entry_id(account_id, video.document_id, 1))
    assert settled_as == "ready", entry
    assert calls == [("file", "video/mp4")]
    prefix = prefix_of(indexer, account_id, video.document_id)
    assert await keys_under(indexer, prefix) == [f"{prefix}v1/large.webp", f"{prefix}v1/small.webp"]


async def catalogued_before_previews(indexer: Harness, account_id: str, count: int, *, version: int) -> list[str]:
    """`count` PNG documents in S3 and the catalog, with no preview entry (as before the upgrade)."""
    bucket = indexer.settings.bucket_name(indexer.settings.region)
    documents = []
    for n in range(count):
        document_id = f"doc-old-{n}-{uuid.uuid4().hex[:6]}"
        key = f"{account_id}/{document_id}/up"
        await asyncio.to_thread(indexer.s3.put_object, Bucket=bucket, Key=key, Body=png(), ContentType="image/png")
        await indexer.services.reads.catalog.put(
            CatalogEntry(
                account_id=account_id,
                document_id=document_id,
                upload_id=f"up-{n}",
                version=version,
                uploaded_at=datetime.now(UTC),
                bucket=bucket,
                key=key,
                content_type="image/png",
                size=1000,
                name=f"old-{n}.png",
            )
        )
        documents.append(document_id)
    return documents


async def test_backfill_gives_older_documents_previews(indexer: Harness) -> None:
    """Documents catalogued before previews existed (no preview entry) are marked due by the
    backfill, page by page with its cursor in MongoDB, and rendered."""
    services = indexer.services
    await services.preview_backfill.stop()  # the app's own run at start: this test drives the steps itself
    account_id = f"acc-{uuid.uuid4().hex[:10]}"
    documents = await catalogued_before_previews(indexer, account_id, 3, version=2)
    # A fresh job, as on the first start after the upgrade (the one made at this test's start is complete).
    await services.runtime.db[PREVIEW_JOBS].delete_many({})
    backfill = services.preview_backfill
    backfill.page = 2  # two steps at least: the cursor moves between them
    assert await backfill.run_once() is True
    job = await services.runtime.db[PREVIEW_JOBS].find_one({"_id": "backfill"})
    assert job is not None and job["state"] == "complete" and job["done"] >= 3 and job["created"] >= 3
    for document_id in documents:
        assert await eventually(lambda d=document_id: settled(indexer, account_id, d, 2), timeout=90) == "ready"
    # Run again: nothing new (the job is complete; a rerun from scratch would find every version known).
    await services.runtime.db[PREVIEW_JOBS].delete_many({})
    assert await backfill.run_once() is True
    job = await services.runtime.db[PREVIEW_JOBS].find_one({"_id": "backfill"})
    assert job is not None and job["created"] == 0


async def test_backfill_resumes_from_its_cursor_when_its_walker_dies(indexer: Harness) -> None:
    """A replica walks one page and dies (its lease runs out): another takes the job over from the
    cursor in MongoDB, neither starting again nor skipping (every live document counted once:
    `done` ends equal to `total`), and the documents get their previews."""
    services = indexer.services
    await services.preview_backfill.stop()
    account_id = f"acc-{uuid.uuid4().hex[:10]}"
    documents = await catalogued_before_previews(indexer, account_id, 5, version=1)
    jobs_collection = services.runtime.db[PREVIEW_JOBS]
    await jobs_collection.delete_many({})
    previews, reads = services.previews, services.previews.reads

    def walker() -> PreviewBackfill:
        return PreviewBackfill(previews, reads, documents_per_second=1000, page=2, lease_seconds=60)

    first, second = walker(), walker()
    await reads.jobs.create(await reads.jobs.count_live_documents(), datetime.now(UTC))
    job = await reads.jobs.claim(first.owner, first.lease_seconds)
    assert job is not None
    step = await previews.backfill_step(first.owner, str(job["cursor"]), first.page)  # one page, then it dies
    assert step is not None
    cursor, seen, _, finished = step
    assert not finished and seen == 2
    stored = await jobs_collection.find_one({"_id": "backfill"})
    assert stored is not None and (stored["cursor"], stored["done"], stored["lease_owner"]) == (cursor, 2, first.owner)

    assert await second.run_once() is False  # the first still holds the lease: the second waits
    await jobs_collection.update_one(
        {"_id": "backfill"}, {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert await second.run_once() is True  # the lease ran out: the second goes on from the cursor
    stored = await jobs_collection.find_one({"_id": "backfill"})
    assert stored is not None and stored["state"] == "complete" and stored["lease_owner"] is None
    assert stored["done"] == stored["total"] >= len(documents)
    for document_id in documents:
        assert await eventually(lambda d=document_id: settled(indexer, account_id, d, 1), timeout=90) == "ready"
