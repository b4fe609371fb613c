"""The watcher's look at an upload, on fakes (`service_layer/checks.py`): expiry once, a running grant
left waiting, the late-write sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from upload_fakes import session_row, world

from docstore_events import UploadExpired
from docstore_upload.domain.sessions import COMPLETED, EXPIRED, PENDING


async def test_the_watcher_expires_a_grant_that_ran_out_once() -> None:
    row = session_row(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    w = world(row)
    assert (await w.checks.claim_due(timedelta(seconds=10)))["_id"] == "up-1"
    assert await w.checks.claim_due(timedelta(seconds=10)) is None  # leased
    # Each claim is one atomic update, no transaction: a watcher killed before a commit would
    # leave the claimed upload locked for the database's transaction lifetime (60 s).
    assert w.uow.commits == 0
    assert await w.checks.check(row) == EXPIRED
    assert await w.checks.check(row) == EXPIRED  # a second look announces nothing more
    [expired] = w.uow.emitted
    assert isinstance(expired, UploadExpired) and expired.upload_id == "up-1"
    assert w.sessions.rows["up-1"]["status"] == EXPIRED


async def test_a_pending_grant_still_running_is_left_waiting() -> None:
    w = world(session_row())
    assert await w.checks.check(session_row()) == PENDING
    assert w.uow.commits == 0


async def test_the_late_write_sweep_looks_once_at_each_finished_form() -> None:
    row = session_row(status=COMPLETED, late_check_at=datetime.now(UTC) - timedelta(seconds=1))
    w = world(row)
    w.storage.put(row["staging_key"], b"EVIL")
    assert await w.checks.sweep_late_writes()
    assert row["staging_key"] not in w.storage.objects
    assert not await w.checks.sweep_late_writes()  # claimed once
