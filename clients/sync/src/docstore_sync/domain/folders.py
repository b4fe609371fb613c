"""Folders changed on this device, as folders: a synced folder gone from here was either renamed
(or moved) here, or deleted here. Pure: no I/O. Decided before the file plan (`domain.plan`),
which then finds nothing left to do for the files inside.

- **Renamed or moved:** a synced folder that is gone, while exactly one new folder appeared that
  holds the same names below it (files and sub-folders, relative to the folder), and no other
  gone folder holds those names: **one folder rename on the server** (`RENAME_REMOTE_FOLDER`),
  no file moved, uploaded or trashed one by one (a folder of 10,000 files renamed here is one
  request). A file edited inside during the rename still matches (its new bytes follow as a
  version); names that differ are not guessed at: the file plan moves or uploads file by file.
- **Deleted:** a synced folder gone with no such match, and nothing under it changed on the
  server since the last sync: **the folder to the server's trash**, with what is inside
  (`TRASH_REMOTE_FOLDER`, restorable as a whole). When the server changed something inside (a new
  or edited document), the file plan decides instead, file by file: a delete never wins against
  an edit (`domain.plan` rule 7), and the folder stays.

Only the top-most folder of a change is named (a folder inside a renamed or deleted one goes
with it). Paths are keys (`key_of`), relative to the synced folder, '/'-separated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from docstore_sync.domain.plan import BaseFile, RemoteFile, key_of


class FolderKind(StrEnum):
    RENAME_REMOTE_FOLDER = "rename-remote-folder"
    TRASH_REMOTE_FOLDER = "trash-remote-folder"


@dataclass(frozen=True)
class FolderChange:
    kind: FolderKind
    path: str
    """The synced folder as the server has it (the key it leaves)."""
    to: str | None = None
    """A rename's new key."""


def parents(path: str) -> list[str]:
    """`a/b/c.txt` -> [`a`, `a/b`]."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + "/")


def _top(folders: set[str]) -> list[str]:
    """The folders none of whose parents is in the set."""
    return sorted(f for f in folders if not any(p in folders for p in parents(f)))


def _below(folder: str, files: Iterable[str], folders: Iterable[str]) -> frozenset[str]:
    """What `folder` holds, relative to it: its files' paths, and its folders' paths with a '/'."""
    cut = len(folder) + 1
    return frozenset(
        [f[cut:] for f in files if _inside(f, folder)] + [d[cut:] + "/" for d in folders if _inside(d, folder)]
    )


def plan_folders(
    known: set[str],
    local_files: Iterable[str],
    local_empty: Iterable[str],
    base: Mapping[str, BaseFile],
    remote: Mapping[str, RemoteFile],
) -> list[FolderChange]:
    """The folder changes made on this device since the last sync. `known`: the folders synced
    on both sides (`State.folders`; a synced file's folders count too), `local_files` and
    `local_empty`: what the scan found (files; folders with no file), `base` and `remote`: the
    last synced state and the server's snapshot, by key."""
    files = {key_of(f) for f in local_files}
    here = {key_of(d) for d in local_empty} | {p for f in files for p in parents(f)}
    was = {key_of(k) for k in known} | {p for k in base for p in parents(key_of(k))}
    base_keys = {key_of(k) for k in base}
    gone = _top(was - here)
    if not gone:
        return []  # (the usual sync: nothing below is computed)
    # Any new folder may be where one went (`a` moved into a new `b` is `b/a`, below the new top).
    appeared = sorted(here - was - {p for k in remote for p in parents(key_of(k))})
    held_before = {g: _below(g, base_keys, was) for g in gone}
    held_now = {n: _below(n, files, here) for n in appeared}
    changes: list[FolderChange] = []
    for folder in gone:
        matches = [n for n in appeared if held_now[n] == held_before[folder]]
        twins = [g for g in gone if held_before[g] == held_before[folder]]
        if len(matches) == 1 and len(twins) == 1:  # one way to read it, or none
            changes.append(FolderChange(FolderKind.RENAME_REMOTE_FOLDER, folder, matches[0]))
        elif _unchanged_there(folder, base, remote):
            changes.append(FolderChange(FolderKind.TRASH_REMOTE_FOLDER, folder))
    return changes


def _unchanged_there(folder: str, base: Mapping[str, BaseFile], remote: Mapping[str, RemoteFile]) -> bool:
    """Whether every document the server has under `folder` is as it was at the last sync."""
    synced = {key_of(k): b for k, b in base.items() if _inside(key_of(k), folder)}
    for key, there in remote.items():
        k = key_of(key)
        if not _inside(k, folder):
            continue
        was = synced.get(k)
        if was is None or was.sha256 != there.sha256 or (was.document_id not in (None, there.document_id)):
            return False
    return True
