"""Upload's use cases on a `FakeUnitOfWork` over in-memory sessions and a fake bucket: what each
records, what it emits (once), and what it leaves alone when it refuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, current, session_row, world

from docstore_events import UploadCompleted, UploadExpired, UploadInitiated
from docstore_upload.domain.errors import InvalidUpload, NameTaken, NotStoredYet, StaleBase, TooLarge, UploadClosed
from docstore_upload.domain.grants import GrantRequest
from docstore_upload.domain.sessions import ABORTED, COMPLETED, EXPIRED, PENDING, REJECTED, VERIFYING, shown_status


async def test_a_form_grant_records_the_session_and_announces_it() -> None:
    w = world()
    issued = await w.uploads.grant(OWNER, GrantRequest(" notes.txt ", 4, "Text/Plain", tags=("b", "a", "b")))
    grant = issued.grant
    assert grant.filename == "notes.txt" and grant.content_type == "text/plain" and grant.tags == ["a", "b"]
    assert grant.key == f"us-west-2/{OWNER}/{grant.document_id}/{grant.upload_id}"
    assert issued.form is not None and issued.form["fields"]["key"] == f"staging/{grant.key}"
    row = w.sessions.rows[grant.upload_id]
    assert row["status"] == PENDING and row["actor_id"] == OWNER and "s3_upload_id" not in row
    [initiated] = w.uow.emitted
    assert isinstance(initiated, UploadInitiated) and initiated.upload_id == grant.upload_id
    assert initiated.declared_size == 4 and initiated.account_id == OWNER


async def test_an_editors_multipart_grant_is_the_owners_and_gets_part_urls() -> None:
    w = world(metadata=FakeMetadata({EDITOR: current()}))
    issued = await w.uploads.grant(
        EDITOR, GrantRequest("a.txt", 40 * 2**20, "text/plain", document_id=DOC, base_version=1, multipart=True)
    )
    assert issued.grant.account_id == OWNER and issued.grant.staging_key is None
    assert issued.part_size == 16 * 2**20 and issued.part_urls is not None and sorted(issued.part_urls) == [1, 2, 3]
    row = w.sessions.rows[issued.grant.upload_id]
    assert row["actor_id"] == EDITOR and row["part_count"] == 3 and row["s3_upload_id"]


@pytest.mark.parametrize(
    ("request_", "refused"),
    [
        (GrantRequest("a/b.txt", 4, "text/plain"), InvalidUpload),
        (GrantRequest("a.txt", -1, "text/plain"), InvalidUpload),
        (GrantRequest("a.txt", 4, "text/plain", expires_in=901), InvalidUpload),
        (GrantRequest("a.txt", 4, "text/plain", base_version=1), InvalidUpload),
        (GrantRequest("a.txt", 4, "text/plain", document_id=DOC), InvalidUpload),
        (GrantRequest("a.txt", 4, "text/plain", document_id=DOC, base_version=2), StaleBase),
    ],
)
async def test_a_refused_grant_records_nothing_and_reserves_nothing(request_: GrantRequest, refused: type) -> None:
    w = world(metadata=FakeMetadata({OWNER: current(version=3)}))
    with pytest.raises(refused):
        await w.uploads.grant(OWNER, request_)
    assert w.sessions.rows == {} and w.uow.emitted == [] and w.quota.reserved == []


async def test_a_form_upload_completes_once_from_the_copy_whatever_path_repeats_it() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"abcd")
    done = await w.uploads.complete(OWNER, "up-1")
    assert done["status"] == COMPLETED and done["stored"]["size"] == 4
    assert w.storage.copied == [(row["staging_key"], row["key"])]
    again = await w.uploads.complete_from_redirect("up-1", w.uploads.redirect_url("up-1").rsplit("/", 1)[1])
    assert await w.uploads.check(row) == COMPLETED  # the watcher's stale view of it
    assert again["stored"] == done["stored"]
    [completed] = w.uow.emitted
    assert isinstance(completed, UploadCompleted) and completed.sha256 == done["stored"]["sha256"]
    assert completed.bucket == w.storage.bucket and completed.actor_id is None
    await asyncio.gather(*w.uploads._background)
    assert row["staging_key"] not in w.storage.objects  # dropped off the caller's path


async def test_completion_before_the_object_arrived_changes_nothing() -> None:
    w = world(session_row())
    with pytest.raises(NotStoredYet):
        await w.uploads.complete(OWNER, "up-1")
    assert w.sessions.rows["up-1"]["status"] == PENDING and w.uow.emitted == []


async def test_more_bytes_than_declared_reject_the_upload() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"abcdef")
    with pytest.raises(TooLarge, match=r"^The file that arrived \(6 bytes\) is larger than the 4 bytes announced"):
        await w.uploads.complete(OWNER, "up-1")
    assert w.sessions.rows["up-1"]["status"] == REJECTED and w.uow.emitted == []
    assert row["key"] not in w.storage.objects and w.quota.released == [(OWNER, "up-1")]
    with pytest.raises(UploadClosed, match="^This upload was refused"):
        await w.uploads.complete(OWNER, "up-1")


async def test_a_multipart_upload_is_verifying_until_read_back_then_completed() -> None:
    w = world()
    issued = await w.uploads.grant(OWNER, GrantRequest("a.txt", 6, "text/plain", multipart=True))
    upload_id = issued.grant.upload_id
    s3_upload_id = w.sessions.rows[upload_id]["s3_upload_id"]
    with pytest.raises(NotStoredYet, match=r"parts still missing: \[1\]"):
        await w.uploads.complete(OWNER, upload_id)
    w.storage.multipart[s3_upload_id][1] = b"abcdef"
    joined = await w.uploads.complete(OWNER, upload_id)
    assert shown_status(joined) == VERIFYING
    await asyncio.gather(*w.uploads._verifying.values())
    assert w.sessions.rows[upload_id]["status"] == COMPLETED
    assert [type(e) for e in w.uow.emitted] == [UploadInitiated, UploadCompleted]


async def test_abort_ends_the_upload_and_gives_the_room_back() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"ab")
    aborted = await w.uploads.abort(OWNER, "up-1")
    assert aborted["status"] == ABORTED and w.quota.released == [(OWNER, "up-1")]
    assert row["staging_key"] not in w.storage.objects and w.uow.emitted == []
    assert (await w.uploads.abort(OWNER, "up-1"))["status"] == ABORTED  # repeated: unchanged


async def test_the_watcher_expires_a_grant_that_ran_out_once() -> None:
    row = session_row(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    w = world(row)
    assert (await w.uploads.claim_due(timedelta(seconds=10)))["_id"] == "up-1"
    assert await w.uploads.claim_due(timedelta(seconds=10)) is None  # leased
    assert await w.uploads.check(row) == EXPIRED
    assert await w.uploads.check(row) == EXPIRED  # a second look announces nothing more
    [expired] = w.uow.emitted
    assert isinstance(expired, UploadExpired) and expired.upload_id == "up-1"
    assert w.sessions.rows["up-1"]["status"] == EXPIRED


async def test_a_pending_grant_still_running_is_left_waiting() -> None:
    w = world(session_row())
    assert await w.uploads.check(session_row()) == PENDING
    assert w.uow.commits == 0


async def test_the_late_write_sweep_looks_once_at_each_finished_form() -> None:
    row = session_row(status=COMPLETED, late_check_at=datetime.now(UTC) - timedelta(seconds=1))
    w = world(row)
    w.storage.put(row["staging_key"], b"EVIL")
    assert await w.uploads.sweep_late_writes()
    assert row["staging_key"] not in w.storage.objects
    assert not await w.uploads.sweep_late_writes()  # claimed once


async def test_a_new_documents_grant_for_a_taken_name_is_refused_with_409_and_reserves_nothing() -> None:
    """One live document per name in a folder (issue 34): metadata is asked before the grant."""
    w = world()
    w.metadata.names.add((OWNER, "/", "r\u00e9sum\u00e9.txt"))
    # The name as macOS spells it (NFD) is the same name once normalised.
    with pytest.raises(NameTaken) as refused:
        await w.uploads.grant(OWNER, GrantRequest("re\u0301sume\u0301.txt", 4, "text/plain"))
    assert refused.value.status == 409
    # The choices of issue 37: a new version of that document, both (under a free suffixed name), or skip.
    assert refused.value.extra() == {
        "field": "filename",
        "clash": {"path": "/", "name": "r\u00e9sum\u00e9.txt"},
        "choices": ["replace", "keep_both", "skip"],
        "keep_both_name": "r\u00e9sum\u00e9 2.txt",
    }
    w.metadata.names.add((OWNER, "/", "r\u00e9sum\u00e9 2.txt"))
    with pytest.raises(NameTaken) as again:
        await w.uploads.grant(OWNER, GrantRequest("r\u00e9sum\u00e9.txt", 4, "text/plain"))
    assert again.value.extra()["keep_both_name"] == "r\u00e9sum\u00e9 3.txt"
    assert w.sessions.rows == {} and w.quota.reserved == []
    await w.uploads.grant(OWNER, GrantRequest("R\u00e9sum\u00e9.txt", 4, "text/plain"))  # case kept: another name


async def test_a_batch_refuses_taken_names_and_the_second_of_two_new_files_of_one_name() -> None:
    w = world()
    w.metadata.names.add((OWNER, "/", "taken.txt"))
    results = await w.uploads.grant_many(
        OWNER,
        [GrantRequest(n, 4, "text/plain") for n in ("taken.txt", "new.txt", "new.txt", "other.txt")],
    )
    assert [type(r).__name__ for r in results] == ["NameTaken", "IssuedGrant", "NameTaken", "IssuedGrant"]


async def test_an_empty_file_is_granted_and_holds_no_room() -> None:
    """A 0-byte file is a document like any other (issue 34); quota holds only sizes above 0."""
    w = world()
    issued = await w.uploads.grant(OWNER, GrantRequest("empty.txt", 0, "text/plain"))
    assert issued.form is not None and w.quota.reserved == []
    [result] = await w.uploads.grant_many(OWNER, [GrantRequest(".gitkeep", 0, "text/plain")])
    assert type(result).__name__ == "IssuedGrant" and w.quota.reserved == []


async def test_a_deleted_accounts_pending_uploads_end_and_a_redelivery_changes_nothing() -> None:
    """Issue 33, finding 8: `account.deleted` ends what the account started; nothing of it becomes a version."""
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"ab")
    assert await w.uploads.close_account(OWNER) == 1
    assert w.sessions.rows["up-1"]["status"] == REJECTED and w.quota.released == [(OWNER, "up-1")]
    assert row["staging_key"] not in w.storage.objects and w.uow.emitted == []
    assert await w.uploads.close_account(OWNER) == 0


async def test_while_metadata_does_not_answer_a_new_document_is_still_granted() -> None:
    """Uploads do not stop with metadata (issue 32: it may be down or behind); the name rule then
    holds at completion, which gives a clashing new document a conflict-copy name."""
    w = world(metadata=FakeMetadata(down=True))
    issued = await w.uploads.grant(OWNER, GrantRequest("notes.txt", 4, "text/plain"))
    assert issued.form is not None
    [result] = await w.uploads.grant_many(OWNER, [GrantRequest("more.txt", 4, "text/plain")])
    assert type(result).__name__ == "IssuedGrant"
