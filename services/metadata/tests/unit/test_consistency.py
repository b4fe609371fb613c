"""The recorded-versions check's rules (issue 32): which versions the indexer never applied,
under which id their event is published again, and the event rebuilt from the version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from docstore_metadata.domain.consistency import (
    recorded_from_state,
    settled_before,
    version_recorded_event_id,
    watermark,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOCUMENT = {"_id": "doc-1", "account_id": "acc-1", "title": "Q3", "tags": ["fin"], "path": "/reports"}


def version(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "_id": f"doc-1:{number}",
        "document_id": "doc-1",
        "account_id": "acc-1",
        "version": number,
        "upload_id": f"up-{number}",
        "bucket": "b",
        "key": f"k{number}",
        "size": 10 * number,
        "etag": '"e"',
        "sha256": "a" * 64,
        "content_type": "text/plain",
        "filename": "q3.txt",
        "created_at": NOW,
        **extra,
    }


def test_a_version_has_one_event_id_for_ever() -> None:
    assert version_recorded_event_id("doc-1", 2) == version_recorded_event_id("doc-1", 2)
    assert len({version_recorded_event_id("doc-1", 1), version_recorded_event_id("doc-1", 2)}) == 2


def test_the_event_is_rebuilt_from_the_version_and_its_document() -> None:
    event = recorded_from_state(DOCUMENT, version(2))
    assert (event.account_id, event.document_id, event.version, event.upload_id) == ("acc-1", "doc-1", 2, "up-2")
    assert (event.size, event.key, event.title, event.tags, event.path) == (20, "k2", "Q3", ["fin"], "/reports")


def test_pages_follow_creation_order_and_only_settled_versions_are_judged() -> None:
    assert watermark(version(4)) == [NOW, "doc-1:4"]
    assert settled_before(NOW, 60) == NOW - timedelta(seconds=60)
