"""Dedupe on fakes (`service_layer/dedupe.py`): what is copied, recorded and emitted; whose bytes may be
found (the caller's own only); the fallbacks to an ordinary upload; large copies after the answer."""

from __future__ import annotations

import asyncio
import hashlib
import random

from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, FakeStorage, current, session_row, world

from docstore_events import UploadCompleted, UploadInitiated
from docstore_upload.domain.grants import GrantRequest, StoredBytes
from docstore_upload.domain.sessions import ABORTED, COMPLETED
from docstore_upload.service_layer.dedupe import DEDUPE_IN_BACKGROUND_FROM

BUCKET = "docstore-us-west-2"


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


def source_row() -> dict[str, object]:
    """The completed upload that stored SOURCE (what upload knows of the account's bytes)."""
    return session_row(_id="up-0", key=SOURCE, status=COMPLETED, stored={"size": len(DATA), "etag": "e", "sha256": SHA})


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


async def test_bytes_the_account_stores_are_copied_server_side_and_completed_at_once() -> None:
    storage, metadata = owner_stores_data()
    w = world(storage=storage, metadata=metadata)
    issued = await w.grants.grant(OWNER, GrantRequest("copy.bin", len(DATA), "application/octet-stream", sha256=SHA))
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
    other = await w.grants.grant(EDITOR, GrantRequest("probe.bin", len(DATA), "text/plain", sha256=SHA))
    assert not other.deduplicated and other.form is not None
    assert metadata.bytes_asked == [(EDITOR, SHA)]
    shared = await w.grants.grant(
        EDITOR, GrantRequest("a.txt", len(DATA), "text/plain", sha256=SHA, document_id=DOC, base_version=1)
    )
    assert not shared.deduplicated and shared.grant.account_id == OWNER
    assert metadata.bytes_asked == [(EDITOR, SHA)] and storage.copied == []


async def test_bytes_gone_before_the_copy_give_an_ordinary_upload() -> None:
    storage, metadata = owner_stores_data()
    del storage.objects[SOURCE]  # purged after metadata answered
    w = world(storage=storage, metadata=metadata)
    issued = await w.grants.grant(OWNER, GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA))
    assert not issued.deduplicated and issued.form is not None
    statuses = sorted(row["status"] for row in w.sessions.rows.values())
    assert statuses == [ABORTED, "pending"] and w.quota.released


async def test_a_batch_deduplicates_the_items_it_can_and_grants_forms_for_the_rest() -> None:
    storage, metadata = owner_stores_data()
    w = world(source_row(), storage=storage, metadata=metadata)
    results = await w.batch_grants.grant_many(
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
    (item,) = await w.batch_grants.grant_many(OWNER, [GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA)])
    assert not isinstance(item, Exception) and not item.deduplicated and item.form is not None
    assert metadata.bytes_asked == []


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
    issued = await w.grants.grant(OWNER, GrantRequest("copy.bin", len(DATA), "text/plain", sha256=SHA))
    row = w.sessions.rows[issued.grant.upload_id]
    assert issued.deduplicated and row["chunks"] == chunks and row["chunks_verified"] is True


async def test_a_large_dedupe_copy_runs_after_the_answer_and_completes_the_upload() -> None:
    data = random.Random(7).randbytes(DEDUPE_IN_BACKGROUND_FROM)
    storage, metadata, sha = owner_stores_large(data)
    w = world(storage=storage, metadata=metadata)
    issued = await w.grants.grant(OWNER, GrantRequest("copy.bin", len(data), "application/octet-stream", sha256=sha))
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
    issued = await w.grants.grant(OWNER, GrantRequest("copy.bin", len(data), "application/octet-stream", sha256=sha))
    assert issued.deduplicated  # answered before the copy: the client follows the upload
    row = await settled(w, issued.grant.upload_id)
    assert row["status"] == ABORTED and (OWNER, issued.grant.upload_id) in w.quota.released
    assert not any(isinstance(e, UploadCompleted) for e in w.uow.emitted)
