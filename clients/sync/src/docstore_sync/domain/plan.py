"""The sync plan: given the local files, the remote documents and what both looked like at the
last sync, decide what to rename, move, upload, download and delete, and which files conflict,
in an order that can be carried out. Pure: no I/O.

Paths are relative to the synced folder, '/'-separated (`reports/q1.pdf`). The rules, each with
its own test in tests/unit/test_plan.py:

1. **One identity for a name.** A path is compared by its key: NFC, case kept (`key_of`), on both
   sides, as the server compares names (`docstore_events.names.check_name`). A file keeps the
   device's own spelling on disk (`Action.local_path`); the server is sent the key.
2. **Two local names, one key, are a conflict on that device.** One keeps the name (the one
   already in NFC, else the first in code-point order); each other one is renamed on disk to a
   conflict name (`RENAME_LOCAL`) and travels as a new file. Never merged.
3. **A file and a folder of the same name**: when the merged result would hold a file at `x`
   and files under `x/`, the folder keeps the name and the file is moved to a conflict name on
   each side that holds it (`RENAME_LOCAL`, `MOVE_REMOTE`); both sides then converge in one sync.
4. **Empty files and truncation are content**: a 0-byte file has a sha256 like any other.
5. **A move is a move**: a document the server moved is renamed on disk (`MOVE_LOCAL`); a local
   file that vanished while exactly one new file with its bytes appeared, its document unchanged
   on the server, is moved there (`MOVE_REMOTE`). Bytes never travel for a rename.
6. **Order**: local conflict renames, then deletes (local and remote), then moves, then
   transfers; inside each phase, parents before children (`Plan.actions` is in that order). So a
   file leaves before a folder of the same name arrives.
7. Otherwise the three-way rules: unchanged on one side, changed on the other, the change travels
   (a delete too); changed on both sides to different bytes, a conflict (first write wins: the
   remote keeps the path, the local bytes become a conflict copy); a delete against an edit keeps
   the edit; the same bytes on both sides move nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_NAME = 255
MAX_ROUNDS = 16
"""Rounds of file/folder clash resolution (each round moves at least one file to a fresh name)."""


def key_of(path: str) -> str:
    """A path's identity: NFC, case kept (`résumé.txt` typed on macOS and on Windows is one name)."""
    return unicodedata.normalize("NFC", path)


@dataclass(frozen=True)
class RemoteFile:
    """A live remote document as the client last saw it."""

    document_id: str
    version: int
    sha256: str


@dataclass(frozen=True)
class BaseFile:
    """A file as both sides had it after the last sync (the common ancestor)."""

    sha256: str
    document_id: str | None = None
    version: int | None = None


class Kind(StrEnum):
    RENAME_LOCAL = "rename-local"
    """A local file moved aside to `path` (a conflict name) before anything else: from
    `local_path`; with `source`, the last synced state moves from that key too."""
    DELETE_LOCAL = "delete-local"
    TRASH_REMOTE = "trash-remote"
    MOVE_LOCAL = "move-local"
    """The server moved the document: the local file at `local_path` is renamed to `path`; the
    last synced state moves from `source` with it."""
    MOVE_REMOTE = "move-remote"
    """The document `remote` is moved on the server from `source` to `path` (no bytes travel);
    the last synced state moves with it."""
    UPLOAD_NEW = "upload-new"
    """No remote document: upload as a new document."""
    UPLOAD_VERSION = "upload-version"
    """The remote document is as it was: upload a new version on top of it."""
    DOWNLOAD = "download"
    CONFLICT = "conflict"
    """Changed on both sides: the remote (the first write) keeps the path; the local bytes are
    kept as a conflict copy, uploaded as a new document; the remote bytes are downloaded."""
    RECORD = "record"
    """Both sides already agree: only the state changes."""


PHASES: dict[Kind, int] = {
    Kind.RENAME_LOCAL: 0,
    Kind.DELETE_LOCAL: 1,
    Kind.TRASH_REMOTE: 1,
    Kind.MOVE_LOCAL: 2,
    Kind.MOVE_REMOTE: 2,
    Kind.UPLOAD_NEW: 3,
    Kind.UPLOAD_VERSION: 3,
    Kind.DOWNLOAD: 3,
    Kind.CONFLICT: 3,
    Kind.RECORD: 3,
}
"""The order of the plan: renames aside, then deletes, then moves, then transfers."""


@dataclass(frozen=True)
class Action:
    kind: Kind
    path: str
    """The key (NFC) the action ends at: the server's name, the state's key."""
    local_sha256: str | None = None
    remote: RemoteFile | None = None
    base: BaseFile | None = None
    conflict_path: str | None = None
    local_path: str | None = None
    """The device's own spelling of the local file this action reads, renames or replaces (None: `path`)."""
    source: str | None = None
    """Moves: the key the file leaves."""

    @property
    def transfers(self) -> bool:
        return self.kind is not Kind.RECORD

    @property
    def on_disk(self) -> str:
        """The local file's path as the device spells it."""
        return self.local_path or self.path

    @property
    def order(self) -> tuple[int, int, str]:
        return PHASES[self.kind], self.path.count("/"), self.path


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    """Paths gone from both sides: dropped from the state."""
    warnings: list[str] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind is kind]

    def phases(self) -> list[list[Action]]:
        """The actions phase by phase (each phase's actions are independent of one another)."""
        out: dict[int, list[Action]] = {}
        for action in self.actions:
            out.setdefault(PHASES[action.kind], []).append(action)
        return [out[p] for p in sorted(out)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind.value] = out.get(action.kind.value, 0) + 1
        return out


def conflict_copy_name(name: str, at: datetime, device: str = "") -> str:
    """`report.pdf` -> `report (conflict copy 2026-11-22 1432).pdf`, or with a device,
    `report (conflict copy from laptop 2026-11-22 1432).pdf`."""
    stamp = at.strftime("%Y-%m-%d %H%M")
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    by = f"from {device} " if device else ""
    suffix = f" (conflict copy {by}{stamp})"
    stem = stem[: MAX_NAME - len(suffix) - len(ext)]
    return f"{stem}{suffix}{ext}"


def conflict_copy_path(path: str, at: datetime, taken: set[str], device: str = "") -> str:
    """The conflict copy's path beside `path`; ` 2`, ` 3`... added before the extension if taken
    (`taken` holds keys: a name is taken whatever its normal form)."""
    folder, _, name = path.rpartition("/")
    candidate_name = conflict_copy_name(name, at, device)
    prefix = f"{folder}/" if folder else ""
    candidate = key_of(prefix + candidate_name)
    n = 2
    while candidate in taken or _under_any(candidate, taken):
        dot = candidate_name.rfind(".")
        stem, ext = (candidate_name[:dot], candidate_name[dot:]) if dot > 0 else (candidate_name, "")
        candidate = key_of(f"{prefix}{stem} {n}{ext}")
        n += 1
    return candidate


def _under_any(candidate: str, taken: set[str]) -> bool:
    """Whether `candidate` is a folder of a taken path (a file there would clash with it)."""
    prefix = candidate + "/"
    return any(t.startswith(prefix) for t in taken)


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


@dataclass
class _Sides:
    """The three inputs by key, rewritten as renames and moves are planned."""

    local: dict[str, tuple[str, str]]  # key -> (spelling on disk, sha256)
    remote: dict[str, RemoteFile]
    base: dict[str, BaseFile]

    def keys(self) -> set[str]:
        return set(self.local) | set(self.remote) | set(self.base)


def plan_sync(
    local: dict[str, str],
    remote: dict[str, RemoteFile],
    base: dict[str, BaseFile],
    now: datetime,
    device: str = "",
    folders: set[str] | frozenset[str] = frozenset(),
) -> Plan:
    """Decide every path. `local` maps the device's path -> sha256, `remote` path -> document,
    `base` path -> the last synced state (empty on a first sync: files on both sides are compared
    by sha256). See the module's rules."""
    plan = Plan()
    early: list[Action] = []
    sides = _Sides({}, {}, {})
    for path in sorted(remote, key=lambda p: (remote[p].document_id, p)):
        key = key_of(path)
        if key in sides.remote:
            plan.warnings.append(f"{path}: the server holds two documents under this name; one is left alone")
            continue
        sides.remote[key] = remote[path]
    for path in sorted(base):
        sides.base.setdefault(key_of(path), base[path])
    # Local folders with no file in them: no file can land there, nor where their parents are.
    held = {key_of(f) for f in folders} | {p for f in folders for p in _parents(key_of(f))}
    by_key: dict[str, list[str]] = {}
    for path in local:
        by_key.setdefault(key_of(path), []).append(path)
    taken = set(by_key) | set(sides.remote) | set(sides.base)
    for key in sorted(by_key):
        spellings = sorted(by_key[key], key=lambda p: (p != key, p))
        sides.local[key] = (spellings[0], local[spellings[0]])
        for other in spellings[1:]:  # rule 2: the same name twice on this device
            copy = conflict_copy_path(key, now, taken, device)
            taken.add(copy)
            sides.local[copy] = (copy, local[other])
            early.append(Action(Kind.RENAME_LOCAL, copy, local[other], local_path=other))
    early += _moves(sides)
    actions = _merge(sides, now, taken, device, plan)
    for _ in range(MAX_ROUNDS):  # rule 3: a file where the result needs a folder moves aside
        clashes = _clashes(actions, sides, held)
        if not clashes:
            break
        for key in clashes:
            copy = conflict_copy_path(key, now, taken, device)
            taken.add(copy)
            if key in sides.local:
                on_disk, sha = sides.local.pop(key)
                sides.local[copy] = (copy, sha)
                early.append(Action(Kind.RENAME_LOCAL, copy, sha, local_path=on_disk, source=key))
            if key in sides.remote:
                there = sides.remote.pop(key)
                sides.remote[copy] = there
                early.append(Action(Kind.MOVE_REMOTE, copy, None, there, sides.base.get(key), source=key))
            if key in sides.base:
                sides.base[copy] = sides.base.pop(key)
        actions = _merge(sides, now, taken, device, plan)
    plan.actions = sorted(early + actions, key=lambda a: a.order)
    return plan


def _moves(sides: _Sides) -> list[Action]:
    """Rule 5: moves on either side, found by document id (remote) or by bytes (local); the sides
    are rewritten as if the move had already happened, so the merge sees the file at its new key."""
    out: list[Action] = []
    where = {r.document_id: k for k, r in sides.remote.items()}
    for key, was in sorted(sides.base.items()):
        if was.document_id is None or key not in sides.local:
            continue
        moved_to = where.get(was.document_id)
        if moved_to is None or moved_to == key or moved_to in sides.local or moved_to in sides.base:
            continue
        if any(p in sides.local for p in _parents(moved_to)):
            continue  # a file stands where its folder would go: the merge and rule 3 settle it
        on_disk, sha = sides.local.pop(key)
        sides.local[moved_to] = (moved_to, sha)
        sides.base[moved_to] = sides.base.pop(key)
        out.append(Action(Kind.MOVE_LOCAL, moved_to, sha, sides.remote[moved_to], local_path=on_disk, source=key))
    vanished: dict[str, list[str]] = {}
    for key, was in sides.base.items():
        there = sides.remote.get(key)
        if key not in sides.local and there is not None and there.sha256 == was.sha256 and was.document_id:
            vanished.setdefault(was.sha256, []).append(key)
    appeared: dict[str, list[str]] = {}
    for key, (_, sha) in sides.local.items():
        if key not in sides.base and key not in sides.remote:
            appeared.setdefault(sha, []).append(key)
    for sha, gone in sorted(vanished.items()):
        new = appeared.get(sha, [])
        if len(gone) != 1 or len(new) != 1:
            continue  # a copy, or several files with the same bytes: no guessing
        old_key, new_key = gone[0], new[0]
        if any(p in sides.remote or p in sides.local for p in _parents(new_key)):
            continue
        there = sides.remote.pop(old_key)
        sides.remote[new_key] = there
        was = sides.base.pop(old_key)
        sides.base[new_key] = was
        out.append(Action(Kind.MOVE_REMOTE, new_key, sha, there, was, source=old_key))
    return out


def _merge(sides: _Sides, now: datetime, taken: set[str], device: str, plan: Plan) -> list[Action]:
    """Rule 7, key by key."""
    out: list[Action] = []
    plan.forget = []  # (each round decides again)
    for key in sorted(sides.keys()):
        on_disk, here = sides.local.get(key, (None, None))
        there = sides.remote.get(key)
        was = sides.base.get(key)
        spelled = on_disk if on_disk != key else None
        there_sha = there.sha256 if there else None
        was_sha = was.sha256 if was else None
        if here == there_sha:
            if here is None:
                plan.forget.append(key)
            elif was is None or was_sha != here or (there and was.version != there.version):
                out.append(Action(Kind.RECORD, key, here, there, was, local_path=spelled))
            continue
        local_changed = here != was_sha
        remote_changed = there_sha != was_sha
        if not remote_changed:  # only the local side moved
            if here is None:
                out.append(Action(Kind.TRASH_REMOTE, key, None, there, was))
            elif there is None:
                out.append(Action(Kind.UPLOAD_NEW, key, here, None, was, local_path=spelled))
            else:
                out.append(Action(Kind.UPLOAD_VERSION, key, here, there, was, local_path=spelled))
        elif not local_changed:  # only the remote side moved
            if there is None:
                out.append(Action(Kind.DELETE_LOCAL, key, here, None, was, local_path=spelled))
            else:
                out.append(Action(Kind.DOWNLOAD, key, here, there, was, local_path=spelled))
        elif here is None:  # deleted here, changed there: the change wins
            out.append(Action(Kind.DOWNLOAD, key, None, there, was))
        elif there is None:  # deleted there, changed here: the change wins, as a new document
            out.append(Action(Kind.UPLOAD_NEW, key, here, None, was, local_path=spelled))
        else:
            copy = conflict_copy_path(key, now, taken, device)
            taken.add(copy)
            out.append(Action(Kind.CONFLICT, key, here, there, was, conflict_path=copy, local_path=spelled))
    return out


def _clashes(actions: list[Action], sides: _Sides, held: set[str]) -> list[str]:
    """Keys that hold a file after the sync while other files (or a local folder) are under them (rule 3)."""
    gone = {a.path for a in actions if a.kind in (Kind.TRASH_REMOTE, Kind.DELETE_LOCAL)}
    files = {k for k in sides.local.keys() | sides.remote.keys() if k not in gone}
    files |= {a.conflict_path for a in actions if a.conflict_path}
    folders = {p for f in files for p in _parents(f)} | held
    return sorted(files & folders)
