"""Completion on fakes (`service_layer/completion.py`): once, whatever path repeats it; nothing before
the object arrived; too many bytes rejected; a multipart upload verifying until read back, unless
the WebDAV service's word on its parts is what S3 holds."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from upload_fakes import OWNER, session_row, world

from docstore_events import UploadCompleted, UploadInitiated
from docstore_upload.domain.errors import NotStoredYet, TooLarge, UploadClosed
from docstore_upload.domain.grants import GrantRequest
from docstore_upload.domain.sessions import COMPLETED, PENDING, REJECTED, VERIFYING, SentBytes, shown_status


async def test_a_form_upload_completes_once_from_the_copy_whatever_path_repeats_it() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"abcd")
    done = await w.completion.complete(OWNER, "up-1")
    assert done["status"] == COMPLETED and done["stored"]["size"] == 4
    assert w.storage.copied == [(row["staging_key"], row["key"])]
    again = await w.completion.complete_from_redirect("up-1", w.use_cases.redirects.url("up-1").rsplit("/", 1)[1])
    assert await w.checks.check(row) == COMPLETED  # the watcher's stale view of it
    assert again["stored"] == done["stored"]
    [completed] = w.uow.emitted
    assert isinstance(completed, UploadCompleted) and completed.sha256 == done["stored"]["sha256"]
    assert completed.bucket == w.storage.bucket and completed.actor_id is None
    await asyncio.gather(*w.use_cases.context.background)
    assert row["staging_key"] not in w.storage.objects  # dropped off the caller's path


async def test_a_stale_completion_after_a_form_was_reposted_copies_and_deletes_nothing() -> None:
    # The client's call and the watcher race: the watcher read the upload while it was pending and
    # gets to it after the client's completion, and after the form was posted again (S3 takes it:
    # the form is valid until it expires). Copied, it would replace the version's bytes; deleted,
    # the late-write sweep would not log it (CI, 2026-11-27).
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"abcd")
    await w.completion.complete(OWNER, "up-1")
    await asyncio.gather(*w.use_cases.context.background)
    assert row["staging_key"] not in w.storage.objects
    w.storage.put(row["staging_key"], b"EVIL")
    assert await w.checks.check(row) == COMPLETED  # the watcher's stale row
    await asyncio.gather(*w.use_cases.context.background)
    assert w.storage.copied == [(row["staging_key"], row["key"])]  # the client's completion's only
    assert w.storage.objects[row["key"]] == b"abcd"
    assert w.storage.objects[row["staging_key"]] == b"EVIL"  # the late-write sweep's, which logs it


async def test_completion_before_the_object_arrived_changes_nothing() -> None:
    w = world(session_row())
    with pytest.raises(NotStoredYet):
        await w.completion.complete(OWNER, "up-1")
    assert w.sessions.rows["up-1"]["status"] == PENDING and w.uow.emitted == []


async def test_more_bytes_than_declared_reject_the_upload() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"abcdef")
    with pytest.raises(TooLarge, match=r"^The file that arrived \(6 bytes\) is larger than the 4 bytes announced"):
        await w.completion.complete(OWNER, "up-1")
    assert w.sessions.rows["up-1"]["status"] == REJECTED and w.uow.emitted == []
    assert row["key"] not in w.storage.objects and w.quota.released == [(OWNER, "up-1")]
    with pytest.raises(UploadClosed, match="^This upload was refused"):
        await w.completion.complete(OWNER, "up-1")


async def test_a_multipart_upload_is_verifying_until_read_back_then_completed() -> None:
    w = world()
    issued = await w.grants.grant(OWNER, GrantRequest("a.txt", 6, "text/plain", multipart=True))
    upload_id = issued.grant.upload_id
    s3_upload_id = w.sessions.rows[upload_id]["s3_upload_id"]
    with pytest.raises(NotStoredYet, match=r"parts still missing: \[1\]"):
        await w.completion.complete(OWNER, upload_id)
    w.storage.multipart[s3_upload_id][1] = b"abcdef"
    joined = await w.completion.complete(OWNER, upload_id)
    assert shown_status(joined) == VERIFYING
    await asyncio.gather(*w.completion._verifying.values())
    assert w.sessions.rows[upload_id]["status"] == COMPLETED
    assert [type(e) for e in w.uow.emitted] == [UploadInitiated, UploadCompleted]


async def test_the_notification_of_the_join_and_a_watcher_meanwhile_leave_the_read_back_to_the_completion() -> None:
    """S3 announces the join before its answer reaches upload, and a watcher may look meanwhile:
    both find the upload leased to the completion, which alone reads the object back (a 1 GiB
    object was read twice at once when the lease came after the join, 2026-11-29)."""
    w = world()
    upload_id = await _multipart_with(w, {1: b"abcdef"})
    key = w.sessions.rows[upload_id]["key"]
    join, seen = w.storage.finish_multipart, []

    async def join_then_look(*args: Any) -> None:
        await join(*args)
        seen.extend([await w.checks.object_written(key), await w.checks.claim_due(timedelta(minutes=1))])

    w.storage.finish_multipart = join_then_look  # type: ignore[method-assign]
    joined = await w.completion.complete(OWNER, upload_id)
    assert shown_status(joined) == VERIFYING and seen == [None, None]
    await asyncio.gather(*w.completion._verifying.values())
    assert w.sessions.rows[upload_id]["status"] == COMPLETED and w.storage.reads == 1


async def _multipart_with(w: Any, parts: dict[int, bytes]) -> str:
    size = sum(len(data) for data in parts.values())
    issued = await w.grants.grant(OWNER, GrantRequest("big.bin", size, "application/octet-stream", multipart=True))
    upload_id: str = issued.grant.upload_id
    w.storage.multipart[w.sessions.rows[upload_id]["s3_upload_id"]] |= parts
    return upload_id


async def test_a_multipart_upload_the_webdav_service_vouches_for_is_recorded_without_a_read_back() -> None:
    """The sha256 WebDAV computed is recorded at once (no `verifying`, no read of the object) when
    S3's MD5 of every part, its ETag, is the one WebDAV sent the part with."""
    w = world()
    upload_id = await _multipart_with(w, {1: b"abc", 2: b"def"})
    sent = SentBytes(sha256="e" * 64, part_md5s=(hashlib.md5(b"abc").hexdigest(), hashlib.md5(b"def").hexdigest()))
    done = await w.completion.complete(OWNER, upload_id, sent)
    assert done["status"] == COMPLETED and done["stored"]["sha256"] == "e" * 64
    assert done["stored"]["size"] == 6
    assert w.storage.reads == 0
    assert [type(e) for e in w.uow.emitted] == [UploadInitiated, UploadCompleted]


@pytest.mark.parametrize(
    "md5s",
    [
        ("abc", "XYZ"),  # part 2 is not the one sent (written again through another URL)
        ("abc",),  # a part more than was sent
        ("abc", "def", "ghi"),  # a part sent is not there
    ],
)
async def test_parts_not_as_sent_are_read_back_and_the_stored_bytes_recorded(md5s: tuple[str, ...]) -> None:
    w = world()
    upload_id = await _multipart_with(w, {1: b"abc", 2: b"def"})
    sent = SentBytes(sha256="e" * 64, part_md5s=tuple(hashlib.md5(text.encode()).hexdigest() for text in md5s))
    joined = await w.completion.complete(OWNER, upload_id, sent)
    assert shown_status(joined) == VERIFYING
    await asyncio.gather(*w.completion._verifying.values())
    assert w.sessions.rows[upload_id]["stored"]["sha256"] == hashlib.sha256(b"abcdef").hexdigest()
    assert w.storage.reads == 1
