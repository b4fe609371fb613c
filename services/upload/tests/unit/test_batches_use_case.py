"""Batch grants and batch completions on a `FakeUnitOfWork`: one transaction and one quota call
for the batch, one result per item, a bad item refused alone, never another account's upload."""

from __future__ import annotations

import pytest
from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, FakeQuota, current, session_row, world

from docstore_events import UploadCompleted, UploadInitiated, UploadsInitiated
from docstore_kit.errors import DomainError
from docstore_upload.domain.errors import (
    BatchTooLarge,
    InvalidUpload,
    NoLongerAllowed,
    NoRoom,
    NotForBatch,
    NotStoredYet,
    TooLarge,
    UploadNotFound,
)
from docstore_upload.domain.grants import MAX_BATCH, GrantRequest, check_batch
from docstore_upload.domain.sessions import COMPLETED, PENDING, REJECTED, Session
from docstore_upload.service_layer.checks import LATE_WRITE
from docstore_upload.service_layer.common import IssuedGrant


def test_a_batch_holds_one_to_max_batch_items() -> None:
    check_batch(1)
    check_batch(MAX_BATCH)
    for count in (0, MAX_BATCH + 1):
        with pytest.raises(BatchTooLarge):
            check_batch(count)


async def test_a_batch_grant_reserves_once_records_once_and_refuses_bad_items_alone() -> None:
    w = world(quota=FakeQuota(room=10))
    results = await w.batch_grants.grant_many(
        OWNER,
        [
            GrantRequest("a.txt", 4, "text/plain"),
            GrantRequest("", 4, "text/plain"),  # bad name
            GrantRequest("b.txt", 4, "text/plain"),
            GrantRequest("c.txt", 4, "text/plain"),  # 12 > 10: no room left for it
            GrantRequest("big.bin", 4, "application/octet-stream", multipart=True),
        ],
    )
    assert [type(r) for r in results] == [IssuedGrant, InvalidUpload, IssuedGrant, NoRoom, NotForBatch]
    granted = [r for r in results if isinstance(r, IssuedGrant)]
    assert len(w.quota.batches) == 1 and len(w.quota.batches[0][1]) == 3  # one call; bad items never asked
    assert w.uow.commits == 1
    # One upload.batch-initiated for the batch (its grants in order), not one upload.initiated per file.
    assert not any(isinstance(e, UploadInitiated) for e in w.uow.emitted)
    (batch,) = [e for e in w.uow.emitted if isinstance(e, UploadsInitiated)]
    assert batch.account_id == OWNER
    assert [u.upload_id for u in batch.uploads] == [g.grant.upload_id for g in granted]
    assert set(w.sessions.rows) == {g.grant.upload_id for g in granted}
    assert all(g.form and g.form["fields"]["key"] == g.grant.staging_key for g in granted)
    # Its client completes it: the watcher and S3 notifications wait a while before they do.
    row = w.sessions.rows[granted[0].grant.upload_id]
    assert row["batch"] and row["next_check_at"] > row["created_at"]


async def test_a_batch_grant_for_a_new_version_checks_the_document_and_counts_as_the_owners() -> None:
    w = world(metadata=FakeMetadata({EDITOR: current(version=2)}))
    ok, stale = await w.batch_grants.grant_many(
        EDITOR,
        [
            GrantRequest("a.txt", 4, "text/plain", document_id=DOC, base_version=2),
            GrantRequest("a.txt", 4, "text/plain", document_id=DOC, base_version=1),
        ],
    )
    assert isinstance(ok, IssuedGrant) and ok.grant.account_id == OWNER
    assert isinstance(stale, DomainError) and stale.status == 409
    assert w.quota.batches == [(OWNER, [ok.grant.upload_id])]


def form_row(upload_id: str, **fields: object) -> Session:
    key = f"us-west-2/{OWNER}/{DOC}/{upload_id}"
    return session_row(_id=upload_id, key=key, staging_key=f"staging/{key}", **fields)


async def test_a_batch_completion_records_every_ready_item_in_one_transaction_once() -> None:
    rows = [form_row(f"up-{n}") for n in range(3)]
    w = world(*rows)
    for row in rows[:2]:
        w.storage.put(row["staging_key"], b"data")
    results = await w.batch_completion.complete_many(OWNER, ["up-0", "up-1", "up-2", "up-0"])
    assert list(results) == ["up-0", "up-1", "up-2"]  # one result per distinct id, in order
    assert [r["status"] for r in (results["up-0"], results["up-1"])] == [COMPLETED, COMPLETED]  # type: ignore[index]
    assert isinstance(results["up-2"], NotStoredYet)
    assert w.uow.commits == 1
    events = [e for e in w.uow.emitted if isinstance(e, UploadCompleted)]
    assert sorted(e.upload_id for e in events) == ["up-0", "up-1"] and all(e.size == 4 for e in events)
    assert ("staging/" + rows[0]["key"], rows[0]["key"]) in w.storage.copied
    # A repeat changes nothing and announces nothing again.
    again = await w.batch_completion.complete_many(OWNER, ["up-0", "up-1"])
    assert all(r["status"] == COMPLETED for r in again.values())  # type: ignore[index]
    assert len([e for e in w.uow.emitted if isinstance(e, UploadCompleted)]) == 2
    assert w.sessions.rows["up-2"]["status"] == PENDING


async def test_a_batch_completion_never_touches_another_accounts_upload() -> None:
    theirs = form_row("theirs", account_id="acc-other", actor_id="acc-other")
    mine = form_row("mine")
    w = world(theirs, mine)
    w.storage.put(theirs["staging_key"], b"data")
    w.storage.put(mine["staging_key"], b"data")
    results = await w.batch_completion.complete_many(OWNER, ["theirs", "mine"])
    assert isinstance(results["theirs"], UploadNotFound)
    assert results["mine"]["status"] == COMPLETED  # type: ignore[index]
    assert w.sessions.rows["theirs"]["status"] == PENDING
    assert all(target != theirs["key"] for _, target in w.storage.copied)


async def test_a_batch_completion_rechecks_rights_and_sizes_per_item() -> None:
    revoked = form_row("revoked", document_id=DOC, actor_id=EDITOR, base_version=1)
    too_big, fine = form_row("too-big"), form_row("fine")
    w = world(revoked, too_big, fine, metadata=FakeMetadata({EDITOR: None}))
    for row, data in ((revoked, b"data"), (too_big, b"more than declared"), (fine, b"data")):
        w.storage.put(row["staging_key"], data)
    assert isinstance((await w.batch_completion.complete_many(EDITOR, ["revoked"]))["revoked"], NoLongerAllowed)
    results = await w.batch_completion.complete_many(OWNER, ["too-big", "fine"])
    assert isinstance(results["too-big"], TooLarge) and results["fine"]["status"] == COMPLETED  # type: ignore[index]
    assert {w.sessions.rows[u]["status"] for u in ("revoked", "too-big")} == {REJECTED}
    assert [e.upload_id for e in w.uow.emitted if isinstance(e, UploadCompleted)] == ["fine"]


async def test_a_batch_grants_own_writes_are_not_looked_up_while_its_client_completes_them() -> None:
    """S3's notification of a batch file's write cost a session lookup per file, to find what the
    grant already said: its client completes it (issue 35). Once this process ended the upload
    (aborted here), a write there is looked up again, and deleted at once as a late write."""
    w = world(quota=FakeQuota(room=100))
    [issued] = await w.batch_grants.grant_many(OWNER, [GrantRequest("a.txt", 4, "text/plain")])
    assert isinstance(issued, IssuedGrant)
    written = issued.grant.staging_key or issued.grant.key
    looked_up: list[str] = []
    by_key = w.sessions.by_key

    async def counted(key: str) -> Session | None:
        looked_up.append(key)
        return await by_key(key)

    w.sessions.by_key = counted  # type: ignore[method-assign]
    assert await w.checks.object_written(written) is None and looked_up == []
    await w.endings.abort(OWNER, issued.grant.upload_id)
    w.storage.put(written, b"late")
    assert await w.checks.object_written(written) == LATE_WRITE and looked_up == [written]
    assert written not in w.storage.objects
