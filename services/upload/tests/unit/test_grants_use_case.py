"""One grant on fakes (`service_layer/grants.py`): what it records and emits, and what it leaves alone
when it refuses (bad request, a taken name, no room)."""

from __future__ import annotations

import pytest
from upload_fakes import DOC, EDITOR, OWNER, FakeMetadata, current, world

from docstore_events import UploadInitiated
from docstore_upload.domain.errors import InvalidUpload, NameTaken, StaleBase
from docstore_upload.domain.grants import GrantRequest
from docstore_upload.domain.multipart import MAX_PART, MAX_PARTS, MIN_PART
from docstore_upload.domain.sessions import PENDING


async def test_a_form_grant_records_the_session_and_announces_it() -> None:
    w = world()
    issued = await w.grants.grant(OWNER, GrantRequest(" notes.txt ", 4, "Text/Plain", tags=("b", "a", "b")))
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
    issued = await w.grants.grant(
        EDITOR, GrantRequest("a.txt", 40 * 2**20, "text/plain", document_id=DOC, base_version=1, multipart=True)
    )
    assert issued.grant.account_id == OWNER and issued.grant.staging_key is None
    assert issued.part_size == 16 * 2**20 and issued.part_urls is not None and sorted(issued.part_urls) == [1, 2, 3]
    row = w.sessions.rows[issued.grant.upload_id]
    assert row["actor_id"] == EDITOR and row["part_count"] == 3 and row["s3_upload_id"]


async def test_a_file_over_5_gib_is_granted_in_parts_within_s3s_limits_without_asking() -> None:
    """Past S3's 5 GiB limit for one PUT, what differs is the plan: parts without `multipart`
    asked for, each within S3's part limits, the whole size reserved. Sending the parts and
    reading them back is the same at any size (tests/e2e/test_uploads.py, in parallel parts);
    an e2e that sent 5 GiB through the local S3 took about 100 s of the suite (issue 35)."""
    size = 5 * 2**30 + 7 * 2**20
    w = world()
    issued = await w.grants.grant(OWNER, GrantRequest("raw-footage.mov", size, "video/quicktime"))
    assert issued.form is None and issued.part_urls is not None and issued.part_size is not None
    count = len(issued.part_urls)
    assert sorted(issued.part_urls) == list(range(1, count + 1)) and count <= MAX_PARTS
    assert (
        MIN_PART <= issued.part_size <= MAX_PART and (count - 1) * issued.part_size < size <= count * issued.part_size
    )
    row = w.sessions.rows[issued.grant.upload_id]
    assert row["declared_size"] == size and row["part_count"] == count and row["s3_upload_id"]
    assert [(account, reserved) for account, _, reserved, _ in w.quota.reserved] == [(OWNER, size)]


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
        await w.grants.grant(OWNER, request_)
    assert w.sessions.rows == {} and w.uow.emitted == [] and w.quota.reserved == []


async def test_a_new_documents_grant_for_a_taken_name_is_refused_with_409_and_reserves_nothing() -> None:
    """One live document per name in a folder (issue 34): metadata is asked before the grant."""
    w = world()
    w.metadata.names.add((OWNER, "/", "r\u00e9sum\u00e9.txt"))
    # The name as macOS spells it (NFD) is the same name once normalised.
    with pytest.raises(NameTaken) as refused:
        await w.grants.grant(OWNER, GrantRequest("re\u0301sume\u0301.txt", 4, "text/plain"))
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
        await w.grants.grant(OWNER, GrantRequest("r\u00e9sum\u00e9.txt", 4, "text/plain"))
    assert again.value.extra()["keep_both_name"] == "r\u00e9sum\u00e9 3.txt"
    assert w.sessions.rows == {} and w.quota.reserved == []
    await w.grants.grant(OWNER, GrantRequest("R\u00e9sum\u00e9.txt", 4, "text/plain"))  # case kept: another name


async def test_a_batch_refuses_taken_names_and_the_second_of_two_new_files_of_one_name() -> None:
    w = world()
    w.metadata.names.add((OWNER, "/", "taken.txt"))
    results = await w.batch_grants.grant_many(
        OWNER,
        [GrantRequest(n, 4, "text/plain") for n in ("taken.txt", "new.txt", "new.txt", "other.txt")],
    )
    assert [type(r).__name__ for r in results] == ["NameTaken", "IssuedGrant", "NameTaken", "IssuedGrant"]


async def test_an_empty_file_is_granted_and_holds_no_room() -> None:
    """A 0-byte file is a document like any other (issue 34); quota holds only sizes above 0."""
    w = world()
    issued = await w.grants.grant(OWNER, GrantRequest("empty.txt", 0, "text/plain"))
    assert issued.form is not None and w.quota.reserved == []
    [result] = await w.batch_grants.grant_many(OWNER, [GrantRequest(".gitkeep", 0, "text/plain")])
    assert type(result).__name__ == "IssuedGrant" and w.quota.reserved == []


async def test_while_metadata_does_not_answer_a_new_document_is_still_granted() -> None:
    """Uploads do not stop with metadata (issue 32: it may be down or behind); the name rule then
    holds at completion, which gives a clashing new document a conflict-copy name."""
    w = world(metadata=FakeMetadata(down=True))
    issued = await w.grants.grant(OWNER, GrantRequest("notes.txt", 4, "text/plain"))
    assert issued.form is not None
    [result] = await w.batch_grants.grant_many(OWNER, [GrantRequest("more.txt", 4, "text/plain")])
    assert type(result).__name__ == "IssuedGrant"
