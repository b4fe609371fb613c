"""Folders renamed or deleted on this device (issue 37): the rule (`domain/folders.py`) and the
engine's one request per folder against a fake gateway (no server): a local rename is one folder
rename on the server and a local delete is the folder to the trash, never file by file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from docstore_sync.domain.folders import FolderChange, FolderKind, plan_folders
from docstore_sync.domain.plan import BaseFile, RemoteFile
from docstore_sync.engine import Syncer

RENAME, TRASH = FolderKind.RENAME_REMOTE_FOLDER, FolderKind.TRASH_REMOTE_FOLDER


def synced(*paths: str) -> tuple[dict[str, BaseFile], dict[str, RemoteFile]]:
    base = {p: BaseFile(f"sha-{p.rsplit('/', 1)[-1]}", f"d-{p}", 1) for p in paths}
    return base, {p: RemoteFile(b.document_id or "", 1, b.sha256) for p, b in base.items()}


def test_a_folder_renamed_or_moved_here_is_one_rename_and_one_deleted_here_is_one_trash() -> None:
    base, remote = synced("a/x.txt", "a/sub/y.txt", "keep/z.txt", "gone/w.txt")
    known = {"a", "a/sub", "a/empty", "gone", "keep"}
    files = ["b/deeper/x.txt", "b/deeper/sub/y.txt", "keep/z.txt"]  # `a` is now `b/deeper`; `gone` is gone
    changes = plan_folders(known, files, ["b/deeper/empty"], base, remote)
    assert changes == [FolderChange(RENAME, "a", "b/deeper"), FolderChange(TRASH, "gone")]
    # Something else below it (a name that differs): no guess, `a` counts as deleted here.
    assert plan_folders(known, [*files, "b/deeper/new.txt"], ["b/deeper/empty"], base, remote)[0].kind is TRASH
    # An empty folder renamed is a rename too.
    assert plan_folders({"e"}, [], ["f"], {}, {}) == [FolderChange(RENAME, "e", "f")]


def test_a_folder_deleted_here_whose_contents_changed_on_the_server_is_left_to_the_file_plan() -> None:
    base, remote = synced("gone/w.txt")
    edited = {"gone/w.txt": RemoteFile("d-gone/w.txt", 2, "sha-edited")}
    added = {**remote, "gone/new.txt": RemoteFile("d-new", 1, "sha-new")}
    assert plan_folders({"gone"}, [], [], base, edited) == []
    assert plan_folders({"gone"}, [], [], base, added) == []
    # Two folders with the same contents gone, one appeared: no guessing which was renamed.
    base, remote = synced("p/same.txt", "q/same.txt")
    assert [c.kind for c in plan_folders(set(), ["r/same.txt"], [], base, remote)] == [TRASH, TRASH]


class FolderGateway:
    """A server whose folder `/docs` the device renamed or deleted; every call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def feed_end(self, cursor: str | None) -> tuple[list[dict[str, Any]], str]:
        return [], "c1"

    def folder_at(self, path: str) -> dict[str, Any]:
        self.calls.append(("at", path))
        return {"folder_id": "f-docs", "path": path}

    def move_folder(self, folder_id: str, parent: str, name: str) -> dict[str, Any]:
        self.calls.append(("move", folder_id, parent, name))
        return {}

    def trash_folder(self, folder_id: str) -> None:
        self.calls.append(("trash", folder_id))


def _synced_folder(root: Path) -> Syncer:
    syncer = Syncer(root, FolderGateway(), device="laptop")  # type: ignore[arg-type]
    for rel in ("docs/a.txt", "docs/sub/b.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
        st, sha = (root / rel).stat(), hashlib.sha256(rel.encode()).hexdigest()
        syncer.state.record(rel, sha, st.st_size, st.st_mtime_ns, f"d-{rel}", 1)
        syncer.state.set_remote(rel, RemoteFile(f"d-{rel}", 1, sha))
    (root / "docs/empty").mkdir()
    syncer.state.add_folders(["docs", "docs/sub", "docs/empty"])
    syncer.state.put("cursor", "c0")
    return syncer


def test_the_engine_renames_a_folder_renamed_here_on_the_server_and_moves_no_file(tmp_path: Path) -> None:
    syncer = _synced_folder(tmp_path)
    try:
        (tmp_path / "docs").rename(tmp_path / "papers")
        plan, report = syncer.plan(folders=True)
        assert syncer.gateway.calls == [("at", "/docs"), ("move", "f-docs", "/", "papers")]  # type: ignore[attr-defined]
        assert [a for a in plan.actions if a.transfers] == []
        assert [(o.path, o.kind, o.ok) for o in report.outcomes] == [("papers", "rename-remote-folder", True)]
        assert sorted(syncer.state.base()) == ["papers/a.txt", "papers/sub/b.txt"]
        assert syncer.state.folders() == {"papers", "papers/sub", "papers/empty"}
    finally:
        syncer.close()


def test_the_engine_trashes_a_folder_deleted_here_as_a_whole_and_nothing_file_by_file(tmp_path: Path) -> None:
    syncer = _synced_folder(tmp_path)
    try:
        for rel in ("docs/sub/b.txt", "docs/a.txt"):
            (tmp_path / rel).unlink()
        for rel in ("docs/sub", "docs/empty", "docs"):
            (tmp_path / rel).rmdir()
        plan, _ = syncer.plan(folders=True)
        assert syncer.gateway.calls == [("at", "/docs"), ("trash", "f-docs")]  # type: ignore[attr-defined]
        assert plan.actions == []
        assert syncer.state.base() == {} and syncer.state.remote() == {} and syncer.state.folders() == set()
        # A dry run (and `status`) never changes the server.
        syncer.gateway.calls.clear()  # type: ignore[attr-defined]
        syncer.plan()
        assert syncer.gateway.calls == []  # type: ignore[attr-defined]
    finally:
        syncer.close()
