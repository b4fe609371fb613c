"""Folders: pure rules (paths, names, clashes, moves into themselves) and their refusals.

A document lives in a folder by its `path` (`/reports/2026`); a folder row (collection
`folders`) makes the folder a thing of its own: it exists when empty, and it is renamed, moved,
trashed and restored as a whole. A row is `{_id, account_id, parent, name, path, sort_key,
trashed, trashed_at, trashed_with, created_at, moving}`: `parent` + `name` = `path`, all NFC
(`docstore_events.names`, issue 34's one normal form), case kept.

Names are unique within a folder across documents and folders alike (a sync client maps both to
one directory entry): a clash is a 409 `NameClash` carrying what holds the name and the choices.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from docstore_kit.errors import Conflict, Invalid, NotFound
from docstore_metadata.domain.documents import check_name, check_path, name_key, numbered

ROOT = "/"

FOLDER_CHANGE_KINDS = ("folder-created", "folder-renamed", "folder-moved", "folder-trashed", "folder-restored")
"""The change-feed kinds of folder entries: `{kind, folder_id, path, name, from_path?}`."""

CLASH_CHOICES = ("replace", "keep_both", "skip")
"""What a client may do about a name clash: a new version of the document holding the name,
the item under a suffixed name (`keep_both_name`), or nothing."""


# --- paths --------------------------------------------------------------------------------


def join(parent: str, name: str) -> str:
    """`/a` + `b` -> `/a/b`; `/` + `b` -> `/b`."""
    return f"/{name}" if parent == ROOT else f"{parent}/{name}"


def split(path: str) -> tuple[str, str]:
    """`/a/b` -> (`/a`, `b`); the root has no parent (ValueError)."""
    if path == ROOT:
        raise ValueError("the root folder has no parent")
    parent, _, name = path.rpartition("/")
    return parent or ROOT, name


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or a folder below it (`/ab` is not inside `/a`)."""
    return folder == ROOT or path == folder or path.startswith(folder + "/")


def rebase(path: str, old: str, new: str) -> str:
    """`path` (inside `old`) as it is once `old` is called `new`."""
    return new + path[len(old) :] if path != old else new


def ancestors(path: str) -> list[str]:
    """Every folder from the top down to `path` itself, the root left out: `/a/b` -> [`/a`, `/a/b`]."""
    segments = [s for s in path.split("/") if s]
    return ["/" + "/".join(segments[: i + 1]) for i in range(len(segments))]


def below_range(folder: str) -> tuple[str, str]:
    """The string range [low, high) holding every path strictly below `folder`: `/a/` to `/a0`
    ('0' follows '/' in code point order, so nothing else falls in between)."""
    prefix = "/" if folder == ROOT else folder + "/"
    return prefix, prefix[:-1] + "0"


def sort_key(name: str, folder_id: str) -> str:
    """What sub-folders are listed and paged by: the name as names sort (NFC, case-folded), then
    the id, in one string so a page is one index range (names may tie: `a` and `A`)."""
    return f"{name_key(name)}\x00{folder_id}"


# --- rows ---------------------------------------------------------------------------------


def folder_row(account_id: str, path: str, now: datetime, folder_id: str | None = None) -> dict[str, Any]:
    """A new live folder at `path` (already checked)."""
    parent, name = split(path)
    folder_id = folder_id or str(uuid.uuid4())
    return {
        "_id": folder_id,
        "account_id": account_id,
        "parent": parent,
        "name": name,
        "path": path,
        "sort_key": sort_key(name, folder_id),
        "trashed": False,
        "trashed_at": None,
        "trashed_with": None,
        "trash_top": False,
        "created_at": now,
        "moving": None,
    }


def moved_fields(row: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """The fields of a folder row (the moved folder or one inside it) once `old` is `new`."""
    path = rebase(row["path"], old, new)
    parent, name = split(path)
    return {"path": path, "parent": parent, "name": name, "sort_key": sort_key(name, row["_id"])}


def change_entry(kind: str, folder: Mapping[str, Any], now: datetime, **extra: Any) -> dict[str, Any]:
    """A change-feed entry about a folder (its `seq` is given when stored); `document_id` is
    None, so a client that only knows document kinds passes over it."""
    return {
        "account_id": folder["account_id"],
        "kind": kind,
        "document_id": None,
        "folder_id": folder["_id"],
        "path": folder["path"],
        "name": folder["name"],
        "version": None,
        "sha256": None,
        "at": now,
        **extra,
    }


# --- checks -------------------------------------------------------------------------------


def check_new_place(parent: str, name: str) -> tuple[str, str]:
    """A folder's parent path and name, checked (`docstore_events.names`: NFC, no '/', '..')."""
    return check_path(parent), check_name(name)


def check_move(folder_path: str, destination: str) -> None:
    """A folder cannot go into itself or below itself."""
    if inside(destination, folder_path):
        raise MoveIntoItself(folder_path, destination)


def free_name(wanted: str, taken: Callable[[str], bool]) -> str:
    """`wanted`, or `wanted 2`, `wanted 3`... the first that `taken` says is free."""
    candidates: Iterator[str] = itertools.chain([wanted], (numbered(wanted, n) for n in itertools.count(2)))
    return next(name for name in candidates if not taken(name))


# --- refusals -----------------------------------------------------------------------------


class FolderNotFound(NotFound):
    """No such folder for this account (someone else's answers the same)."""

    def __init__(self, folder: str) -> None:
        super().__init__("This folder could not be found. It may have been moved or deleted.")
        self.folder = folder


class NothingAt(NotFound):
    """No live folder or document at this path for this account (someone else's answers the same)."""

    def __init__(self, path: str) -> None:
        super().__init__("Nothing is stored at this path. It may have been moved or deleted.")
        self.path = path


class FolderInTrash(Conflict):
    """The folder (or one above it) is in the trash."""

    def __init__(self, path: str) -> None:
        super().__init__(f"The folder {path} is in the trash. Restore it first.")


class FolderNotInTrash(Conflict):
    def __init__(self, path: str) -> None:
        super().__init__(f"The folder {path} is not in the trash.")


class FolderBusy(Conflict):
    """A move of this folder (or of one around it) is still being carried out."""

    problem: ClassVar[str] = "folder-busy"

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is still being moved. Try again in a moment.")

    def extra(self) -> dict[str, Any]:
        return {"retry_after_seconds": 2}


class MoveIntoItself(Invalid):
    """`/a` into `/a` or `/a/b`."""

    def __init__(self, folder: str, destination: str) -> None:
        super().__init__(f"A folder can't be moved into itself: {destination} is inside {folder}.")

    def extra(self) -> dict[str, Any]:
        return {"field": "parent"}


class NameClash(Conflict):
    """Another live document or folder holds this name in the folder. The answer names it and
    the choices (`CLASH_CHOICES`; a folder cannot be replaced by a file, nor a file by a folder:
    then only keep both or skip), with the suffixed name keeping both would use."""

    problem: ClassVar[str] = "name-taken"
    title: ClassVar[str] = "Name taken"

    def __init__(
        self, path: str, name: str, *, kind: str, holder_id: str, keep_both_name: str, replaceable: bool
    ) -> None:
        where = "your top folder" if path == ROOT else path
        what = "folder" if kind == "folder" else "document"
        super().__init__(f"There is already a {what} called \u201c{name}\u201d in {where}.")
        self.path = path
        self.name = name
        self.kind = kind
        self.holder_id = holder_id
        self.keep_both_name = keep_both_name
        self.replaceable = replaceable

    def extra(self) -> dict[str, Any]:
        return {
            "field": "name",
            "clash": {"path": self.path, "name": self.name, "kind": self.kind, "id": self.holder_id},
            "choices": [c for c in CLASH_CHOICES if self.replaceable or c != "replace"],
            "keep_both_name": self.keep_both_name,
        }
