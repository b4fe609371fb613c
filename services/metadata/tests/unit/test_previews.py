"""The preview rules (`domain/previews.py`): what a document and a version answer, which outcome
wins, which keys metadata may sign."""

from __future__ import annotations

import pytest

from docstore_metadata.domain import previews

IMAGE = {
    "key": "previews/us-west-2/acc/doc/v2/small.webp",
    "width": 256,
    "height": 192,
    "content_type": "image/webp",
    "size": 900,
}
LARGE = {**IMAGE, "key": "previews/us-west-2/acc/doc/v2/large.webp", "width": 1024, "height": 768}


def test_the_document_answers_its_current_version_s_outcome_else_pending() -> None:
    assert previews.preview_of({"current_version": 2}) == {"state": "pending", "reason": None}
    ready = {"version": 2, "state": "ready", "reason": None}
    assert previews.preview_of({"current_version": 2, "preview": ready}) == {"state": "ready", "reason": None}
    # An outcome of the previous version: the current one is still being made.
    assert previews.preview_of({"current_version": 3, "preview": ready}) == {"state": "pending", "reason": None}
    failed = previews.summary(2, previews.failed("unsupported type"))
    assert previews.preview_of({"current_version": 2, "preview": failed}) == {
        "state": "failed",
        "reason": "unsupported type",
    }


def test_a_late_outcome_for_an_older_version_never_replaces_the_summary() -> None:
    assert previews.supersedes(None, 1)
    assert previews.supersedes({"version": 2}, 2)  # the same version's latest wins (a re-render)
    assert previews.supersedes({"version": 2}, 3)
    assert not previews.supersedes({"version": 3}, 2)


def test_only_keys_under_the_version_s_own_prefix_are_signed() -> None:
    assert previews.belongs_to("previews/us-west-2/acc/doc/v2/small.webp", "acc", "doc", 2)
    for key in (
        "previews/us-west-2/acc/doc/v1/small.webp",  # another version
        "previews/us-west-2/other/doc/v2/small.webp",  # another account
        "previews/us-west-2/acc/other/v2/small.webp",  # another document
        "us-west-2/acc/doc/upload-id",  # the document's own bytes
        "previews/us-west-2/acc/doc/v2/../../../x",
        "previews/us-west-2/acc/doc/v2/",
        "previews/us-west-2/acc/doc/v2/a/b.webp",
    ):
        assert not previews.belongs_to(key, "acc", "doc", 2), key


def test_the_image_to_serve_pending_409_failed_404_ready_the_size() -> None:
    with pytest.raises(previews.PreviewPending) as pending:
        previews.image_to_serve({"version": 2}, "small")
    assert pending.value.status == 409 and pending.value.extra() == {"state": "pending"}
    with pytest.raises(previews.PreviewNotFound) as failed:
        previews.image_to_serve({"preview": previews.failed("decompression bomb")}, "large")
    assert failed.value.status == 404 and "decompression bomb" in str(failed.value)
    with pytest.raises(previews.PreviewNotFound):
        previews.image_to_serve(None, "small")  # no such version
    row = {"preview": previews.ready(IMAGE, LARGE)}
    assert previews.image_to_serve(row, "small")["width"] == 256
    assert previews.image_to_serve(row, "large")["width"] == 1024
    with pytest.raises(previews.UnknownSize):
        previews.image_to_serve(row, "huge")
