"""The audit trail's pure rules: which events are actions and what record each becomes (no secrets),
the hash chain, and verification finding an edited, deleted or reordered record where it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from docstore_accounts.domain.audit import (
    ACTIONS,
    GENESIS,
    START,
    AuditFact,
    ChainPoint,
    audit_fact,
    audit_facts,
    canonical_json,
    chain,
    details_of,
    is_action,
    iso_millis,
    purge_point,
    region_of,
    verify,
)
from docstore_events import (
    EVENT_TYPES,
    FileModified,
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkUsed,
    UploadCompleted,
)
from docstore_events.activity import FileDownloadUrlIssued
from docstore_events.uploads import InitiatedUpload, UploadsInitiated

AT = datetime(2026, 11, 23, 18, 0, 0, 123456, tzinfo=UTC)


def fact_of(event: object, **origin: str | None) -> AuditFact:
    data = event.model_dump(mode="json")  # type: ignore[attr-defined]
    found = audit_fact(
        event_type=event.type,  # type: ignore[attr-defined]
        data=data,
        event_id="ev-1",
        at=AT,
        region="us-west-2",
        **origin,  # type: ignore[arg-type]
    )
    assert found is not None
    return found


def facts(count: int, account_id: str = "acc-1") -> list[AuditFact]:
    return [
        AuditFact(
            account_id=account_id,
            event_id=f"ev-{n}",
            at=AT + timedelta(seconds=n),
            action="file.details-changed",
            outcome="success",
            actor={"account_id": account_id},
            document_id="doc-1",
            client_address="203.0.113.1",
            user_agent="ua",
            region="us-west-2",
            details={"name": f"n{n}.txt", "tags": ["a", "b"], "size": n},
        )
        for n in range(count)
    ]


# --- mapping ---------------------------------------------------------------------------------


def test_every_action_the_issue_names_has_a_name() -> None:
    for action in (
        "account.created",
        "account.logged-in",
        "account.login-failed",
        "session.ended",
        "account.plan-changed",
        "upload.initiated",
        "upload.completed",
        "file.download-url-issued",
        "file.details-changed",
        "file.trashed",
        "file.restored",
        "file.deleted",
        "share.created",
        "share.revoked",
        "share.link-created",
        "share.link-used",
        "share.link-revoked",
        "file.followed",
        "notification.preferences-changed",
        "account.deleted",
        "admin.dead-letter-replayed",
        "admin.reconciliation-run",
    ):
        assert action in ACTIONS and is_action(action)


def test_what_the_system_does_on_its_own_is_no_action_but_an_unknown_new_type_is() -> None:
    for internal in ("file.version-recorded", "document.indexed", "quota.exceeded", "account.replicated"):
        assert not is_action(internal)
    assert is_action("something.new-people-do")
    assert all(is_action(name) or name not in ACTIONS for name in EVENT_TYPES)


def test_an_upload_names_who_did_it_the_document_and_where_from_without_storage_internals() -> None:
    event = UploadCompleted(
        account_id="owner",
        upload_id="up-1",
        document_id="doc-1",
        bucket="docstore-us-west-2",
        key="us-west-2/owner/doc-1/up-1",
        filename="report.pdf",
        content_type="application/pdf",
        size=10,
        etag="e",
        sha256="ab" * 32,
        actor_id="editor",
    )
    fact = fact_of(event, client_address="198.51.100.2", user_agent="Firefox")
    assert (fact.action, fact.outcome, fact.actor) == ("upload.completed", "success", {"account_id": "editor"})
    assert (fact.account_id, fact.document_id) == ("owner", "doc-1")
    assert (fact.client_address, fact.user_agent, fact.region) == ("198.51.100.2", "Firefox", "us-west-2")
    assert fact.details["filename"] == "report.pdf" and fact.details["sha256"] == "ab" * 32
    assert not {"bucket", "key", "etag", "account_id", "document_id", "actor_id"} & fact.details.keys()
    assert fact.at == AT.replace(microsecond=123000)  # what MongoDB keeps


def test_a_link_download_is_done_by_the_link_and_an_expiry_by_nobody() -> None:
    used = ShareLinkUsed(account_id="owner", link_id="l-1", document_id="d", document_name="x", version=1, downloads=2)
    assert fact_of(used).actor == {"link_id": "l-1"}
    expired = ShareLinkExpired(account_id="owner", link_id="l-1", document_id="d", expires_at=AT)
    assert fact_of(expired).actor == {}
    created = ShareLinkCreated(
        account_id="owner", link_id="l-1", document_id="d", document_name="x", expires_at=AT, actor_id="editor"
    )
    assert fact_of(created).actor == {"account_id": "editor"} and fact_of(created).details["link_id"] == "l-1"


def facts_of(event: object) -> list[AuditFact]:
    return audit_facts(
        event_type=event.type,  # type: ignore[attr-defined]
        data=event.model_dump(mode="json"),  # type: ignore[attr-defined]
        event_id="ev-1",
        at=AT,
        region="us-west-2",
        client_address="198.51.100.2",
    )


def test_a_grantees_download_is_in_the_grantees_and_the_owners_trail() -> None:
    download = FileDownloadUrlIssued(account_id="grantee", owner_id="owner", document_id="d", version=2, name="x")
    mine, owners = facts_of(download)
    assert (mine.account_id, mine.event_id, mine.from_event) == ("grantee", "ev-1", "ev-1")
    assert (owners.account_id, owners.event_id, owners.from_event) == ("owner", "ev-1/owner", "ev-1")
    for fact in (mine, owners):  # the same facts: who (the grantee), what, which document, from where
        assert (fact.actor, fact.document_id, fact.action) == (
            {"account_id": "grantee"},
            "d",
            "file.download-url-issued",
        )
        assert fact.client_address == "198.51.100.2" and fact.details["version"] == 2
    # The owner's own download is one record, in the owner's trail.
    [own] = facts_of(FileDownloadUrlIssued(account_id="owner", owner_id="owner", document_id="d", version=1, name="x"))
    assert (own.account_id, own.event_id) == ("owner", "ev-1")


def test_what_an_editor_does_on_an_owners_document_is_in_both_trails() -> None:
    created = ShareLinkCreated(
        account_id="owner", link_id="l-1", document_id="d", document_name="x", expires_at=AT, actor_id="editor"
    )
    assert [(f.account_id, f.actor) for f in facts_of(created)] == [
        ("owner", {"account_id": "editor"}),
        ("editor", {"account_id": "editor"}),
    ]
    by_owner = created.model_copy(update={"actor_id": "owner"})
    assert [f.account_id for f in facts_of(by_owner)] == ["owner"]
    # A link's anonymous use and an expiry have no account acting: the owner's trail only.
    used = ShareLinkUsed(account_id="owner", link_id="l-1", document_id="d", document_name="x", version=1, downloads=1)
    assert [f.account_id for f in facts_of(used)] == ["owner"]
    # An editor's new version: the owner's trail and the editor's.
    modified = FileModified(account_id="owner", document_id="d", version=2, name="x", size=1, actor_id="editor")
    assert [f.account_id for f in facts_of(modified)] == ["owner", "editor"]


def test_a_failed_login_is_a_failure_by_type_or_by_its_own_outcome() -> None:
    failed = audit_fact(
        event_type="account.login-failed",
        data={"account_id": "acc", "reason": "wrong-password"},
        event_id="e",
        at=AT,
        region="r",
    )
    assert failed is not None and failed.outcome == "failure" and failed.details == {"reason": "wrong-password"}
    declared = audit_fact(
        event_type="admin.reconciliation-run",
        data={"account_id": "a", "outcome": "failure"},
        event_id="e",
        at=AT,
        region="r",
    )
    assert declared is not None and declared.outcome == "failure" and "outcome" not in declared.details


def test_modified_by_an_editor_is_the_editors_doing() -> None:
    event = FileModified(account_id="owner", document_id="d", version=2, name="n", size=1, actor_id="editor")
    assert fact_of(event).actor == {"account_id": "editor"}


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "new_password",
        "token",
        "link_token",
        "refresh_token",
        "signature",
        "client_secret",
        "credentials",
        "password_hash",
        "download_url",
        "url",
        "Authorization",
        "cookie",
    ],
)
def test_no_secret_shaped_detail_is_kept_whatever_its_name(name: str) -> None:
    assert details_of({name: "s3cr3t", "kept": 1}) == {"kept": 1}
    assert details_of({"nested": {name: "s3cr3t", "kept": 1}}) == {"nested": {"kept": 1}}


def test_signed_url_text_is_dropped_in_whatever_field_it_hides() -> None:
    signed = "https://s3/x?X-Amz-Credential=AKIA&X-Amz-Signature=abc"
    assert details_of({"where": signed, "list": [signed, "fine"], "name": "a.txt"}) == {
        "list": ["fine"],
        "name": "a.txt",
    }


def test_region_comes_from_the_cloudevents_source() -> None:
    assert region_of("/docstore/ap-southeast-2/metadata", "us-west-2") == "ap-southeast-2"
    assert region_of("/docstore/test", "us-west-2") == "us-west-2"


# --- chain -----------------------------------------------------------------------------------


def test_a_chain_links_each_record_to_the_one_before() -> None:
    records = chain(START, facts(3))
    assert [record.seq for record in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS
    assert [record.prev_hash for record in records[1:]] == [record.hash for record in records[:-1]]
    assert all(len(record.hash) == 64 and record.computed_hash() == record.hash for record in records)
    more = chain(records[-1].point(), facts(1))
    assert (more[0].seq, more[0].prev_hash) == (4, records[-1].hash)


def test_the_hash_covers_every_field() -> None:
    [record] = chain(START, facts(1))
    for change in (
        {"seq": 2},
        {"account_id": "other"},
        {"event_id": "x"},
        {"at": record.at + timedelta(milliseconds=1)},
        {"action": "file.trashed"},
        {"outcome": "failure"},
        {"actor": {"link_id": "l"}},
        {"document_id": None},
        {"client_address": "10.0.0.1"},
        {"user_agent": None},
        {"region": "ap-southeast-2"},
        {"details": {"name": "n0.txt", "tags": ["b", "a"], "size": 0}},
        {"prev_hash": "1" * 64},
    ):
        assert replace(record, **change).computed_hash() != record.hash, change  # type: ignore[arg-type]


def test_canonical_json_is_one_spelling() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    assert iso_millis(AT) == "2026-11-23T18:00:00.123Z"
    assert iso_millis(datetime(2026, 1, 1, 10, tzinfo=UTC).astimezone(UTC)) == "2026-01-01T10:00:00.000Z"


# --- verification ----------------------------------------------------------------------------


def test_an_untouched_chain_verifies() -> None:
    records = chain(START, facts(5))
    verdict = verify(records, head=records[-1].point())
    assert (verdict.ok, verdict.checked, verdict.first_seq, verdict.last_seq, verdict.broken_at) == (
        True,
        5,
        1,
        5,
        None,
    )
    assert verify([]).ok and verify([], head=START).ok


def test_an_edited_record_breaks_the_chain_at_that_record() -> None:
    records = chain(START, facts(5))
    records[2] = replace(records[2], details={"name": "other.txt"})
    assert (verify(records).ok, verify(records).broken_at) == (False, 3)


def test_an_edited_record_whose_hash_was_recomputed_breaks_it_at_the_next() -> None:
    records = chain(START, facts(5))
    forged = replace(records[2], client_address="10.9.9.9")
    records[2] = replace(forged, hash=forged.computed_hash())
    assert verify(records).broken_at == 4


def test_a_deleted_record_breaks_the_chain_at_its_successor() -> None:
    records = chain(START, facts(5))
    del records[1]
    verdict = verify(records)
    assert (verdict.ok, verdict.broken_at) == (False, 3) and "missing" in (verdict.reason or "")


def test_reordered_records_break_the_chain_where_the_order_changes() -> None:
    records = chain(START, facts(5))
    swapped = [records[0], replace(records[2], seq=2), replace(records[1], seq=3), records[3], records[4]]
    assert verify(swapped).broken_at == 2
    assert verify([records[0], records[2], records[1], records[3], records[4]]).broken_at == 3


def test_records_deleted_from_the_end_are_found_against_the_head() -> None:
    records = chain(START, facts(5))
    verdict = verify(records[:3], head=records[-1].point())
    assert (verdict.ok, verdict.broken_at) == (False, 4)
    assert verify(records[:4], head=ChainPoint(4, "f" * 64)).broken_at == 4


def test_after_a_purge_verification_starts_at_the_anchor() -> None:
    records = chain(START, facts(6))
    anchor = records[2].point()
    assert verify(records[3:], anchor=anchor, head=records[-1].point()).ok
    assert verify(records[3:]).broken_at == 4  # without the anchor it cannot start there
    assert verify(records[4:], anchor=anchor).broken_at == 5


def test_a_purge_takes_the_old_prefix_of_a_chain_only() -> None:
    cutoff = AT
    old, new = AT - timedelta(days=1), AT + timedelta(days=1)
    assert purge_point([(1, old), (2, old), (3, new), (4, old)], cutoff) == 2
    assert purge_point([(1, new), (2, old)], cutoff) is None
    assert purge_point([], cutoff) is None


def test_a_batch_grant_is_one_record_listing_its_uploads() -> None:
    """`upload.batch-initiated` (one event per batch grant, issue 35) is one record of the account's
    action, with each grant's upload, document, size and type in its details."""
    batch = UploadsInitiated(
        account_id="owner",
        uploads=[
            InitiatedUpload(
                upload_id=f"u-{n}", document_id=f"d-{n}", declared_size=n, content_type="text/plain", expires_at=AT
            )
            for n in range(3)
        ],
    )
    [fact] = facts_of(batch)
    assert (fact.account_id, fact.action, fact.actor, fact.document_id) == (
        "owner",
        "upload.batch-initiated",
        {"account_id": "owner"},
        None,
    )
    assert [item["document_id"] for item in fact.details["uploads"]] == ["d-0", "d-1", "d-2"]
    assert ACTIONS["upload.batch-initiated"] and is_action("upload.batch-initiated")
