"""Folders as things of their own (issue 37): the rules (`domain/folders.py`) and the use cases
(`service_layer/folders.py`) on in-memory repositories. A job rewrites 3 documents per batch here
(`FolderLimits(batch=3)`), so every folder with more than 3 documents takes several batches."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_events import FileDeleted, FileDetailsChanged, FileRestored, FileTrashed, UploadCompleted
from docstore_events.folders import FolderMoved
from docstore_metadata.domain import folders as rules
from docstore_metadata.domain.documents import InvalidDetails
from docstore_metadata.domain.folders import FolderBusy, FolderInTrash, FolderNotFound, MoveIntoItself, NameClash
from docstore_metadata.service_layer.folders import purge_expired_folders

OWNER = "acc-owner"
OTHER = "acc-other"


def upload(path: str, filename: str, *, account_id: str = OWNER, body: bytes = b"x") -> UploadCompleted:
    document_id, upload_id = str(uuid.uuid4()), uuid.uuid4().hex
    return UploadCompleted(
        account_id=account_id,
        upload_id=upload_id,
        document_id=document_id,
        bucket="b",
        key=f"k/{upload_id}",
        filename=filename,
        content_type="text/plain",
        size=len(body),
        etag=hashlib.md5(body).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(),
        tags=[],
        path=path,
    )


async def put(world: Any, path: str, *names: str, account_id: str = OWNER) -> list[str]:
    events = [upload(path, name, account_id=account_id) for name in names]
    await world.documents.record_uploads_once([(uuid.uuid4().hex, e) for e in events])
    return [e.document_id for e in events]


def paths(world: Any, ids: list[str]) -> list[str]:
    return [world.repos.documents.rows[i]["path"] for i in ids]


async def folder_named(world: Any, path: str) -> dict[str, Any]:
    found: dict[str, Any] = await world.folders.at(OWNER, path)
    return found


# --- rules ---------------------------------------------------------------------------------


def test_paths_inside_rebase_and_the_range_below_a_folder() -> None:
    assert rules.inside("/a/b", "/a") and rules.inside("/a", "/a") and not rules.inside("/ab", "/a")
    assert rules.rebase("/a/b/c", "/a/b", "/x") == "/x/c" and rules.rebase("/a/b", "/a/b", "/x") == "/x"
    assert rules.ancestors("/a/b") == ["/a", "/a/b"] and rules.ancestors("/") == []
    low, high = rules.below_range("/a")
    assert all(low <= p < high for p in ("/a/b", "/a/ä", "/a/ /c")) and not any(
        low <= p < high for p in ("/a", "/ab", "/a.b", "/a0", "/b")
    )
    assert rules.split("/a/b") == ("/a", "b") and rules.split("/a") == ("/", "a")
    with pytest.raises(MoveIntoItself):
        rules.check_move("/a", "/a/b")
    rules.check_move("/a", "/ab")


# --- create and list ---------------------------------------------------------------------------


async def test_an_empty_folder_is_listed_and_its_name_is_unique_against_documents_and_folders(world: Any) -> None:
    await world.folders.create(OWNER, "/", "Empty")
    await put(world, "/", "report.pdf")
    items, more = await world.folders.children(OWNER, "/", trashed=False, cursor=None, limit=50)
    assert [f["name"] for f in items] == ["Empty"] and more is None
    for name in ("Empty", "report.pdf"):
        with pytest.raises(NameClash) as clash:
            await world.folders.create(OWNER, "/", name)
        body = clash.value.extra()
        assert clash.value.status == 409 and body["choices"] == ["keep_both", "skip"]
        assert body["keep_both_name"] in ("Empty 2", "report 2.pdf")
    # NFD typed on a Mac is the same name as NFC (issue 24/34's one normal form); case is another name.
    await world.folders.create(OWNER, "/", "R\u00e9sum\u00e9s")
    with pytest.raises(NameClash):
        await world.folders.create(OWNER, "/", "Re\u0301sume\u0301s")
    await world.folders.create(OWNER, "/", "empty")
    with pytest.raises(InvalidDetails):
        await world.folders.create(OWNER, "/", "..")
    with pytest.raises(InvalidDetails):
        await world.folders.create(OWNER, "/", "a/b")


async def test_an_upload_into_a_new_path_makes_its_folders_and_a_file_cannot_take_a_folders_name(
    world: Any,
) -> None:
    await put(world, "/a/b", "one.txt")
    assert [f["path"] for f in (await world.folders.children(OWNER, "/a", trashed=False, cursor=None, limit=9))[0]] == [
        "/a/b"
    ]
    taken = await world.documents.taken(OWNER, [("/a", "b"), ("/a/b", "one.txt"), ("/a", "c")])
    assert set(taken) == {("/a", "b"), ("/a/b", "one.txt")}
    # Completed anyway (two grants raced): a new document never takes a folder's name.
    [doc] = await put(world, "/a", "b")
    assert world.repos.documents.rows[doc]["name"].startswith("b (conflict copy ")


async def test_folders_are_listed_a_page_at_a_time_by_name(world: Any) -> None:
    for name in ("c", "A", "b", "a", "D"):
        await world.folders.create(OWNER, "/", name)
    seen, cursor = [], None
    while True:
        items, cursor = await world.folders.children(OWNER, "/", trashed=False, cursor=cursor, limit=2)
        seen += [f["name"] for f in items]
        if cursor is None:
            break
    assert [n.casefold() for n in seen] == ["a", "a", "b", "c", "d"] and len(set(seen)) == 5


# --- move and rename ---------------------------------------------------------------------------


async def test_moving_a_folder_moves_everything_inside_in_batches_with_one_feed_entry(world: Any) -> None:
    inside = await put(world, "/src", *(f"f{i}.txt" for i in range(7)))
    deeper = await put(world, "/src/sub", "deep.txt")
    outside = await put(world, "/srcs", "not-inside.txt")
    await world.folders.create(OWNER, "/src", "empty")
    await world.folders.create(OWNER, "/", "dst")
    folder = await folder_named(world, "/src")
    feed_before = len(world.repos.documents.changes)
    world.uow.emitted.clear()

    moved = await world.folders.move(OWNER, folder["_id"], parent="/dst", name="renamed")

    assert moved["path"] == "/dst/renamed" and not moved["moving"]
    assert set(paths(world, inside)) == {"/dst/renamed"} and paths(world, deeper) == ["/dst/renamed/sub"]
    assert paths(world, outside) == ["/srcs"]
    sub_paths = {
        f["path"] for f in (await world.folders.children(OWNER, "/dst/renamed", trashed=False, cursor=None, limit=9))[0]
    }
    assert sub_paths == {"/dst/renamed/sub", "/dst/renamed/empty"}
    new_entries = world.repos.documents.changes[feed_before:]
    assert [(c["kind"], c["from_path"], c["path"]) for c in new_entries] == [("folder-moved", "/src", "/dst/renamed")]
    moves = [e for e in world.uow.emitted if isinstance(e, FolderMoved)]
    assert [(m.from_path, m.path, m.documents) for m in moves] == [("/src", "/dst/renamed", 8)]
    details = [e for e in world.uow.emitted if isinstance(e, FileDetailsChanged)]
    assert sorted(e.document_id for e in details) == sorted(inside + deeper)
    assert all(e.folder_id == folder["_id"] for e in details)
    assert world.repos.folders.jobs == {}


async def test_a_rename_alone_is_a_folder_renamed_entry(world: Any) -> None:
    await put(world, "/old", "a.txt")
    folder = await folder_named(world, "/old")
    await world.folders.move(OWNER, folder["_id"], name="new")
    assert world.repos.documents.changes[-1]["kind"] == "folder-renamed"
    assert (await folder_named(world, "/new"))["_id"] == folder["_id"]
    with pytest.raises(FolderNotFound):
        await folder_named(world, "/old")


async def test_a_folder_cannot_move_into_itself_nor_below_itself(world: Any) -> None:
    await world.folders.create(OWNER, "/a", "b")
    top = await folder_named(world, "/a")
    for parent in ("/a", "/a/b", "/a/b/c"):
        with pytest.raises(MoveIntoItself):
            await world.folders.move(OWNER, top["_id"], parent=parent)


async def test_a_move_onto_a_taken_name_is_409_with_the_choices_then_keep_both_or_skip(world: Any) -> None:
    await world.folders.create(OWNER, "/", "x")
    await world.folders.create(OWNER, "/dst", "x")
    source = await folder_named(world, "/x")
    with pytest.raises(NameClash) as clash:
        await world.folders.move(OWNER, source["_id"], parent="/dst")
    assert clash.value.extra()["clash"]["kind"] == "folder" and clash.value.extra()["keep_both_name"] == "x 2"
    skipped = await world.folders.move(OWNER, source["_id"], parent="/dst", on_clash="skip")
    assert skipped["path"] == "/x"
    kept = await world.folders.move(OWNER, source["_id"], parent="/dst", on_clash="keep_both")
    assert kept["path"] == "/dst/x 2"


async def test_a_document_moved_onto_a_name_can_keep_both_or_skip_and_a_folder_cannot_replace(world: Any) -> None:
    [holder] = await put(world, "/dst", "a.txt")
    [first, second, third] = await put(world, "/", "a.txt", "b.txt", "c.txt")
    with pytest.raises(NameClash) as clash:
        await world.documents.update_details(OWNER, first, path="/dst")
    assert clash.value.extra()["choices"] == ["replace", "keep_both", "skip"]
    assert clash.value.extra()["clash"] == {"path": "/dst", "name": "a.txt", "kind": "document", "id": holder}
    await world.documents.update_details(OWNER, first, path="/dst", on_clash="keep_both")
    assert world.repos.documents.rows[first]["name"] == "a 2.txt"
    await world.documents.update_details(OWNER, third, path="/dst", name="a.txt", on_clash="skip")
    assert paths(world, [third]) == ["/"]
    # A folder holds its name against documents too, and cannot be replaced.
    await world.folders.create(OWNER, "/", "c.txt folder")
    with pytest.raises(NameClash) as against_folder:
        await world.documents.update_details(OWNER, third, name="c.txt folder", on_clash="replace")
    assert against_folder.value.extra()["choices"] == ["keep_both", "skip"]


async def test_replace_makes_the_moved_bytes_the_holders_newest_version_and_frees_them_only_once_unused(
    world: Any,
) -> None:
    docs = world.repos.documents
    [holder] = await put(world, "/dst", "a.txt")
    [moved] = await put(world, "/", "b.txt")
    await world.documents.restore_version(OWNER, moved, 1)  # two versions of one object
    [(_, holder_key)] = [(v["bucket"], v["key"]) for v in docs.versions.values() if v["document_id"] == holder]
    shared = docs.versions[f"{moved}:2"]["key"]
    world.uow.emitted.clear()

    answer = await world.documents.update_details(OWNER, moved, path="/dst", name="a.txt", on_clash="replace")

    assert answer["_id"] == holder and answer["current_version"] == 2 and moved not in docs.rows
    assert docs.versions[f"{holder}:2"]["key"] == shared and not docs.rows[holder].get("trashed")
    assert not [v for v in docs.versions.values() if v["document_id"] == moved]
    assert docs.garbage == {}  # the moved document's object is the holder's now: nothing to delete
    [deleted] = [e for e in world.uow.emitted if isinstance(e, FileDeleted)]
    assert (deleted.document_id, deleted.size, deleted.whole_document) == (moved, 0, True)
    assert [c["kind"] for c in docs.changes[-2:]] == ["modified", "deleted"]

    # The holder's older object goes when its version does; the shared one once nothing points at it.
    await world.documents.delete(OWNER, holder, permanent=True)
    assert sorted(g["key"] for g in docs.garbage.values()) == sorted([holder_key, shared])


async def test_another_accounts_folder_is_not_found(world: Any) -> None:
    await world.folders.create(OTHER, "/", "theirs")
    theirs = (await world.folders.children(OTHER, "/", trashed=False, cursor=None, limit=9))[0][0]
    for attempt in (
        world.folders.get(OWNER, theirs["_id"]),
        world.folders.move(OWNER, theirs["_id"], name="mine"),
        world.folders.trash(OWNER, theirs["_id"]),
        world.folders.restore(OWNER, theirs["_id"]),
    ):
        with pytest.raises(FolderNotFound):
            await attempt
    assert world.repos.folders.rows[theirs["_id"]]["path"] == "/theirs"


# --- trash and restore -------------------------------------------------------------------------


async def test_a_folder_goes_to_the_trash_with_everything_inside_and_comes_back_as_a_whole(world: Any) -> None:
    docs = await put(world, "/t", *(f"f{i}.txt" for i in range(5)))
    deep = await put(world, "/t/sub", "deep.txt")
    [alone] = await put(world, "/t", "trashed-before.txt")
    await world.documents.trash(OWNER, alone)
    folder = await folder_named(world, "/t")
    world.uow.emitted.clear()

    await world.folders.trash(OWNER, folder["_id"])

    rows = world.repos.documents.rows
    assert all(rows[d]["trashed"] and rows[d]["trashed_with"] == folder["_id"] for d in docs + deep)
    assert rows[alone].get("trashed_with") is None
    assert (await world.folders.children(OWNER, "/", trashed=False, cursor=None, limit=9))[0] == []
    trash = (await world.folders.children(OWNER, None, trashed=True, cursor=None, limit=9))[0]
    assert [f["path"] for f in trash] == ["/t"]  # the folder trashed, not the ones it took along
    trashed_events = [e for e in world.uow.emitted if isinstance(e, FileTrashed)]
    assert len(trashed_events) == 6 and all(e.folder_id == folder["_id"] for e in trashed_events)
    with pytest.raises(FolderInTrash):
        await world.folders.move(OWNER, folder["_id"], name="other")

    world.uow.emitted.clear()
    restored = await world.folders.restore(OWNER, folder["_id"])

    assert restored["path"] == "/t" and not restored["trashed"]
    assert not any(rows[d]["trashed"] for d in docs + deep) and rows[alone]["trashed"]
    assert len([e for e in world.uow.emitted if isinstance(e, FileRestored)]) == 6
    assert [c["kind"] for c in world.repos.documents.changes[-2:]] == ["folder-trashed", "folder-restored"]


async def test_a_trashed_folders_rows_are_purged_once_the_trash_period_ends(world: Any) -> None:
    await put(world, "/old/inner", "a.txt")
    await world.folders.create(OWNER, "/old", "empty")
    await world.folders.create(OWNER, "/", "recent")
    await world.folders.create(OWNER, "/", "live")
    old, recent = await folder_named(world, "/old"), await folder_named(world, "/recent")
    await world.folders.trash(OWNER, old["_id"])
    await world.folders.trash(OWNER, recent["_id"])
    rows = world.repos.folders.rows
    for row in rows.values():
        if row.get("trashed_with") == old["_id"]:
            row["trashed_at"] -= timedelta(days=31)

    assert await purge_expired_folders(world.repos, timedelta(days=30), limit=2) == 3  # two rounds

    assert sorted(r["path"] for r in rows.values()) == ["/live", "/recent"]
    with pytest.raises(FolderNotFound):
        await world.folders.restore(OWNER, old["_id"])
    assert await purge_expired_folders(world.repos, timedelta(days=30)) == 0


async def test_a_folder_restored_onto_a_taken_name_comes_back_numbered_with_its_documents(world: Any) -> None:
    [doc] = await put(world, "/t", "a.txt")
    folder = await folder_named(world, "/t")
    await world.folders.trash(OWNER, folder["_id"])
    await world.folders.create(OWNER, "/", "t")
    restored = await world.folders.restore(OWNER, folder["_id"])
    assert restored["path"] == "/t 2" and paths(world, [doc]) == ["/t 2"]
    details = [e for e in world.uow.emitted if isinstance(e, FileDetailsChanged)]
    assert details[-1].path == "/t 2"


async def test_a_job_left_by_a_dead_process_is_resumed_and_a_busy_folder_refuses_other_moves(world: Any) -> None:
    docs = await put(world, "/a", *(f"f{i}.txt" for i in range(4)))
    folder = await folder_named(world, "/a")
    # What a process that died after the folder's transaction leaves: the rows moved, a job, no documents moved.
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    world.repos.folders.rows[folder["_id"]].update(
        rules.moved_fields(folder, "/a", "/b") | {"moving": {"kind": "move", "from": "/a", "to": "/b"}}
    )
    world.repos.folders.jobs[folder["_id"]] = {
        "_id": folder["_id"],
        "kind": "move",
        "account_id": OWNER,
        "folder_id": folder["_id"],
        "from": "/a",
        "to": "/b",
        "started_at": long_ago,
        "claimed_at": long_ago,
        "claimed_by": "dead",
    }
    with pytest.raises(FolderBusy):
        await world.folders.move(OWNER, folder["_id"], name="c")
    assert await world.folders.resume_jobs() == 1
    assert set(paths(world, docs)) == {"/b"} and not world.repos.folders.rows[folder["_id"]]["moving"]


async def test_a_batch_that_fails_is_tried_again_and_the_move_answers_with_the_folder_moved(world: Any) -> None:
    docs = await put(world, "/a", *(f"f{i}.txt" for i in range(5)))
    folder = await folder_named(world, "/a")
    real = world.repos.folders.set_documents
    failures = [RuntimeError("WriteConflict"), RuntimeError("WriteConflict")]

    async def flaky(changes: Any) -> None:
        if failures:
            raise failures.pop()
        await real(changes)

    world.repos.folders.set_documents = flaky
    moved = await world.folders.move(OWNER, folder["_id"], name="b")
    assert moved["path"] == "/b" and not moved["moving"] and set(paths(world, docs)) == {"/b"}
