"""A document's full-text state: the indexer's outcomes kept on the document, and what its answer says."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from docstore_events import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed, UploadCompleted
from docstore_events.indexing import IndexOutcome
from docstore_metadata.domain.full_text import advice, detail, full_text_of

PASSWORD = "quartz lantern orbit 97 meadow"


def upload(account_id: str, document_id: str, base_version: int | None = None) -> UploadCompleted:
    upload_id = uuid.uuid4().hex
    return UploadCompleted(
        account_id=account_id,
        upload_id=upload_id,
        document_id=document_id,
        bucket="b",
        key=f"here/{account_id}/{document_id}/{upload_id}",
        filename="report.pdf",
        content_type="application/pdf",
        size=5,
        etag=hashlib.md5(upload_id.encode()).hexdigest(),
        sha256=hashlib.sha256(upload_id.encode()).hexdigest(),
        tags=[],
        path="/",
        base_version=base_version,
    )


def test_advice_says_what_to_do_for_each_kind_of_failure() -> None:
    assert advice("encrypted PDF (needs a password)").startswith("Remove the password")
    assert "damaged or incomplete" in advice("unreadable PDF: PdfReadError: EOF marker not found")
    assert "too long" in advice("extraction timed out after 30 s")
    assert "another format" in advice("something new")


def test_detail_says_each_kind_of_failure_in_human_words() -> None:
    assert (
        detail("encrypted PDF (needs a password)") == "It is protected with a password, so its words could not be read."
    )
    damaged = detail("unreadable PDF: PdfReadError: EOF marker not found")
    assert "damaged or incomplete" in damaged and "PdfReadError" not in damaged
    too_large = detail("too large to extract: 123456789 bytes, limit 100000000")
    assert "too large" in too_large and "bytes" not in too_large and "123" not in too_large
    assert "too long" in detail("extraction timed out after 30 s")
    assert "old Office format" in detail("encrypted (password-protected) or legacy binary Office document")
    assert detail("search index refused it: 400 Bad Request") == "Its words could not be read."


def test_the_answer_by_plan_and_outcome() -> None:
    doc: dict[str, Any] = {"current_version": 2}
    assert full_text_of(doc, "free")["state"] == "not_indexed"
    assert full_text_of(doc, "premium") == {
        "state": "pending",
        "reason": None,
        "advice": None,
        "detail": "Being indexed: its words will be searchable in a moment.",
    }
    doc["full_text"] = {"version": 1, "state": "indexed", "reason": None}
    assert full_text_of(doc, "premium")["state"] == "pending"  # the outcome is for an older version
    doc["full_text"] = {"version": 2, "state": "failed", "reason": "encrypted PDF (needs a password)"}
    answer = full_text_of(doc, "premium")
    assert answer["state"] == "failed" and answer["reason"] == "encrypted PDF (needs a password)"
    assert "Remove the password" in answer["advice"] and "found by its name" in answer["advice"]
    assert answer["detail"] == "It is protected with a password, so its words could not be read."
    doc["full_text"] = {"version": 2, "state": "indexed", "reason": None}
    assert full_text_of(doc, "premium")["detail"] == "Its words are searchable."


async def test_outcomes_are_kept_once_and_a_late_older_one_changes_nothing(world: Any) -> None:
    account = await world.accounts.sign_up(username="ada", email="ada@example.com", password=PASSWORD, plan="premium")
    document_id = str(uuid.uuid4())
    await world.documents.record_upload(upload(account.id, document_id))
    await world.documents.record_upload(upload(account.id, document_id, base_version=1))
    failed = DocumentIndexFailed(
        account_id=account.id, document_id=document_id, version=2, reason="encrypted PDF (needs a password)"
    )
    assert await world.documents.record_index_outcomes_once([("e-2", failed)]) == {"e-2"}
    assert await world.documents.record_index_outcomes_once([("e-2", failed)]) == frozenset()
    late = DocumentIndexed(account_id=account.id, document_id=document_id, version=1, characters=10)
    stranger = DocumentIndexed(account_id="acc-other", document_id=document_id, version=3, characters=10)
    gone = DocumentIndexed(account_id=account.id, document_id="no-such-doc", version=1, characters=10)
    await world.documents.record_index_outcomes_once([("e-1", late), ("e-3", stranger), ("e-4", gone)])
    stored = world.repos.documents.rows[document_id]["full_text"]
    assert stored == {"version": 2, "state": "failed", "reason": "encrypted PDF (needs a password)"}
    assert await world.documents.plans_of({account.id, "acc-unknown"}) == {account.id: "premium", "acc-unknown": "free"}


async def test_a_batch_of_outcomes_is_one_read_and_one_write_and_keeps_their_order(world: Any) -> None:
    """The indexer reports on every new file: a batch reads its documents once and writes once, and
    a later outcome of the batch is judged against what an earlier one set (a late older one
    changes nothing)."""
    account = await world.accounts.sign_up(username="bob", email="bob@example.com", password=PASSWORD, plan="premium")
    document_id = str(uuid.uuid4())
    await world.documents.record_upload(upload(account.id, document_id))
    await world.documents.record_upload(upload(account.id, document_id, base_version=1))
    others = [str(uuid.uuid4()) for _ in range(20)]
    for other in others:
        await world.documents.record_upload(upload(account.id, other))
    calls = world.repos.documents.calls
    calls.clear()
    batch = [
        DocumentIndexed(account_id=account.id, document_id=document_id, version=2, characters=5),
        DocumentIndexed(account_id=account.id, document_id=document_id, version=1, characters=5),  # late
        *[DocumentIndexed(account_id=account.id, document_id=o, version=1, characters=1) for o in others],
    ]
    assert len(await world.documents.record_index_outcomes_once([(f"b{n}", e) for n, e in enumerate(batch)])) == 22
    assert calls["get_many"] == 1 and calls["update_documents"] == 1, calls
    rows = world.repos.documents.rows
    assert rows[document_id]["full_text"] == {"version": 2, "state": "indexed", "reason": None}
    assert all(rows[o]["full_text"]["state"] == "indexed" for o in others)


async def test_a_batch_event_of_outcomes_is_applied_as_its_outcomes_once(world: Any) -> None:
    """`document.batch-indexed` (one account's outcomes of one indexing batch) applies each of its
    outcomes as the single events would, in order, and once however often it comes."""
    account = await world.accounts.sign_up(username="cy", email="cy@example.com", password=PASSWORD, plan="premium")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await world.documents.record_upload(upload(account.id, first))
    await world.documents.record_upload(upload(account.id, second))
    batch = DocumentsIndexed(
        account_id=account.id,
        outcomes=[
            IndexOutcome(document_id=first, version=1, characters=7),
            IndexOutcome(document_id=second, version=1, reason="encrypted PDF (needs a password)"),
        ],
    )
    assert await world.documents.record_index_outcomes_once([("batch-1", batch)]) == {"batch-1"}
    rows = world.repos.documents.rows
    assert rows[first]["full_text"] == {"version": 1, "state": "indexed", "reason": None}
    assert rows[second]["full_text"] == {"version": 1, "state": "failed", "reason": "encrypted PDF (needs a password)"}
    assert await world.documents.record_index_outcomes_once([("batch-1", batch)]) == frozenset()
