"""The catalog's rules: newest upload, later details, trash state, final deletion, in any arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docstore_indexer.domain.catalog import NewUpload, on_delete, on_details, on_trash, on_upload, searchable

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def upload(upload_id: str, at: datetime, *, name: str = "a.txt", tags: tuple[str, ...] = ()) -> NewUpload:
    return NewUpload("acc", "doc", upload_id, at, "b", f"k-{upload_id}", "text/plain", 3, name, "/", tags)


def test_first_upload_makes_version_one_and_takes_its_details() -> None:
    outcome = on_upload(None, upload("u1", T0, name="plan.txt", tags=("x",)))
    assert outcome.changed and outcome.entry is not None
    assert (outcome.entry.version, outcome.entry.name, outcome.entry.tags, outcome.entry.key) == (
        1,
        "plan.txt",
        ("x",),
        "k-u1",
    )
    assert searchable(outcome.entry) and not outcome.entry.is_indexed


def test_newer_upload_replaces_and_older_one_does_not() -> None:
    first = on_upload(None, upload("u1", T0)).entry
    second = on_upload(first, upload("u2", T0 + timedelta(seconds=1))).entry
    assert second is not None and second.version == 2 and second.key == "k-u2"
    late = on_upload(second, upload("u0", T0 - timedelta(seconds=1)))
    assert not late.changed and late.reason == "older than the indexed version"
    assert not on_upload(second, upload("u2", T0 + timedelta(seconds=1))).changed


def test_rename_before_the_upload_arrives_is_kept() -> None:
    stub = on_details(None, "acc", "doc", name="renamed.txt", path="/work", tags=("t",), at=T0 + timedelta(seconds=5))
    assert stub.entry is not None and not searchable(stub.entry)
    entry = on_upload(stub.entry, upload("u1", T0, name="original.txt")).entry
    assert entry is not None and (entry.name, entry.path, entry.tags) == ("renamed.txt", "/work", ("t",))
    assert searchable(entry)


def test_older_details_change_nothing() -> None:
    entry = on_upload(None, upload("u1", T0 + timedelta(seconds=10), name="new.txt")).entry
    assert not on_details(entry, "acc", "doc", name="old.txt", path="/", tags=(), at=T0).changed


def test_later_trash_fact_wins_in_any_order() -> None:
    entry = on_upload(None, upload("u1", T0)).entry
    restored = on_trash(entry, "acc", "doc", trashed=False, at=T0 + timedelta(seconds=2)).entry
    late_trash = on_trash(restored, "acc", "doc", trashed=True, at=T0 + timedelta(seconds=1))
    assert not late_trash.changed and restored is not None and not restored.trashed
    trashed_first = on_trash(None, "acc", "doc", trashed=True, at=T0 + timedelta(seconds=1)).entry
    assert trashed_first is not None and trashed_first.trashed
    entry = on_upload(trashed_first, upload("u1", T0)).entry
    assert entry is not None and entry.trashed  # the upload arriving late keeps the trash state


def test_delete_is_final() -> None:
    entry = on_upload(None, upload("u1", T0)).entry
    gone = on_delete(entry, "acc", "doc", T0 + timedelta(seconds=1)).entry
    assert gone is not None and gone.deleted and not searchable(gone)
    assert not on_upload(gone, upload("u2", T0 + timedelta(seconds=2))).changed
    assert not on_details(gone, "acc", "doc", name="x", path="/", tags=(), at=T0 + timedelta(seconds=3)).changed
    assert not on_trash(gone, "acc", "doc", trashed=False, at=T0 + timedelta(seconds=3)).changed
    assert not on_delete(gone, "acc", "doc", T0 + timedelta(seconds=4)).changed
