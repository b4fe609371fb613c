"""Batch items that declare their sha256 get a form pinned to those bytes, which writes the
version's key directly: completion is one HEAD (size and S3's checksum), never a copy, a read-back
or a delete; a write after the upload ended without a version is deleted, and the key of a
completed one is its version's, never deleted as a late write (use cases on fakes)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from upload_fakes import BUCKET, DOC, OWNER, FakeMetadata, current, session_row, world

from docstore_events import UploadCompleted
from docstore_upload.domain.errors import InvalidUpload, NotStoredYet
from docstore_upload.domain.grants import Grant, GrantRequest, StoredBytes, form_policy
from docstore_upload.domain.sessions import ABORTED, COMPLETED, EXPIRED, PENDING, REJECTED, Session
from docstore_upload.service_layer.checks import LATE_WRITE
from docstore_upload.service_layer.common import IssuedGrant

DATA = b"data"
SHA = hashlib.sha256(DATA).hexdigest()


def pinned_row(upload_id: str = "up-1", **fields: object) -> Session:
    key = f"us-west-2/{OWNER}/{DOC}/{upload_id}"
    return session_row(_id=upload_id, key=key, staging_key=None, pinned_sha256=SHA, **fields)


async def test_a_batch_item_with_its_sha256_gets_a_form_for_its_own_key_pinned_to_those_bytes() -> None:
    w = world()
    pinned, plain = await w.batch_grants.grant_many(
        OWNER, [GrantRequest("a.txt", 4, "text/plain", sha256=SHA.upper()), GrantRequest("b.txt", 4, "text/plain")]
    )
    assert isinstance(pinned, IssuedGrant) and isinstance(plain, IssuedGrant)
    assert pinned.grant.staging_key is None and pinned.grant.pinned_sha256 == SHA
    assert pinned.form and pinned.form["fields"]["key"] == pinned.grant.key
    assert w.sessions.rows[pinned.grant.upload_id]["pinned_sha256"] == SHA
    # Without a sha256: the staging key as before.
    assert plain.grant.pinned_sha256 is None and plain.form and plain.form["fields"]["key"] == plain.grant.staging_key


async def test_pinning_can_be_turned_off_for_a_store_without_checksums() -> None:
    w = world()
    w.batch_grants.pin_checksums = False
    (granted,) = await w.batch_grants.grant_many(OWNER, [GrantRequest("a.txt", 4, "text/plain", sha256=SHA)])
    assert isinstance(granted, IssuedGrant) and granted.grant.pinned_sha256 is None and granted.grant.staging_key


def test_the_policy_pins_the_checksum_and_encryption_as_exact_conditions() -> None:
    g = Grant(
        upload_id="u",
        account_id=OWNER,
        document_id=DOC,
        key="us-west-2/a/d/u",
        filename="a.txt",
        content_type="text/plain",
        declared_size=4,
        title=None,
        tags=[],
        path="/",
        expires_at=datetime.now(UTC),
        pinned_sha256=SHA,
    )
    fields, conditions = form_policy(g, max_size=4, encryption_fields={"x-amz-server-side-encryption": "AES256"})
    b64 = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
    assert fields["x-amz-checksum-sha256"] == b64 and fields["x-amz-checksum-algorithm"] == "SHA256"
    for name in ("x-amz-checksum-sha256", "x-amz-checksum-algorithm", "x-amz-server-side-encryption"):
        assert {name: fields[name]} in conditions
    # No title, no tags: no such field (a presigned PUT would sign it as an empty header, which
    # curl does not send: 403 SignatureDoesNotMatch; issue 33).
    assert "x-amz-meta-title" not in fields and "x-amz-meta-tags" not in fields
    assert all(value for value in fields.values())
    titled, _ = form_policy(
        replace(g, title="Q1", tags=["a", "b"]),
        max_size=4,
        encryption_fields={"x-amz-server-side-encryption": "AES256"},
    )
    assert titled["x-amz-meta-title"] == "Q1" and titled["x-amz-meta-tags"] == "a%2Cb"


async def test_a_pinned_completion_is_one_head_no_copy_no_read_no_delete() -> None:
    rows = [pinned_row(f"up-{n}") for n in range(3)]
    w = world(*rows)
    for row in rows[:2]:
        w.storage.put(row["key"], DATA)
    results = await w.batch_completion.complete_many(OWNER, [r["_id"] for r in rows])
    assert [results[f"up-{n}"]["status"] for n in range(2)] == [COMPLETED, COMPLETED]  # type: ignore[index]
    assert isinstance(results["up-2"], NotStoredYet)
    assert w.storage.heads == 3 and w.storage.reads == 0
    assert w.storage.copied == [] and w.storage.deleted == []
    events = [e for e in w.uow.emitted if isinstance(e, UploadCompleted)]
    assert sorted(e.upload_id for e in events) == ["up-0", "up-1"]
    assert all(e.sha256 == SHA and e.size == 4 and e.key == rows[0]["key"].replace("up-0", e.upload_id) for e in events)
    # Its form can only write these bytes again: no last look is due.
    assert "late_check_at" not in w.sessions.rows["up-0"]


async def test_a_store_that_kept_other_bytes_or_no_checksum_is_not_trusted() -> None:
    w = world(pinned_row("other"), pinned_row("none"))
    w.storage.put(pinned_row("other")["key"], b"diff")  # S3 would have refused these bytes
    results = await w.batch_completion.complete_many(OWNER, ["other"])
    assert isinstance(results["other"], InvalidUpload) and w.sessions.rows["other"]["status"] == REJECTED
    assert pinned_row("other")["key"] not in w.storage.objects
    w.storage.keeps_checksums = False
    w.storage.put(pinned_row("none")["key"], DATA)
    results = await w.batch_completion.complete_many(OWNER, ["none"])
    assert isinstance(results["none"], InvalidUpload) and w.sessions.rows["none"]["status"] == REJECTED
    assert not [e for e in w.uow.emitted if isinstance(e, UploadCompleted)]


async def test_a_write_after_an_upload_ended_without_a_version_is_deleted_at_once() -> None:
    for status in (EXPIRED, ABORTED, REJECTED):
        row = pinned_row(status=status, finished_at=datetime.now(UTC))
        w = world(row)
        w.storage.put(row["key"], DATA)
        assert await w.checks.object_written(row["key"]) == LATE_WRITE
        assert row["key"] not in w.storage.objects


async def test_aborting_a_pinned_upload_deletes_what_its_form_wrote() -> None:
    row = pinned_row()
    w = world(row)
    w.storage.put(row["key"], DATA)
    assert (await w.endings.abort(OWNER, "up-1"))["status"] == ABORTED
    assert row["key"] not in w.storage.objects


async def test_a_completed_pinned_uploads_key_is_its_version_and_never_deleted_as_a_late_write() -> None:
    # Its form can only write the same bytes there again (S3 refuses others), and whether the
    # version still exists is metadata's to say, which may lag: nothing is looked at or deleted.
    done = datetime.now(UTC) - timedelta(minutes=20)
    row = pinned_row(status=COMPLETED, finished_at=done)
    w = world(row, metadata=FakeMetadata({}))
    w.storage.put(row["key"], DATA)
    assert await w.checks.object_written(row["key"]) is None
    assert await w.checks.late_write(row) is False
    assert await w.checks.sweep_late_writes() is False  # no late check was due for it
    assert row["key"] in w.storage.objects and w.storage.deleted == [] and w.metadata.asked == []


async def test_the_watchers_last_look_deletes_a_write_after_an_upload_ended_without_a_version() -> None:
    row = pinned_row()
    w = world(row)
    assert await w.endings.abort(OWNER, "up-1")
    assert w.sessions.rows["up-1"]["late_check_at"] >= w.sessions.rows["up-1"]["expires_at"]
    w.sessions.rows["up-1"]["late_check_at"] = datetime.now(UTC) - timedelta(seconds=1)
    w.storage.put(row["key"], DATA)  # the form posted again after the abort
    assert await w.checks.sweep_late_writes() is True
    assert row["key"] not in w.storage.objects


async def test_a_completion_sets_no_late_check_for_a_pinned_upload() -> None:
    w = world(pinned_row())
    w.storage.put(pinned_row()["key"], DATA)
    await w.batch_completion.complete_many(OWNER, ["up-1"])
    assert w.sessions.rows["up-1"]["status"] == COMPLETED and "late_check_at" not in w.sessions.rows["up-1"]


async def test_a_deduplicated_batch_item_is_copied_as_before_and_not_pinned() -> None:
    # S3's copy of the source carries no checksum of its own: a pinned session would be refused
    # by its own completion (watcher, after a crash before the record) and its copy deleted.
    source = f"us-west-2/{OWNER}/doc-0/up-0"
    done = session_row(_id="up-0", key=source, status=COMPLETED, stored={"size": 4, "etag": "e", "sha256": SHA})
    w = world(
        done, metadata=FakeMetadata({OWNER: current()}, stored={(OWNER, SHA): StoredBytes(BUCKET, source, 4, SHA)})
    )
    w.storage.put(source, DATA)
    (copied,) = await w.batch_grants.grant_many(OWNER, [GrantRequest("a.txt", 4, "text/plain", sha256=SHA)])
    assert isinstance(copied, IssuedGrant) and copied.deduplicated
    row = w.sessions.rows[copied.grant.upload_id]
    assert row["status"] == COMPLETED and not row.get("pinned_sha256") and row["staging_key"]
    assert w.storage.objects[row["key"]] == DATA


async def test_a_pending_pinned_upload_is_completed_by_the_watcher_from_its_own_key() -> None:
    row = pinned_row(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    w = world(row)
    assert await w.checks.check(row) == EXPIRED  # nothing arrived
    row2 = pinned_row("up-2")
    w = world(row2)
    w.storage.put(row2["key"], DATA)
    assert await w.checks.check(row2) == COMPLETED
    assert w.sessions.rows["up-2"]["stored"]["sha256"] == SHA and w.storage.copied == []
    assert w.sessions.rows["up-2"]["status"] != PENDING


async def test_a_pinned_item_asked_for_as_a_put_gets_a_presigned_put_for_its_own_key_and_no_form() -> None:
    w = world()
    put, browser, unpinned_put = await w.batch_grants.grant_many(
        OWNER,
        [
            GrantRequest("a.txt", 4, "text/plain", sha256=SHA, put=True),
            GrantRequest("b.txt", 4, "text/plain", sha256=SHA, put=True, browser=True),  # a browser posts forms
            GrantRequest("c.txt", 4, "text/plain", put=True),  # nothing to pin: a form to the staging key
        ],
    )
    assert isinstance(put, IssuedGrant) and put.form is None and put.put is not None
    assert put.put["url"].endswith(put.grant.key) and put.grant.pinned_sha256 == SHA
    assert isinstance(browser, IssuedGrant) and browser.put is None and browser.form is not None
    assert isinstance(unpinned_put, IssuedGrant) and unpinned_put.put is None and unpinned_put.form is not None
    assert unpinned_put.form["fields"]["key"] == unpinned_put.grant.staging_key
