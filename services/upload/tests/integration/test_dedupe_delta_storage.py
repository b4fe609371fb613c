"""Dedupe and delta against a real S3 server (SeaweedFS): the server-side copies they make are
encrypted at rest like every other write, hold exactly the source's bytes, and the read-back
checks a chunk map chunk by chunk. (The whole flow through the gateway is proven by
clients/sync/tests/integration/test_dedupe_delta.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from docstore_kit.s3 import S3Settings, make_s3_client
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
MIB = 1024 * 1024


@pytest.fixture
def s3(endpoints) -> Any:
    return make_s3_client(S3Settings(s3_endpoint_url=endpoints.s3_endpoint))


@pytest.fixture
def storage(endpoints, s3) -> Storage:
    settings = S3Settings(s3_endpoint_url=endpoints.s3_endpoint)  # the default: SSE-S3
    return Storage(s3, make_s3_client(settings, public=True), BUCKET, encryption=settings.server_side_encryption())


def grant(size: int) -> Grant:
    upload_id = str(uuid.uuid4())
    return Grant(
        upload_id=upload_id,
        account_id="acct",
        document_id="doc",
        key=f"test/acct/doc/{upload_id}",
        filename="big.bin",
        content_type="application/octet-stream",
        declared_size=size,
        title=None,
        tags=[],
        path="/",
        expires_at=datetime.now(UTC),
    )


async def put_plain(s3: Any, data: bytes) -> str:
    """An object stored without asking for encryption (so a copy that forgot would show)."""
    key = f"test/acct/doc/{uuid.uuid4()}"
    await asyncio.to_thread(s3.put_object, Bucket=BUCKET, Key=key, Body=data)
    return key


async def read(s3: Any, key: str) -> tuple[bytes, str | None]:
    got = await asyncio.to_thread(s3.get_object, Bucket=BUCKET, Key=key)
    return got["Body"].read(), got.get("ServerSideEncryption")


async def test_a_deduplicated_copy_is_encrypted_and_holds_the_sources_bytes(storage: Storage, s3: Any) -> None:
    data = random.Random(1).randbytes(300_000)
    source = await put_plain(s3, data)
    assert (await read(s3, source))[1] is None  # the control: SeaweedFS encrypts only when asked
    target = f"test/acct/doc/{uuid.uuid4()}"
    assert await storage.copy_whole(source, target, len(data))
    body, encryption = await read(s3, target)
    assert body == data and encryption == "AES256"
    head = await storage.head(target)
    assert head is not None and head[0] == len(data)
    assert not await storage.copy_whole(f"test/acct/doc/{uuid.uuid4()}", target + "x", 10)  # source gone
    assert await storage.head(target + "x") is None


async def test_a_delta_object_is_assembled_from_copied_ranges_and_sent_parts(storage: Storage, s3: Any) -> None:
    rng = random.Random(2)
    old = rng.randbytes(12 * MIB)
    source = await put_plain(s3, old)
    new = old[: 6 * MIB] + rng.randbytes(5 * MIB) + old[11 * MIB :]  # 5 MiB changed, the rest as before
    g = grant(len(new))
    upload_id = await storage.start_multipart(g)
    # Part 1: bytes [0, 6 MiB) copied from the old object; 2: sent; 3: the last MiB copied.
    assert await storage.copy_part(g.key, upload_id, 1, source, 0, 6 * MIB - 1)
    assert await storage.copy_part(g.key, upload_id, 3, source, 11 * MIB, 12 * MIB - 1)
    url = storage.part_urls(g.key, upload_id, [2], expires_in=60)[2]
    async with httpx.AsyncClient(timeout=60) as client:
        assert (await client.put(url, content=new[6 * MIB : 11 * MIB])).status_code == 200
    parts = await storage.stored_parts(g.key, upload_id)
    assert parts is not None and [p.number for p in sorted(parts, key=lambda p: p.number)] == [1, 2, 3]
    await storage.finish_multipart(g.key, upload_id, sorted(parts, key=lambda p: p.number))

    lengths = [3 * MIB, 3 * MIB, 5 * MIB, MIB]
    stored = await storage.stored(g.key, lengths)
    assert stored is not None and stored.sha256 == hashlib.sha256(new).hexdigest()
    offsets = [0, 3 * MIB, 6 * MIB, 11 * MIB]
    assert list(stored.chunk_sha256s) == [
        hashlib.sha256(new[o : o + n]).hexdigest() for o, n in zip(offsets, lengths, strict=True)
    ]
    body, encryption = await read(s3, g.key)
    assert body == new and encryption == "AES256"  # the multipart upload was created with SSE


async def test_chunk_map_checks_are_claimed_once_per_period_and_a_dropped_map_is_gone(isolated) -> None:
    """The sessions adapter on the real MongoDB protocol server: a due map is claimed by one
    caller and its next look moved on; one not due is left alone; a dropped map is gone."""
    from datetime import timedelta

    from pymongo import AsyncMongoClient

    from docstore_upload.adapters.sessions import UploadSessions

    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"])
    try:
        sessions = UploadSessions(mongo[isolated["mongodb_database"]])
        await sessions.ensure_indexes()
        now = datetime.now(UTC).replace(microsecond=0)
        hour = timedelta(hours=1)
        chunks = [[0, 8, "a" * 64]]
        await sessions.collection.insert_many(
            [
                {"_id": "due", "key": "k-due", "chunks": chunks, "chunks_verified": True, "chunks_check_at": now},
                {
                    "_id": "later",
                    "key": "k-later",
                    "chunks": chunks,
                    "chunks_verified": True,
                    "chunks_check_at": now + hour,
                },
                {"_id": "plain", "key": "k-plain"},
            ]
        )
        claimed = await sessions.claim_chunk_map_check(now, hour)
        assert claimed is not None and claimed["_id"] == "due"
        assert await sessions.claim_chunk_map_check(now, hour) is None  # claimed once per period
        row = await sessions.by_id("due")
        assert row is not None and row["chunks_check_at"].replace(tzinfo=UTC) == now + hour
        await sessions.drop_chunk_map("due")
        row = await sessions.by_id("due")
        assert row is not None and not {"chunks", "chunks_verified", "chunks_check_at"} & set(row)
        kept = await sessions.by_id("later")
        assert kept is not None and kept["chunks"] == chunks
    finally:
        await mongo.aclose()
