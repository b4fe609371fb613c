"""The completed-uploads check's rules (issue 32): which completed uploads a consumer never
applied, under which event id they are published again, and the event rebuilt from the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_events import UploadCompleted
from docstore_upload.domain.consistency import (
    completed_event_id,
    completed_from_state,
    original_event_id,
    settled_before,
    watermark,
)
from docstore_upload.domain.sessions import PENDING, StoredObject, completed

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def session(upload_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "_id": upload_id,
        "account_id": "acc-1",
        "actor_id": "acc-1",
        "document_id": f"doc-{upload_id}",
        "key": f"us-west-2/acc-1/doc-{upload_id}/{upload_id}",
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "status": "completed",
        "finished_at": NOW,
        "stored": {"size": 1234, "etag": '"abc"', "sha256": "f" * 64},
        "tags": ["q3"],
        "path": "/work",
        "title": "Report",
        "base_version": None,
        **extra,
    }


def test_an_upload_has_one_event_id_for_ever() -> None:
    assert completed_event_id("up-1") == completed_event_id("up-1")
    assert completed_event_id("up-1") != completed_event_id("up-2")


def test_the_event_rebuilt_from_the_session_is_the_one_completion_announced() -> None:
    row = session("up-1")
    announced = completed(row, StoredObject(size=1234, etag='"abc"', sha256="f" * 64), bucket="b")
    assert completed_from_state(row, bucket="b") == announced


def test_an_editor_upload_is_rebuilt_with_its_actor() -> None:
    rebuilt = completed_from_state(session("up-1", actor_id="editor-9"), bucket="b")
    assert (rebuilt.account_id, rebuilt.actor_id) == ("acc-1", "editor-9")


def test_only_a_completed_session_is_rebuilt() -> None:
    with pytest.raises(ValueError):
        completed_from_state(session("up-1", status=PENDING), bucket="b")


def test_the_original_id_is_the_kept_one_else_the_outbox_one_else_unknown() -> None:
    kept = session("up-1", completed_event_id="kept-id")
    older = session("up-2")
    assert original_event_id(kept, {"up-1": "outbox-id"}) == "kept-id"
    assert original_event_id(older, {"up-2": "outbox-id"}) == "outbox-id"
    assert original_event_id(older, {}) is None


def test_a_recent_completion_is_not_judged_and_pages_follow_completion_order() -> None:
    assert settled_before(NOW, 600) == NOW - timedelta(seconds=600)
    assert watermark(session("up-7")) == [NOW, "up-7"]


def test_the_rebuilt_event_is_an_upload_completed() -> None:
    assert isinstance(completed_from_state(session("up-1"), bucket="b"), UploadCompleted)
