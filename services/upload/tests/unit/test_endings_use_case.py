"""Uploads that end without a version, on fakes (`service_layer/endings.py`): abort, and an account's deletion."""

from __future__ import annotations

from upload_fakes import OWNER, session_row, world

from docstore_upload.domain.sessions import ABORTED, REJECTED


async def test_abort_ends_the_upload_and_gives_the_room_back() -> None:
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"ab")
    aborted = await w.endings.abort(OWNER, "up-1")
    assert aborted["status"] == ABORTED and w.quota.released == [(OWNER, "up-1")]
    assert row["staging_key"] not in w.storage.objects and w.uow.emitted == []
    assert (await w.endings.abort(OWNER, "up-1"))["status"] == ABORTED  # repeated: unchanged


async def test_a_deleted_accounts_pending_uploads_end_and_a_redelivery_changes_nothing() -> None:
    """Issue 33, finding 8: `account.deleted` ends what the account started; nothing of it becomes a version."""
    row = session_row()
    w = world(row)
    w.storage.put(row["staging_key"], b"ab")
    assert await w.endings.close_account(OWNER) == 1
    assert w.sessions.rows["up-1"]["status"] == REJECTED and w.quota.released == [(OWNER, "up-1")]
    assert row["staging_key"] not in w.storage.objects and w.uow.emitted == []
    assert await w.endings.close_account(OWNER) == 0
