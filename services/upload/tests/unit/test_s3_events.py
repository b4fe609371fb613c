"""Bucket notifications from SeaweedFS's filer: what is decoded, what is ignored, what is checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from upload_fakes import FakeMetadata, FakeStorage, session_row, world

from docstore_devplatform.testing import filer_notification
from docstore_events import UploadCompleted
from docstore_messaging.consumer import RawMessage
from docstore_upload.consumers.s3_events import (
    FilerChange,
    MalformedNotification,
    S3Notifications,
    decode_filer_change,
    object_key_to_check,
)
from docstore_upload.domain.sessions import COMPLETED, PENDING, REJECTED
from docstore_upload.service_layer.checks import LATE_WRITE

BUCKET = "docstore-us-west-2"
KEY = "us-west-2/acct/doc/0b8e0a55-upload"
PATH = f"/buckets/{BUCKET}/{KEY}"

# Real values SeaweedFS 4.48 published (weed mini, notification.toml -> Tansu): a file created
# by a POST form at /buckets/docstore-us-west-2/us-west-2/acct/doc/post-1, and the directory
# /buckets/docstore-us-west-2/us-west-2/acct/doc created on the way.
REAL_POSTED_FILE = bytes.fromhex(
    "12e5010a06706f73742d311a3118072088d080ceb28e99f5182a184d6267636c6a6d6e7533366a5272384f564a546d78513d3d3a0908"
    "0110061d32a988ef224908071097f98bd80618b0033097f98bd8063a0a746578742f706c61696e721031b81c9639a7bb7ea346bf0e54"
    "94e6c58801a3d4ad909a80e0c0c901900197f98bd806b00197f98bd8062a360a12536561776565642d582d416d7a2d45546167122033"
    "316238316339363339613762623765613334366266306535343934653663352a250a13536561776565642d582d416d7a2d4f776e6572"
    "120e646f6373746f72652d61646d696e1801222e2f6275636b6574732f646f6373746f72652d75732d776573742d322f75732d776573"
    "742d322f616363742f646f633205bdcfbbe003"
)
REAL_DIRECTORY = bytes.fromhex(
    "123a0a03646f63100122311091f98bd80618f9838080083091f98bd8068801d2e5c2a7ab9c9a949a0190018092b8c398feffffff0198"
    "01f2949bac03222a2f6275636b6574732f646f6373746f72652d75732d776573742d322f75732d776573742d322f616363743205bdcf"
    "bbe003"
)


# --- decoding ------------------------------------------------------------------------


def test_real_messages_decode() -> None:
    posted = decode_filer_change(f"/buckets/{BUCKET}/us-west-2/acct/doc/post-1".encode(), REAL_POSTED_FILE)
    assert posted == FilerChange(
        path=f"/buckets/{BUCKET}/us-west-2/acct/doc/post-1", created_or_updated=True, directory=False
    )
    folder = decode_filer_change(f"/buckets/{BUCKET}/us-west-2/acct/doc".encode(), REAL_DIRECTORY)
    assert folder.created_or_updated and folder.directory


def test_created_overwritten_and_deleted_files() -> None:
    assert decode_filer_change(PATH.encode(), filer_notification(new="f")).created_or_updated
    assert decode_filer_change(PATH.encode(), filer_notification(old="f", new="f")).created_or_updated
    deleted = decode_filer_change(PATH.encode(), filer_notification(old="f"))
    assert not deleted.created_or_updated and not deleted.directory


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (None, filer_notification(new="f")),  # the path is the key
        (b"\xff\xfe", filer_notification(new="f")),  # not UTF-8
        (PATH.encode(), b"\x12\x05ab"),  # a field longer than the message
        (PATH.encode(), b"\x0f"),  # wire type 7 does not exist
        (PATH.encode(), b"\x08\xff"),  # a varint cut short
    ],
)
def test_malformed_notifications_are_refused(key: bytes | None, value: bytes) -> None:
    with pytest.raises(MalformedNotification):
        decode_filer_change(key, value)


# --- filtering -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (FilerChange(PATH, True, False), KEY),
        (FilerChange(PATH, False, False), None),  # deleted
        (FilerChange(f"/buckets/{BUCKET}/us-west-2/acct/doc", True, True), None),  # a directory
        (FilerChange(f"/buckets/docstore-ap-southeast-2/{KEY}", True, False), None),  # another region's bucket
        (FilerChange(f"/buckets/{BUCKET}-old/{KEY}", True, False), None),  # a bucket whose name starts alike
        (FilerChange(f"/buckets/{BUCKET}/.uploads/abc_123/0001_x.part", True, False), None),  # a multipart part
        (FilerChange(f"/buckets/{BUCKET}", True, True), None),  # the bucket itself
        (FilerChange(f"/buckets/.system/owners/{BUCKET}", True, False), None),  # SeaweedFS's own files
        (FilerChange(f"/topics/{BUCKET}/{KEY}", True, False), None),  # outside the buckets
    ],
)
def test_only_files_written_into_our_bucket_are_checked(change: FilerChange, expected: str | None) -> None:
    assert object_key_to_check(change, BUCKET) == expected


@pytest.mark.parametrize(
    ("key", "checked"),
    [
        (KEY, True),  # a version's own key
        (f"staging/{KEY}", True),  # a form's (or temporary credentials') staging key
        (f"previews/{KEY}/v1/small.webp", False),  # the indexer's previews: no upload there
        (f"us-west-1/{KEY.split('/', 1)[1]}", False),  # another region's layout
        (f"staging/us-west-1/{KEY.split('/', 1)[1]}", False),
    ],
)
def test_only_keys_an_upload_of_this_region_writes_are_looked_up(key: str, checked: bool) -> None:
    """Each preview image's notification cost upload one session lookup (issue 35)."""
    change = FilerChange(f"/buckets/{BUCKET}/{key}", True, False)
    assert object_key_to_check(change, BUCKET, "us-west-2") == (key if checked else None)


# --- the subscriber: decode, filter, one use case ------------------------------------


class ObjectWritten:
    """Stands in for `Checks.object_written`."""

    def __init__(self, outcome: str | None = COMPLETED, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.keys: list[str] = []

    async def __call__(self, key: str) -> str | None:
        self.keys.append(key)
        if self.error:
            raise self.error
        return self.outcome


def message(path: str = PATH, value: bytes | None = None) -> RawMessage:
    return RawMessage(
        topic="docstore.s3-events", key=path.encode(), value=value or filer_notification(new="f"), headers={}
    )


async def test_a_file_written_into_our_bucket_goes_to_the_use_case_by_its_object_key() -> None:
    written = ObjectWritten()
    assert await S3Notifications(written, bucket=BUCKET).handle(message()) == COMPLETED
    assert written.keys == [KEY]


@pytest.mark.parametrize(
    "msg",
    [
        message(value=filer_notification(old="f")),  # deleted
        message(path=f"/buckets/other-bucket/{KEY}"),
        message(path=f"/buckets/{BUCKET}/.uploads/abc_123/0001_x.part"),
        RawMessage(topic="docstore.s3-events", key=PATH.encode(), value=b"\x0f", headers={}),  # undecodable
    ],
)
async def test_ignored_notifications_do_not_reach_the_use_case(msg: RawMessage) -> None:
    written = ObjectWritten()
    assert await S3Notifications(written, bucket=BUCKET).handle(msg) is None
    assert written.keys == []


async def test_failures_propagate_for_the_consumer_to_retry() -> None:
    written = ObjectWritten(error=ConnectionError("S3 is down"))
    with pytest.raises(ConnectionError):
        await S3Notifications(written, bucket=BUCKET).handle(message())


async def test_a_polls_keys_are_each_checked_once_in_the_order_first_written() -> None:
    """One check reads S3 as it is now: a second notice of a key in the same poll, even after a
    deletion of it, would find what the first found."""
    other = f"/buckets/{BUCKET}/{KEY}-2"
    written = ObjectWritten()
    poll = [
        message(),
        message(path=other),
        message(value=filer_notification(old="f")),  # the first key deleted ...
        message(),  # ... and written again
        message(path=f"/buckets/{BUCKET}/.uploads/abc_123/0001_x.part"),
        message(path=other),
    ]
    await S3Notifications(written, bucket=BUCKET).handle_batch(poll)
    assert written.keys == [KEY, f"{KEY}-2"]


async def test_a_failure_in_a_poll_fails_the_batch_for_the_consumer_to_split_and_retry() -> None:
    written = ObjectWritten(error=ConnectionError("S3 is down"))
    with pytest.raises(ConnectionError):
        await S3Notifications(written, bucket=BUCKET).handle_batch([message()])


# --- the use case: which upload a written object concerns --------------------------------


def row(status: str = PENDING, **extra: Any) -> dict[str, Any]:
    return session_row(**{"key": KEY, "staging_key": f"staging/{KEY}", "status": status, **extra})


async def test_a_file_written_for_a_pending_upload_completes_it() -> None:
    w = world(row(), storage=FakeStorage())
    w.storage.put(f"staging/{KEY}", b"abcd")
    assert await w.checks.object_written(f"staging/{KEY}") == COMPLETED
    [completed] = w.uow.emitted
    assert isinstance(completed, UploadCompleted) and completed.key == KEY and completed.size == 4


@pytest.mark.parametrize(
    "make_row",
    [
        lambda: None,  # nobody's upload: a key we never granted
        lambda: row(status=COMPLETED),  # a repeated notification, after completion
        lambda: row(status="expired"),
        # a multipart upload we joined ourselves is being read back by whoever joined it
        # (built when the test runs: its lease is measured from now)
        lambda: row(
            s3_upload_id="s3u",
            staging_key=None,
            joined_at=datetime.now(UTC),
            next_check_at=datetime.now(UTC) + timedelta(minutes=5),
        ),
    ],
    ids=["unknown", "completed", "expired", "being-read-back"],
)
async def test_nothing_is_checked_for_unknown_finished_or_busy_uploads(make_row: Any) -> None:
    found = make_row()
    w = world(*([found] if found else []))
    w.storage.put(KEY, b"abcd")
    w.storage.exists = None  # type: ignore[assignment,method-assign]  # a check would call it
    assert await w.checks.object_written(KEY) is None
    assert w.uow.commits == 0


async def test_a_joined_upload_whose_reader_died_is_checked() -> None:
    stale = row(
        s3_upload_id="s3u",
        staging_key=None,
        joined_at=datetime.now(UTC) - timedelta(hours=1),
        next_check_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    w = world(stale)
    w.storage.put(KEY, b"abcd")
    assert await w.checks.object_written(KEY) == COMPLETED
    assert w.sessions.rows[stale["_id"]]["stored"]["size"] == 4


async def test_a_check_that_cannot_complete_is_not_retried() -> None:
    # An editor's upload whose share was revoked: the check rejects it (NoLongerAllowed), and
    # the notification has nothing left to retry.
    w = world(row(actor_id="acc-editor", base_version=1), metadata=FakeMetadata({}))
    w.storage.put(f"staging/{KEY}", b"abcd")
    assert await w.checks.object_written(f"staging/{KEY}") is None
    assert w.sessions.rows["up-1"]["status"] == REJECTED and w.uow.emitted == []


async def test_other_failures_propagate_for_the_consumer_to_retry() -> None:
    w = world(row())
    w.storage.exists = _raises(ConnectionError("S3 is down"))  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await w.checks.object_written(f"staging/{KEY}")


async def test_a_form_uploads_version_key_is_written_only_by_a_completions_own_copy_nothing_to_check() -> None:
    w = world(row())
    w.storage.put(KEY, b"abcd")
    w.storage.exists = None  # type: ignore[assignment,method-assign]  # a check would call it
    assert await w.checks.object_written(KEY) is None
    assert w.uow.commits == 0


async def test_a_batch_granted_upload_is_left_to_its_client_until_the_grace_has_passed() -> None:
    waiting = row(batch=True, next_check_at=datetime.now(UTC) + timedelta(seconds=60))
    w = world(waiting)
    w.storage.put(f"staging/{KEY}", b"abcd")
    assert await w.checks.object_written(f"staging/{KEY}") is None
    assert w.uow.commits == 0
    w.sessions.rows[waiting["_id"]]["next_check_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert await w.checks.object_written(f"staging/{KEY}") == COMPLETED


async def test_a_form_written_again_after_completion_is_deleted() -> None:
    w = world(row(status=COMPLETED))
    w.storage.put(f"staging/{KEY}", b"EVIL")
    assert await w.checks.object_written(f"staging/{KEY}") == LATE_WRITE
    assert w.storage.deleted == [f"staging/{KEY}"]


def _raises(error: Exception) -> Any:
    async def fail(*_: Any) -> Any:
        raise error

    return fail
