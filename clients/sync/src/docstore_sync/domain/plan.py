"""The sync plan: given the local files, the remote documents and what both looked like at the
last sync, decide what to upload, download, delete and which files conflict. Pure: no I/O.

Paths are relative to the synced folder, '/'-separated (`reports/q1.pdf`). A rename on either
side is seen as a delete plus an add, so it travels as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_NAME = 255


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
    UPLOAD_NEW = "upload-new"
    """No remote document: upload as a new document."""
    UPLOAD_VERSION = "upload-version"
    """The remote document is as it was: upload a new version on top of it."""
    DOWNLOAD = "download"
    DELETE_LOCAL = "delete-local"
    TRASH_REMOTE = "trash-remote"
    CONFLICT = "conflict"
    """Changed on both sides: the remote (the first write) keeps the path; the local bytes are
    kept as a conflict copy, uploaded as a new document; the remote bytes are downloaded."""
    RECORD = "record"
    """Both sides already agree: only the state changes."""


@dataclass(frozen=True)
class Action:
    kind: Kind
    path: str
    local_sha256: str | None = None
    remote: RemoteFile | None = None
    base: BaseFile | None = None
    conflict_path: str | None = None

    @property
    def transfers(self) -> bool:
        return self.kind is not Kind.RECORD


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    """Paths gone from both sides: dropped from the state."""

    def of(self, kind: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind is kind]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind.value] = out.get(action.kind.value, 0) + 1
        return out


def conflict_copy_name(name: str, at: datetime) -> str:
    """`report.pdf` -> `report (conflict copy 2026-11-22 1432).pdf`, as the server names its own
    conflict copies (`docstore_metadata.domain.documents.conflict_copy_name`)."""
    stamp = at.strftime("%Y-%m-%d %H%M")
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    suffix = f" (conflict copy {stamp})"
    stem = stem[: MAX_NAME - len(suffix) - len(ext)]
    return f"{stem}{suffix}{ext}"


def conflict_copy_path(path: str, at: datetime, taken: set[str]) -> str:
    """The conflict copy's path beside `path`; ` 2`, ` 3`... added before the extension if taken."""
    folder, _, name = path.rpartition("/")
    candidate_name = conflict_copy_name(name, at)
    prefix = f"{folder}/" if folder else ""
    candidate = prefix + candidate_name
    n = 2
    while candidate in taken:
        dot = candidate_name.rfind(".")
        stem, ext = (candidate_name[:dot], candidate_name[dot:]) if dot > 0 else (candidate_name, "")
        candidate = f"{prefix}{stem} {n}{ext}"
        n += 1
    return candidate


def plan_sync(
    local: dict[str, str],
    remote: dict[str, RemoteFile],
    base: dict[str, BaseFile],
    now: datetime,
) -> Plan:
    """Decide every path. `local` maps path -> sha256, `remote` path -> document, `base` path ->
    the last synced state (empty on a first sync: files on both sides are compared by sha256).

    - unchanged on one side, changed on the other: the change travels (a delete too: remote
      deletes go to the trash);
    - changed on both sides to different bytes: a conflict (first write wins: the remote keeps
      the path, the local bytes become a conflict copy); a delete against a change keeps the change;
    - the same bytes on both sides: nothing moves, the state records it.
    """
    plan = Plan()
    taken = set(local) | set(remote)
    for path in sorted(taken | set(base)):
        here = local.get(path)
        there = remote.get(path)
        was = base.get(path)
        there_sha = there.sha256 if there else None
        was_sha = was.sha256 if was else None
        if here == there_sha:
            if here is None:
                plan.forget.append(path)
            elif was is None or was_sha != here or (there and was.version != there.version):
                plan.actions.append(Action(Kind.RECORD, path, here, there, was))
            continue
        local_changed = here != was_sha
        remote_changed = there_sha != was_sha
        if not remote_changed:  # only the local side moved
            if here is None:
                plan.actions.append(Action(Kind.TRASH_REMOTE, path, None, there, was))
            elif there is None:
                plan.actions.append(Action(Kind.UPLOAD_NEW, path, here, None, was))
            else:
                plan.actions.append(Action(Kind.UPLOAD_VERSION, path, here, there, was))
        elif not local_changed:  # only the remote side moved
            if there is None:
                plan.actions.append(Action(Kind.DELETE_LOCAL, path, here, None, was))
            else:
                plan.actions.append(Action(Kind.DOWNLOAD, path, here, there, was))
        elif here is None:  # deleted here, changed there: the change wins
            plan.actions.append(Action(Kind.DOWNLOAD, path, None, there, was))
        elif there is None:  # deleted there, changed here: the change wins, as a new document
            plan.actions.append(Action(Kind.UPLOAD_NEW, path, here, None, was))
        else:
            copy = conflict_copy_path(path, now, taken)
            taken.add(copy)
            plan.actions.append(Action(Kind.CONFLICT, path, here, there, was, conflict_path=copy))
    return plan
