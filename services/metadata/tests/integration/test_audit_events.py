"""Metadata's audit sources: unsharing and a download URL each
leave exactly one event in the outbox, written with the action, and none carries a secret."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from docstore_events.activity import FileDownloadUrlIssued, ShareRevoked

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


async def _sign_up(metadata: Harness, password: str) -> dict[str, str]:
    # Sign-up is the accounts service's (issue 36): metadata knows an account from its projection.
    return await metadata.account("audit")


async def _outbox_values(metadata: Harness, event_type: str) -> list[bytes]:
    """The raw JSON values of the outbox rows of one event type (what goes to Kafka)."""
    rows = await metadata.db["outbox"].find({"headers.ce_type": f"docstore.{event_type}"}).to_list(None)
    return [bytes(row["value"]) for row in rows]


async def test_unsharing_records_share_revoked_once(metadata: Harness) -> None:
    owner = await _sign_up(metadata, f"quiet harbour {uuid.uuid4().hex}")
    grantee = await _sign_up(metadata, f"quiet harbour {uuid.uuid4().hex}")
    event = await metadata.stored(b"shared", filename="s.txt", account_id=owner["account_id"], put=False)
    await metadata.record(event)
    document_id = event.document_id
    shared = await metadata.http.post(
        f"/documents/{document_id}/shares",
        headers=metadata.headers(owner["account_id"]),
        json={"username": grantee["username"], "permission": "edit"},
    )
    assert shared.status_code == 201, shared.text
    assert await metadata.emitted(ShareRevoked) == []

    url = f"/documents/{document_id}/shares/{grantee['account_id']}"
    for _ in range(2):  # the second unshare finds nothing to revoke: still one event
        answer = await metadata.http.delete(url, headers=metadata.headers(owner["account_id"]))
        assert answer.status_code in (204, 404), answer.text

    [revoked] = await metadata.emitted(ShareRevoked)
    assert revoked.model_dump() == {
        "account_id": owner["account_id"],
        "document_id": document_id,
        "grantee_id": grantee["account_id"],
        "permission": "edit",
    }


async def test_a_download_url_records_who_which_version_and_never_the_url(metadata: Harness) -> None:
    v1 = await metadata.stored(b"one", filename="report.txt")
    await metadata.record(v1)
    v2 = await metadata.stored(b"two", filename="report.txt", document_id=v1.document_id, base_version=1)
    await metadata.record(v2)

    latest = await metadata.get(f"/documents/{v1.document_id}/download")
    assert latest.status_code == 200, latest.text
    [issued] = await metadata.emitted(FileDownloadUrlIssued)
    assert (issued.account_id, issued.owner_id, issued.document_id, issued.version, issued.name) == (
        metadata.account_id,
        metadata.account_id,
        v1.document_id,
        2,
        "report.txt",
    )
    older = await metadata.get(f"/documents/{v1.document_id}/download", version=1)
    assert older.status_code == 200, older.text
    assert [e.version for e in await metadata.emitted(FileDownloadUrlIssued)] == [2, 1]

    # A refused download (no such version) hands out nothing and records nothing.
    assert (await metadata.get(f"/documents/{v1.document_id}/download", version=9)).status_code == 404
    assert len(await metadata.emitted(FileDownloadUrlIssued)) == 2
    urls = [latest.json()["url"], older.json()["url"]]
    for value in await _outbox_values(metadata, "file.download-url-issued"):
        assert b"Signature" not in value and b"X-Amz" not in value
        assert all(url.encode() not in value for url in urls)
