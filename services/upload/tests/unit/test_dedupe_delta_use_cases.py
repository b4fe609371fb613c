"""Dedupe and delta grants on fakes: what is copied, recorded and emitted; whose bytes may be
found (the caller's own only); the fallbacks to an ordinary upload; a delta's verdict."""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime

from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, FakeStorage, current, session_row, world

from docstore_events import UploadCompleted, UploadInitiated
from docstore_upload.domain.delta import Chunk
from docstore_upload.domain.grants import GrantRequest, StoredBytes
from docstore_upload.domain.sessions import ABORTED, COMPLETED, REJECTED
from docstore_upload.service_layer.uploads import CHUNK_MAP_CHECK_EVERY, DEDUPE_IN_BACKGROUND_FROM

BUCKET = "docstore-us-west-2"
MIB = 1024 * 1024
DATA = b"the same bytes again"
SHA = hashlib.sha256(DATA).hexdigest()
SOURCE = f"us-west-2/{OWNER}/doc-0/up-0"


def owner_stores_data() -> tuple[FakeStorage, FakeMetadata]:
    storage = FakeStorage()
    storage.put(SOURCE, DATA)
    metadata = FakeMetadata(
        {EDITOR: current(), OWNER: current()}, stored={(OWNER, SHA): StoredBytes(BUCKET, SOURCE, len(DATA), SHA)}
    )
    return storage, metadata


async def test_bytes_the_account_stores_are_copied_server_side_and_completed_at_once() -> None:
    storage, metadata = owner_stores_data()
    w = world(storage=storage, metadata=metadata)
    issued = await w.uploads.grant(OWNER, GrantRequest("copy.bin", len(DATA), "application/octet-stream", sha256=SHA))
    assert issued.deduplicated and issued.form is None and issued.part_urls is None
    key = issued.grant.key
    assert storage.copied == [(SOURCE, key)] and storage.objects[key] == DATA
    row = w.sessions.rows[issued.grant.upload_id]
    assert row["status"] == COMPLETED and row["stored"]["sha256"] == SHA and row["deduplicated_from"] == SOURCE
    initiated, completed = w.uow.emitted
    assert isinstance(initiated, UploadInitiated) and isinstance(completed, UploadCompleted)
    assert completed.key == key and completed.sha256 == SHA and completed.size == len(DATA)
    # The room is reserved as for any upload (quota counts the copy when it sees upload.completed).
    assert [(a, u, n) for a, u, n, _ in w.quota.reserved] == [(OWNER, issued.grant.upload_id, len(DATA))]


async def test_another_accounts_hash_finds_nothing_and_an_editor_is_never_deduplicated() -> None:
    """Security: metadata is asked about the caller's own bytes only, and not at all for an
    editor's new version of a shared document (the answer would tell them about the owner's)."""
    storage, metadata = owner_stores_data()
    w = world(storage=storage, metadata=metadata)
    other = await w.uploads.grant(EDITOR, GrantRequest("probe.bin", len(DATA), "text/plain", sha256=SHA))
    assert not other.deduplicated and other.form is not None
    assert metadata.bytes_asked == [(EDITOR, SHA)]
    shared = await w.uploads.grant(
        EDITOR, GrantRequest("a.txt", len(DATA), "text/plain", sha256=SHA, document_id=DOC, base_version=1)
    )
    assert not shared.deduplicated and shared.grant.account_id == OWNER
    assert metadata.bytes_asked == [(EDITOR, SHA)] and storage.copied == []


async def test_bytes_gone_before_the_copy_give_an_ordinary_upload() -> None:
    storage, metadata = owner_stores_data()
    del storage.objects[SOURCE]  # purged after metadata answered
    w = world(storage=storage, metadata=metadata)
    issued = await w.uploads.grant(OWNER, GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA))
    assert not issued.deduplicated and issued.form is not None
    statuses = sorted(row["status"] for row in w.sessions.rows.values())
    assert statuses == [ABORTED, "pending"] and w.quota.released


def source_row() -> dict[str, object]:
    """The completed upload that stored SOURCE (what upload knows of the account's bytes)."""
    return session_row(_id="up-0", key=SOURCE, status=COMPLETED, stored={"size": len(DATA), "etag": "e", "sha256": SHA})


async def test_a_batch_deduplicates_the_items_it_can_and_grants_forms_for_the_rest() -> None:
    storage, metadata = owner_stores_data()
    w = world(source_row(), storage=storage, metadata=metadata)
    results = await w.uploads.grant_many(
        OWNER,
        [
            GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA),
            GrantRequest("new.bin", 5, "text/plain", sha256="ab" * 32),
        ],
    )
    first, second = results
    assert not isinstance(first, Exception) and first.deduplicated and first.form is None
    assert not isinstance(second, Exception) and not second.deduplicated and second.form is not None
    assert w.sessions.rows[first.grant.upload_id]["status"] == COMPLETED
    # One query for the batch; metadata asked only about bytes an upload completed for the account.
    assert w.sessions.sha256_queries == 1 and metadata.bytes_asked == [(OWNER, SHA)]


async def test_a_batch_asks_metadata_nothing_about_bytes_no_upload_of_the_account_stored() -> None:
    storage, metadata = owner_stores_data()  # metadata would find SHA, but no upload here stored it
    w = world(
        session_row(_id="theirs", account_id=EDITOR, status=COMPLETED, stored={"sha256": SHA}),
        storage=storage,
        metadata=metadata,
    )
    (item,) = await w.uploads.grant_many(OWNER, [GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA)])
    assert not isinstance(item, Exception) and not item.deduplicated and item.form is not None
    assert metadata.bytes_asked == []


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
    return w, old, await w.uploads.grant(OWNER, request)


async def send_and_complete(w, issued, new: bytes) -> dict:  # type: ignore[no-untyped-def]
    s3_upload_id = w.sessions.rows[issued.grant.upload_id]["s3_upload_id"]
    for number in issued.part_urls:
        offset, length = issued.layout[number]
        w.storage.multipart[s3_upload_id][number] = new[offset : offset + length]
    await w.uploads.complete(OWNER, issued.grant.upload_id)
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
    issued = await w.uploads.grant(
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


async def test_a_deduplicated_copy_keeps_the_sources_verified_chunk_map() -> None:
    storage, metadata = owner_stores_data()
    w = world(storage=storage, metadata=metadata)
    chunks = [[0, 8, hashlib.sha256(DATA[:8]).hexdigest()], [8, len(DATA) - 8, hashlib.sha256(DATA[8:]).hexdigest()]]
    w.sessions.rows["up-0"] = {
        "_id": "up-0",
        "key": SOURCE,
        "status": COMPLETED,
        "chunks": chunks,
        "chunks_verified": True,
    }
    issued = await w.uploads.grant(OWNER, GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA))
    row = w.sessions.rows[issued.grant.upload_id]
    assert issued.deduplicated and row["chunks"] == chunks and row["chunks_verified"] is True


async def test_a_purged_versions_chunk_map_goes_with_it_and_a_kept_one_stays() -> None:
    old = random.Random(5).randbytes(20 * MIB)
    new = old[: 10 * MIB] + random.Random(6).randbytes(MIB) + old[11 * MIB :]
    w, _, issued = await delta_world(new)
    row = await send_and_complete(w, issued, new)
    now = datetime.now(UTC)
    assert row["chunks_verified"] is True and now < row["chunks_check_at"] <= now + CHUNK_MAP_CHECK_EVERY
    assert await w.uploads.sweep_chunk_maps() == 0  # nothing due yet
    w.sessions.rows["up-old"]["chunks_check_at"] = now
    del w.storage.objects[f"us-west-2/{OWNER}/{DOC}/up-old"]  # metadata purged the first version

    later = now + 2 * CHUNK_MAP_CHECK_EVERY
    assert await w.uploads.sweep_chunk_maps(now=later) == 1
    purged, kept = w.sessions.rows["up-old"], w.sessions.rows[issued.grant.upload_id]
    assert "chunks" not in purged and "chunks_verified" not in purged and "chunks_check_at" not in purged
    assert kept["chunks_verified"] is True and kept["chunks"]  # its object is there: kept, looked at later
    assert kept["chunks_check_at"] == later + CHUNK_MAP_CHECK_EVERY
    assert await w.uploads.sweep_chunk_maps(now=later) == 0


def owner_stores_large(data: bytes) -> tuple[FakeStorage, FakeMetadata, str]:
    storage = FakeStorage()
    sha = hashlib.sha256(data).hexdigest()
    storage.put(SOURCE, data)
    metadata = FakeMetadata({OWNER: current()}, stored={(OWNER, sha): StoredBytes(BUCKET, SOURCE, len(data), sha)})
    return storage, metadata, sha


async def settled(w, upload_id: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(500):  # the copy runs after the answer
        if w.sessions.rows[upload_id]["status"] != "pending":
            break
        await asyncio.sleep(0.01)
    return w.sessions.rows[upload_id]


async def test_a_large_dedupe_copy_runs_after_the_answer_and_completes_the_upload() -> None:
    data = random.Random(7).randbytes(DEDUPE_IN_BACKGROUND_FROM)
    storage, metadata, sha = owner_stores_large(data)
    w = world(storage=storage, metadata=metadata)
    issued = await w.uploads.grant(OWNER, GrantRequest("copy.bin", len(data), "application/octet-stream", sha256=sha))
    assert issued.deduplicated and issued.form is None and issued.part_urls is None
    row = await settled(w, issued.grant.upload_id)
    assert row["status"] == COMPLETED and row["stored"]["sha256"] == sha
    assert storage.objects[issued.grant.key] == data
    assert any(isinstance(e, UploadCompleted) for e in w.uow.emitted)


async def test_a_large_dedupe_whose_bytes_went_away_is_aborted_and_its_room_given_back() -> None:
    data = random.Random(8).randbytes(DEDUPE_IN_BACKGROUND_FROM)
    storage, metadata, sha = owner_stores_large(data)
    w = world(storage=storage, metadata=metadata)
    real_copy = storage.copy_whole

    async def purged_first(source: str, target: str, size: int) -> bool:
        del storage.objects[SOURCE]  # purged between the answer and the copy
        return await real_copy(source, target, size)

    storage.copy_whole = purged_first  # type: ignore[method-assign]
    issued = await w.uploads.grant(OWNER, GrantRequest("copy.bin", len(data), "application/octet-stream", sha256=sha))
    assert issued.deduplicated  # answered before the copy: the client follows the upload
    row = await settled(w, issued.grant.upload_id)
    assert row["status"] == ABORTED and (OWNER, issued.grant.upload_id) in w.quota.released
    assert not any(isinstance(e, UploadCompleted) for e in w.uow.emitted)
