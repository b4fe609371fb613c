"""Read-your-writes (issue 33, finding 5): a completed upload's answer says whether metadata
already shows its version to the caller, after waiting a bounded time for it."""

from __future__ import annotations

import time

from upload_fakes import OWNER, FakeMetadata, current, session_row, world

from docstore_upload.domain.sessions import COMPLETED


async def test_a_completion_is_recorded_once_metadata_shows_the_document_or_its_new_version() -> None:
    new_document = session_row(status=COMPLETED)
    new_version = session_row(status=COMPLETED, base_version=3)
    w = world(metadata=FakeMetadata({OWNER: current(version=3)}))
    assert await w.completion.recorded(OWNER, new_document)  # it exists: recorded
    assert not await w.completion.recorded(OWNER, new_version)  # still at the base version: not yet
    w.metadata.writers[OWNER] = current(version=4)
    assert await w.completion.recorded(OWNER, new_version)
    assert not await w.completion.recorded(OWNER, session_row())  # pending: nothing to read yet


async def test_the_wait_is_bounded_and_metadata_down_is_not_recorded() -> None:
    w = world(metadata=FakeMetadata({}))
    w.completion.record_wait_seconds = 0.3
    started = time.monotonic()
    assert not await w.completion.recorded(OWNER, session_row(status=COMPLETED))
    assert 0.3 <= time.monotonic() - started < 2.0 and len(w.metadata.asked) >= 3
    down = world(metadata=FakeMetadata(down=True))
    down.completion.record_wait_seconds = 5.0
    assert not await down.completion.recorded(OWNER, session_row(status=COMPLETED))
