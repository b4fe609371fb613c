"""Delta grants on fakes (`service_layer/deltas.py`): the unchanged ranges copied, only the changed
parts asked for, the verdict on the assembled bytes, and the chunk maps' sweep (`Checks.sweep_chunk_maps`)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime

from upload_fakes import DOC, OWNER, FakeMetadata, FakeStorage, current, world

from docstore_events import UploadCompleted
from docstore_upload.domain.delta import Chunk
from docstore_upload.domain.grants import GrantRequest
from docstore_upload.domain.sessions import COMPLETED, REJECTED
from docstore_upload.service_layer.common import CHUNK_MAP_CHECK_EVERY

BUCKET = "docstore-us-west-2"


MIB = 1024 * 1024


def chunks_of(data: bytes, size: int) -> tuple[Chunk, ...]:
    return tuple(
        Chunk(o, len(data[o : o + size]), hashlib.sha256(data[o : o + size]).hexdigest())
        for o in range(0, len(data), size)
    )


async def delta_world(new: bytes, *, declared: str | None = None):  # type: ignore[no-untyped-def]
    """A document whose current version (20 MiB) was uploaded with a verified chunk map."""
    rng = random.Random(5)
    old = rng.randbytes(20 * MIB)
    storage = FakeStorage()
    previous_key = f"us-west-2/{OWNER}/{DOC}/up-old"
    storage.put(previous_key, old)
    doc = replace(current(), current_bucket=BUCKET, current_key=previous_key, current_size=len(old))
    w = world(storage=storage, metadata=FakeMetadata({OWNER: doc}))
    w.sessions.rows["up-old"] = {
        "_id": "up-old",
        "key": previous_key,
        "status": COMPLETED,
        "chunks": [[c.offset, c.length, c.sha256] for c in chunks_of(old, MIB)],
        "chunks_verified": True,
    }
    request = GrantRequest(
        "a.txt",
        len(new),
        "text/plain",
        document_id=DOC,
        base_version=1,
        sha256=declared or hashlib.sha256(new).hexdigest(),
        chunks=chunks_of(new, MIB),
    )
    return w, old, await w.grants.grant(OWNER, request)


async def send_and_complete(w, issued, new: bytes) -> dict:  # type: ignore[no-untyped-def]
    s3_upload_id = w.sessions.rows[issued.grant.upload_id]["s3_upload_id"]
    for number in issued.part_urls:
        offset, length = issued.layout[number]
        w.storage.multipart[s3_upload_id][number] = new[offset : offset + length]
    await w.completion.complete(OWNER, issued.grant.upload_id)
    for _ in range(200):  # the read-back runs in the background
        if w.sessions.rows[issued.grant.upload_id]["status"] != "pending":
            break
        await asyncio.sleep(0.01)
    return w.sessions.rows[issued.grant.upload_id]


async def test_a_delta_copies_the_unchanged_ranges_and_asks_only_for_the_changed_part() -> None:
    rng = random.Random(6)
    old = random.Random(5).randbytes(20 * MIB)
    new = old[: 10 * MIB] + rng.randbytes(MIB) + old[11 * MIB :]
    w, _, issued = await delta_world(new)
    assert issued.copied_bytes == 15 * MIB  # 1 MiB changed, sent as one 5 MiB part
    assert issued.part_urls is not None and len(issued.part_urls) == 1
    assert issued.layout is not None and sum(length for _, length in issued.layout.values()) == len(new)
    row = await send_and_complete(w, issued, new)
    assert row["status"] == COMPLETED and row["chunks_verified"] is True
    assert w.storage.objects[issued.grant.key] == new


async def test_a_delta_whose_assembled_bytes_are_not_the_declared_ones_is_rejected() -> None:
    old = random.Random(5).randbytes(20 * MIB)
    new = old[: 10 * MIB] + random.Random(6).randbytes(MIB) + old[11 * MIB :]
    w, _, issued = await delta_world(new, declared="0" * 64)
    row = await send_and_complete(w, issued, new)
    assert row["status"] == REJECTED
    assert not any(isinstance(e, UploadCompleted) for e in w.uow.emitted)


async def test_without_a_verified_map_a_new_version_is_a_whole_upload() -> None:
    old = random.Random(5).randbytes(20 * MIB)
    w, _, _ = await delta_world(old[:-1] + b"x")
    w.sessions.rows["up-old"]["chunks_verified"] = False
    issued = await w.grants.grant(
        OWNER,
        GrantRequest(
            "a.txt",
            20 * MIB,
            "text/plain",
            document_id=DOC,
            base_version=1,
            multipart=True,
            sha256="1" * 64,
            chunks=chunks_of(old, MIB),
        ),
    )
    assert issued.copied_bytes == 0 and issued.part_urls is not None and len(issued.part_urls) == 2


async def test_a_purged_versions_chunk_map_goes_with_it_and_a_kept_one_stays() -> None:
    old = random.Random(5).randbytes(20 * MIB)
    new = old[: 10 * MIB] + random.Random(6).randbytes(MIB) + old[11 * MIB :]
    w, _, issued = await delta_world(new)
    row = await send_and_complete(w, issued, new)
    now = datetime.now(UTC)
    assert row["chunks_verified"] is True and now < row["chunks_check_at"] <= now + CHUNK_MAP_CHECK_EVERY
    assert await w.checks.sweep_chunk_maps() == 0  # nothing due yet
    w.sessions.rows["up-old"]["chunks_check_at"] = now
    del w.storage.objects[f"us-west-2/{OWNER}/{DOC}/up-old"]  # metadata purged the first version

    later = now + 2 * CHUNK_MAP_CHECK_EVERY
    assert await w.checks.sweep_chunk_maps(now=later) == 1
    purged, kept = w.sessions.rows["up-old"], w.sessions.rows[issued.grant.upload_id]
    assert "chunks" not in purged and "chunks_verified" not in purged and "chunks_check_at" not in purged
    assert kept["chunks_verified"] is True and kept["chunks"]  # its object is there: kept, looked at later
    assert kept["chunks_check_at"] == later + CHUNK_MAP_CHECK_EVERY
    assert await w.checks.sweep_chunk_maps(now=later) == 0
