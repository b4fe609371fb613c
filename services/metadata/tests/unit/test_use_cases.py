"""Use cases on `FakeUnitOfWork` and in-memory repositories (`conftest.py`): what each one stores,
emits and refuses, without servers."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_events import (
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
    UploadCompleted,
)
from docstore_kit.errors import DomainError
from docstore_metadata.domain.documents import (
    DocumentNotFound,
    InTrash,
    InvalidDetails,
    NotInTrash,
    TrashExpired,
)
from docstore_metadata.domain.folders import NameClash
from docstore_metadata.domain.identity import EmailNotVerified
from docstore_metadata.domain.sharing import NoAccess, OwnerOnly, UnknownUser

PASSWORD = "quartz lantern orbit 97 meadow"
OWNER = "acc-owner"


def upload(
    document_id: str | None = None,
    *,
    body: bytes = b"hello",
    base_version: int | None = None,
    filename: str = "notes.txt",
    account_id: str = OWNER,
) -> UploadCompleted:
    document_id = document_id or str(uuid.uuid4())
    upload_id = uuid.uuid4().hex
    return UploadCompleted(
        account_id=account_id,
        upload_id=upload_id,
        document_id=document_id,
        bucket="b",
        key=f"here/{account_id}/{document_id}/{upload_id}",
        filename=filename,
        content_type="text/plain",
        size=len(body),
        etag=hashlib.md5(body).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(),
        tags=[],
        path="/",
        base_version=base_version,
    )


def kinds(world: Any) -> list[str]:
    return [c["kind"] for c in world.repos.documents.changes]


async def test_uploads_become_versions_and_a_stale_base_becomes_a_conflict_copy(world: Any) -> None:
    first = upload()
    recorded = await world.documents.record_upload(first)
    assert recorded.is_new_document and recorded.version == 1
    second = await world.documents.record_upload(upload(first.document_id, body=b"two", base_version=1))
    assert second.version == 2 and not second.is_new_document
    stale = await world.documents.record_upload(upload(first.document_id, body=b"late", base_version=1))
    assert stale.is_new_document and stale.conflict_of == first.document_id
    assert world.repos.documents.rows[stale.document_id]["name"].startswith("notes (conflict copy ")
    assert [type(e) for e in world.uow.emitted] == [
        FileVersionRecorded,
        FileVersionRecorded,
        FileModified,
        FileVersionRecorded,
    ]
    assert kinds(world) == ["created", "modified", "conflict"]


async def test_an_event_is_recorded_once(world: Any) -> None:
    event = upload()
    assert await world.documents.record_upload_once("event-1", event)
    assert not await world.documents.record_upload_once("event-1", event)
    assert len(world.uow.emitted) == 1


async def test_a_batch_of_new_documents_is_written_together_not_one_round_trip_per_upload(world: Any) -> None:
    """A sync of thousands of new files is batches of new documents: one read of the batch's ids,
    one write of its documents and versions, one of its changes (five round trips per upload
    left metadata minutes behind on a loaded database). Each still gets its version event and
    its change, in the events' order."""
    events = [upload(filename=f"f{n:03d}.txt", body=str(n).encode()) for n in range(100)]
    recorded = await world.documents.record_uploads_once([(f"e{n}", e) for n, e in enumerate(events)])
    assert recorded == {f"e{n}" for n in range(100)}
    calls = world.repos.documents.calls
    assert calls["get_many"] == 1 and calls["insert_new"] == 1 and calls["add_changes"] == 1, calls
    assert calls["insert_document"] == 0 and calls["add_change"] == 0, calls
    changes = world.repos.documents.changes
    assert [(c["seq"], c["kind"], c["document_id"]) for c in changes] == [
        (n + 1, "created", e.document_id) for n, e in enumerate(events)
    ]
    emitted = [e for e in world.uow.emitted if isinstance(e, FileVersionRecorded)]
    assert [(e.document_id, e.version) for e in emitted] == [(e.document_id, 1) for e in events]
    stored = world.repos.documents.rows
    assert all(
        stored[e.document_id]["name"] == e.filename and stored[e.document_id]["current_version"] == 1 for e in events
    )
    assert not await world.documents.record_uploads_once([("e0", events[0])])  # once each


async def test_a_batch_mixing_new_documents_and_versions_of_them_keeps_the_order_of_its_events(world: Any) -> None:
    """A version of a document created earlier in the same batch, and a stale version of it (a
    conflict), go the general path after what was held back is written: the result is what one
    event at a time would give."""
    a, b, c = upload(filename="a.txt", body=b"a1"), upload(filename="b.txt", body=b"b1"), upload(filename="c.txt")
    a2 = upload(a.document_id, body=b"a2", base_version=1)
    b2 = upload(b.document_id, body=b"b2", base_version=1)
    b_late = upload(b.document_id, body=b"b-late", base_version=1)  # b2 came first: a conflict copy
    batch = [a, b, a2, c, b2, b_late]
    await world.documents.record_uploads_once([(f"e{n}", e) for n, e in enumerate(batch)])
    docs = world.repos.documents.rows
    assert docs[a.document_id]["current_version"] == 2 and docs[a.document_id]["sha256"] == a2.sha256
    assert docs[b.document_id]["current_version"] == 2 and docs[b.document_id]["sha256"] == b2.sha256
    assert docs[c.document_id]["current_version"] == 1
    copies = [d for d in docs.values() if d["_id"] not in {a.document_id, b.document_id, c.document_id}]
    assert len(copies) == 1 and copies[0]["sha256"] == b_late.sha256 and "conflict copy" in copies[0]["name"]
    changes = world.repos.documents.changes
    assert [c["seq"] for c in changes] == list(range(1, 7))
    assert [(c["kind"], c["document_id"]) for c in changes] == [
        ("created", a.document_id),
        ("created", b.document_id),
        ("modified", a.document_id),
        ("created", c.document_id),
        ("modified", b.document_id),
        ("conflict", copies[0]["_id"]),
    ]


async def test_retention_prunes_the_oldest_versions_and_wakes_housekeeping_after_commit(world: Any) -> None:
    first = upload(body=b"1")
    await world.documents.record_upload(first)
    for n in range(2, 5):
        await world.documents.record_upload(upload(first.document_id, body=str(n).encode()))
    deleted = [e for e in world.uow.emitted if isinstance(e, FileDeleted)]
    assert [(d.versions, d.size, d.whole_document) for d in deleted] == [([1], 1, False)]
    assert list(world.repos.documents.garbage) == [f"b/{first.key}"]
    assert world.woken == ["garbage"]


async def test_rename_emits_file_details_changed_and_one_change_per_aspect(world: Any) -> None:
    event = upload(filename="draft.txt")
    await world.documents.record_upload(event)
    document = await world.documents.update_details(OWNER, event.document_id, name="Final.txt", tags=["b", "a", "a"])
    assert document["name"] == "Final.txt" and document["name_lower"] == "final.txt" and document["tags"] == ["a", "b"]
    changed = world.uow.emitted[-1]
    assert isinstance(changed, FileDetailsChanged) and changed.name == "Final.txt" and changed.tags == ["a", "b"]
    assert kinds(world) == ["created", "renamed", "tagged"]
    commits = world.uow.commits
    await world.documents.update_details(OWNER, event.document_id, name="Final.txt")  # nothing changes
    assert world.uow.commits == commits + 1 and world.uow.emitted[-1] is changed
    with pytest.raises(InvalidDetails):
        await world.documents.update_details(OWNER, event.document_id, name="a/b")


async def test_only_the_owner_renames_and_strangers_see_nothing(world: Any) -> None:
    event = upload()
    await world.documents.record_upload(event)
    await world.repos.sharing.share(event.document_id, OWNER, "acc-editor", "edit")
    with pytest.raises(
        OwnerOnly, match="^Only the owner of this document can rename, move or re-tag it\\.$"
    ) as refused:
        await world.documents.update_details("acc-editor", event.document_id, name="x.txt")
    assert refused.value.status == 403
    with pytest.raises(NoAccess) as hidden:
        await world.documents.update_details("acc-stranger", event.document_id, name="x.txt")
    assert hidden.value.status == 404 and str(hidden.value).startswith("This document could not be found.")
    assert (await world.documents.get("acc-editor", event.document_id))["_id"] == event.document_id


async def test_trash_and_restore_follow_the_rules(world: Any) -> None:
    event = upload()
    await world.documents.record_upload(event)
    doc_id = event.document_id
    with pytest.raises(NotInTrash):
        await world.documents.untrash(OWNER, doc_id)
    await world.documents.trash(OWNER, doc_id)
    await world.documents.trash(OWNER, doc_id)  # already there: no second event
    with pytest.raises(InTrash) as in_trash:
        await world.documents.update_details(OWNER, doc_id, name="b.txt")
    assert in_trash.value.status == 409
    restored = await world.documents.untrash(OWNER, doc_id)
    assert not restored["trashed"]
    assert [type(e) for e in world.uow.emitted[1:]] == [FileTrashed, FileRestored]

    await world.documents.trash(OWNER, doc_id)
    world.repos.documents.rows[doc_id]["trashed_at"] = datetime.now(UTC) - timedelta(days=31)
    with pytest.raises(TrashExpired) as expired:
        await world.documents.untrash(OWNER, doc_id)
    assert expired.value.status == 410
    assert await world.documents.purge_expired("replica-1") == 1
    assert await world.documents.purge_expired("replica-2") == 0
    gone = world.uow.emitted[-1]
    assert isinstance(gone, FileDeleted) and gone.whole_document and gone.versions == [1]
    with pytest.raises(DocumentNotFound):
        await world.documents.purge_now(OWNER, doc_id)
    assert kinds(world) == ["created", "trashed", "restored", "trashed", "deleted"]


# --- sharing ---------------------------------------------------------------------------------


async def test_sharing_is_the_owners_and_emits_once(world: Any) -> None:
    grantee = await world.accounts.sign_up(username="bob", email="bob@example.com", password=PASSWORD, plan="free")
    event = upload()
    await world.documents.record_upload(event)
    shared = await world.sharing.share(OWNER, event.document_id, "BOB", "view")
    assert shared == {
        "grantee_id": grantee.id,
        "username": "bob",
        "permission": "view",
        "document_id": event.document_id,
    }
    await world.sharing.share(OWNER, event.document_id, "bob", "edit")  # a change, not a new share
    assert len([e for e in world.uow.emitted if isinstance(e, ShareCreated)]) == 1
    with pytest.raises(OwnerOnly, match="can share it"):
        await world.sharing.share(grantee.id, event.document_id, "bob", "view")
    for refusal in (NoAccess, OwnerOnly, UnknownUser):
        assert issubclass(refusal, DomainError)


# --- one live document per name in a folder (issue 34) ------------------------------------------


async def test_a_rename_or_move_onto_a_live_documents_name_is_refused_with_409(world: Any) -> None:
    one, other = upload(filename="a.txt"), upload(filename="b.txt")
    for event in (one, other):
        await world.documents.record_upload(event)
    with pytest.raises(NameClash) as refused:
        await world.documents.update_details(OWNER, other.document_id, name="a.txt")
    assert refused.value.status == 409 and "already a document called \u201ca.txt\u201d" in str(refused.value)
    await world.documents.update_details(OWNER, other.document_id, name="A.txt")  # case is kept: another name
    await world.documents.trash(OWNER, one.document_id)
    await world.documents.update_details(OWNER, other.document_id, name="a.txt")  # a trashed one holds no name


async def test_a_new_document_completed_under_a_taken_name_becomes_a_conflict_copy_never_a_duplicate(
    world: Any,
) -> None:
    """Two grants for one new name raced (upload refuses the second only when the first is
    recorded): the second to be recorded gets a conflict-copy name, in a batch or alone."""
    first, second, third = (upload(filename="r\u00e9sum\u00e9.txt", body=b) for b in (b"1", b"2", b"3"))
    await world.documents.record_uploads_once([("e1", first), ("e2", second)])
    await world.documents.record_upload(third)
    names = [world.repos.documents.rows[e.document_id]["name"] for e in (first, second, third)]
    assert names[0] == "r\u00e9sum\u00e9.txt"
    assert names[1].startswith("r\u00e9sum\u00e9 (conflict copy ") and second.document_id[:6] in names[1]
    assert names[2].startswith("r\u00e9sum\u00e9 (conflict copy ") and third.document_id[:6] in names[2]
    assert len(set(names)) == 3


async def test_a_document_restored_onto_a_taken_name_comes_back_numbered(world: Any) -> None:
    old, new = upload(filename="a.txt", body=b"old"), upload(filename="a.txt", body=b"new")
    await world.documents.record_upload(old)
    await world.documents.trash(OWNER, old.document_id)
    await world.documents.record_upload(new)
    restored = await world.documents.untrash(OWNER, old.document_id)
    assert restored["name"] == "a 2.txt" and world.repos.documents.rows[new.document_id]["name"] == "a.txt"


# --- a verified address first (issue 20; the flag comes from the accounts service, issue 36) --------


async def test_sharing_waits_for_a_verified_address(world: Any) -> None:
    owner = await world.accounts.sign_up(username="ada", email="ada@example.com", password=PASSWORD, plan="free")
    await world.accounts.sign_up(username="bob", email="bob@example.com", password=PASSWORD, plan="free")
    await world.accounts.update(owner.id, {"email_verified": False})
    event = upload(account_id=owner.id)
    await world.documents.record_upload(event)
    with pytest.raises(EmailNotVerified, match="verify your e-mail"):
        await world.sharing.share(owner.id, event.document_id, "bob", "view")

    await world.accounts.update(owner.id, {"email_verified": True})
    await world.sharing.share(owner.id, event.document_id, "bob", "view")
    assert [e for e in world.uow.emitted if isinstance(e, ShareCreated)]
