"""One two-way sync of a folder: read both sides, plan (`domain.plan`), carry the plan out.

The remote side comes from the documents listing on a first sync and from the change feed after
that (the snapshot in the state is moved on by each entry). Each file's outcome is independent:
an error is one line for that file and the rest goes on. Nothing local is deleted unless the
server said the document is gone (a change feed entry or a listing), never because a call failed.
"""

from __future__ import annotations

import mimetypes
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from docstore_sync.adapters.chunking import CHUNKED_FROM, chunk_map
from docstore_sync.adapters.gateway import ApiError, ChangedWhileReading, Gateway, NetworkError
from docstore_sync.adapters.scan import load_rules, scan, sha256_of
from docstore_sync.adapters.state import State
from docstore_sync.domain.folders import FolderChange, FolderKind, plan_folders
from docstore_sync.domain.ignore import STATE_DIR
from docstore_sync.domain.plan import Action, Kind, Plan, RemoteFile, key_of, plan_sync

# Files from this size up go multipart (parallel parts, resumable); the server's own default
# threshold is higher, so the client asks for multipart explicitly.
MULTIPART_FROM = 8 * 1024 * 1024
BATCH = 100  # the upload service's batch routes take at most this many files
# Files from this size up are sent with their content-defined chunk map: a new version of one
# whose previous version was sent so too is a delta upload (the server copies unchanged ranges).
DELTA_FROM = CHUNKED_FROM
# What a file is sent as when the server refuses its own type: the server is the one list of
# types it stores (a refusal names `content_type` as its field), so the client keeps none.
FALLBACK_TYPE = "application/octet-stream"


def content_type(name: str) -> str:
    """The type the file's name suggests (the server may refuse it: see `refuses_type`)."""
    return mimetypes.guess_type(name)[0] or FALLBACK_TYPE


def refuses_type(problem: dict[str, Any] | None) -> bool:
    """Whether a refusal is about the declared content type (the file is then sent as bytes)."""
    return bool(problem) and problem.get("field") == "content_type"  # type: ignore[union-attr]


@dataclass
class Outcome:
    path: str
    kind: str
    ok: bool
    bytes: int = 0
    error: str | None = None
    conflict_copy: str | None = None
    resumed_parts: int = 0
    deduplicated: int = 0
    """Bytes not sent because the account already stored them (the server copied them)."""
    delta_saved: int = 0
    """Bytes not sent because the server copied them from the previous version."""

    @property
    def sent(self) -> int:
        """Bytes this upload actually sent."""
        return max(0, self.bytes - self.deduplicated - self.delta_saved)


@dataclass
class Report:
    dry_run: bool = False
    planned: dict[str, int] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hashed: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = [o for o in self.outcomes if o.ok]

        def count(*kinds: Kind) -> int:
            return sum(1 for o in done if o.kind in {k.value for k in kinds})

        return {
            "dry_run": self.dry_run,
            "planned": self.planned,
            "uploaded": count(Kind.UPLOAD_NEW, Kind.UPLOAD_VERSION),
            "downloaded": count(Kind.DOWNLOAD),
            "deleted_local": count(Kind.DELETE_LOCAL),
            "trashed_remote": count(Kind.TRASH_REMOTE),
            "moved": count(Kind.MOVE_LOCAL, Kind.MOVE_REMOTE),
            "renamed_aside": count(Kind.RENAME_LOCAL),
            "folders_made_here": sum(1 for o in done if o.kind == "make_local_folder"),
            "folders_made_there": sum(1 for o in done if o.kind == "make_remote_folder"),
            "conflicts": count(Kind.CONFLICT),
            "bytes_up": sum(o.bytes for o in done if o.kind in UPLOADS),
            "uploaded_bytes": sum(o.sent for o in done if o.kind in UPLOADS),
            "bytes_down": sum(o.bytes for o in done if o.kind == "download"),
            "resumed_parts": sum(o.resumed_parts for o in self.outcomes),
            "deduplicated_bytes": sum(o.deduplicated for o in done),
            "delta_bytes_saved": sum(o.delta_saved for o in done),
            "errors": [f"{o.path}: {o.error}" for o in self.outcomes if not o.ok],
            "conflict_copies": [o.conflict_copy for o in done if o.conflict_copy],
            "warnings": self.warnings,
            "hashed": self.hashed,
            "seconds": round(self.seconds, 3),
        }

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some file failed, 2 conflicts were kept as copies (and nothing failed)."""
        if any(not o.ok for o in self.outcomes):
            return 1
        return 2 if any(o.kind == Kind.CONFLICT.value for o in self.outcomes) else 0


@dataclass(frozen=True)
class Uploaded:
    """A batch upload the server completed, waiting for metadata to record its version."""

    path: str
    document_id: str
    sha256: str
    size: int
    mtime_ns: int
    local_path: str = ""
    """The file's spelling on disk when it is not `path` (the key)."""


DEDUPE_WITHIN = 3600.0
"""Seconds a sync follows a server-side dedupe copy (the server copies a large file after its answer)."""
RECORDED_WITHIN = 60.0
"""Seconds a sync waits for metadata to record more of its batch uploads (the wait goes on while it
does; then the next sync's feed brings the rest)."""
FEED_WAIT = 5
"""Seconds of one long-poll of the change feed while waiting for those records."""


KEPT = "kept"
"""Outcome kind of a planned local delete that did not happen: the server still has the document."""

UPLOADS = frozenset({"upload-new", "upload-version", "conflict"})
"""Outcome kinds that upload bytes (`bytes_up`: their files' sizes; `uploaded_bytes`: what was sent)."""

Hooks = Callable[[str, str, int], Callable[[int], None] | None]
"""(path, kind, size) -> a progress callback for that file's bytes (or None)."""


def _folder_of(remote_folder: str, rel: str) -> tuple[str, str]:
    """The server's (path, name) of a relative path under the remote folder."""
    full = PurePosixPath(remote_folder) / rel
    return str(full.parent), full.name


def _relative(remote_folder: str, path: str, name: str) -> str | None:
    """A document's path relative to the remote folder, or None when it is outside it."""
    folder = remote_folder.rstrip("/")
    full = (path.rstrip("/") + "/" + name) if path != "/" else "/" + name
    if folder and not full.startswith(folder + "/"):
        return None
    return full[len(folder) + 1 :]


def _relative_folder(remote_folder: str, path: str) -> str | None:
    """A folder's path relative to the remote folder ("" for the remote folder itself), or None
    when it is outside it."""
    folder = remote_folder.rstrip("/")
    if path == (folder or "/"):
        return ""
    if folder and not path.startswith(folder + "/"):
        return None
    return path[len(folder) + 1 :]


class Syncer:
    def __init__(
        self,
        root: Path,
        gateway: Gateway,
        *,
        remote_folder: str = "/",
        hooks: Hooks | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        device: str | None = None,
    ) -> None:
        self.root = root.resolve()
        self.gateway = gateway
        self.remote_folder = "/" + remote_folder.strip("/") if remote_folder.strip("/") else "/"
        self.hooks = hooks
        self.now = now
        # Named in the conflict copies this device makes (`report (conflict copy from laptop ...).pdf`).
        self.device = device if device is not None else (os.environ.get("DOCSTORE_DEVICE") or socket.gethostname())
        self.state = State(self.root)
        self.tmp = self.root / STATE_DIR / "tmp"
        self.tmp.mkdir(exist_ok=True)
        self._awaiting: list[Uploaded] = []
        self.pending_cursor = ""
        self.dry_run = False
        self.folder_outcomes: list[Outcome] = []
        """Folders renamed or made here from the feed before the plan (one outcome each)."""

    def close(self) -> None:
        self.state.close()

    # --- the remote side -----------------------------------------------------------------
    def refresh_remote(self) -> dict[str, RemoteFile]:
        """The remote snapshot moved on to now: the whole listing on a first sync (the feed's end
        taken first, so nothing between the two is missed), the change feed after that."""
        cursor = self.state.get("cursor")
        if cursor is None:
            _, cursor = self.gateway.feed_end(None)
            remote: dict[str, RemoteFile] = {}
            for doc in self.gateway.documents():
                rel = _relative(self.remote_folder, doc["path"], doc["name"])
                if rel is not None:
                    remote[rel] = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"])
            self.state.replace_remote(remote)
            # Folders map one to one, empty ones too (issue 37).
            folders = [
                _relative_folder(self.remote_folder, f["path"]) for f in self.gateway.folders(self.remote_folder)
            ]
            self._make_local_folders([rel for rel in folders if rel])
        else:
            entries, cursor = self.gateway.feed_end(cursor)
            self.apply_changes(entries)
        self.pending_cursor = cursor or ""
        return self.state.remote()

    def apply_changes(self, entries: list[dict[str, Any]]) -> None:
        """Feed entries into the snapshot, in order: a document's entries in one transaction per
        run of them, a folder's entry (`folder-*`) as one step of its own (`_folder_step`)."""
        steps: list[tuple[str, str | None, RemoteFile | None]] = []
        for entry in entries:
            if str(entry["kind"]).startswith("folder-"):
                if steps:
                    self.state.move_remote(steps)
                    steps = []
                self._folder_step(entry)
            elif (step := self._step(entry)) is not None:
                steps.append(step)
        if steps:
            self.state.move_remote(steps)

    def _folder_step(self, entry: dict[str, Any]) -> None:
        """A folder's entry. A rename or move is **one rename here**: the folder on disk and
        everything the state knows under it (base, hashes, snapshot) move together, so the plan
        finds nothing to transfer (a server-side rename of a folder of 10,000 files moved no
        bytes and makes no per-file entries). A trashed folder leaves the snapshot (the plan then
        deletes what was synced); a restored one, or one moved in from outside, is read again."""
        kind = entry["kind"]
        new = _relative_folder(self.remote_folder, entry["path"])
        old = _relative_folder(self.remote_folder, entry["from_path"]) if entry.get("from_path") else None
        if kind == "folder-created" and new:
            self._make_local_folders([new])
        elif kind in ("folder-renamed", "folder-moved") and old:
            if new is None:  # moved out of the synced folder: gone from here
                self.state.drop_remote_under(old)
                self.state.drop_folders_under(old)
            else:
                self._rename_local_folder(old, new)
        elif kind == "folder-trashed" and new:
            self.state.drop_remote_under(new)
            self.state.drop_folders_under(new)
        elif kind in ("folder-restored", "folder-moved") and new is not None:
            self._read_again()

    def _folder_change(self, change: FolderChange) -> Outcome:
        """A folder renamed or deleted here, done on the server as one folder request; the state
        follows (what was synced under it moves with it, or is forgotten). When the server says
        no (a name taken there meanwhile, the folder gone), nothing changes here and the file plan
        decides file by file."""
        parent, name = _folder_of(self.remote_folder, change.path)
        path = str(PurePosixPath(parent) / name)
        try:
            folder = self.gateway.folder_at(path)
            if folder is None:
                return Outcome(change.path, change.kind.value, False, error="the server has no such folder now")
            if change.kind is FolderKind.RENAME_REMOTE_FOLDER:
                assert change.to is not None
                self.gateway.move_folder(folder["folder_id"], *_folder_of(self.remote_folder, change.to))
                self.state.rename_prefix(change.path, change.to)
                return Outcome(change.to, change.kind.value, True)
            self.gateway.trash_folder(folder["folder_id"])
        except (ApiError, NetworkError) as error:
            return Outcome(change.path, change.kind.value, False, error=_one_line(error))
        self.state.drop_remote_under(change.path)
        self.state.forget_under(change.path)
        self.state.drop_folders_under(change.path)
        return Outcome(change.path, change.kind.value, True)

    def _rename_local_folder(self, old: str, new: str) -> None:
        source, target = self.root / old, self.root / new
        if self.dry_run:
            return  # the entry is read again next time (the cursor moves only after a run)
        if source.is_dir() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
            self.folder_outcomes.append(Outcome(new, Kind.MOVE_LOCAL.value, True))
            self._drop_empty_folders(source.parent)
        # Whether or not it was on disk (not synced yet, or the name taken here: then the plan
        # moves file by file), the snapshot is the server's.
        self.state.rename_prefix(old, new)

    def _read_again(self) -> None:
        """The whole remote snapshot from the listing (what a folder brought back holds)."""
        remote: dict[str, RemoteFile] = {}
        for doc in self.gateway.documents():
            rel = _relative(self.remote_folder, doc["path"], doc["name"])
            if rel is not None:
                remote[rel] = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"])
        self.state.replace_remote(remote)

    def _make_local_folders(self, folders: list[str]) -> None:
        """Folders the server has (empty ones too) made here, and known as synced."""
        if self.dry_run:
            return
        for rel in folders:
            folder = self.root / rel
            if not folder.exists():
                folder.mkdir(parents=True, exist_ok=True)
                self.folder_outcomes.append(Outcome(rel, "make_local_folder", True))
        self.state.add_folders(folders)

    def _make_remote_folders(self, empty: list[str]) -> list[Outcome]:
        """Empty folders made here and not yet on the server, made there (parents with them)."""
        known = self.state.folders()
        outcomes = []
        for rel in sorted(set(empty) - known):
            folder, name = _folder_of(self.remote_folder, rel)
            try:
                self.gateway.create_folder(folder, name)
            except (ApiError, NetworkError) as error:
                outcomes.append(Outcome(rel, "make_remote_folder", False, error=_one_line(error)))
                continue
            self.state.add_folders([rel])
            outcomes.append(Outcome(rel, "make_remote_folder", True))
        return outcomes

    def _step(self, entry: dict[str, Any]) -> tuple[str, str | None, RemoteFile | None] | None:
        """What one feed entry does to the snapshot: (document_id, path, remote), remote None for
        a drop; None for an entry without bytes (never read as a delete)."""
        if entry["kind"] in ("trashed", "deleted"):
            return entry["document_id"], None, None
        rel = _relative(self.remote_folder, entry["path"], entry["name"])
        if rel is None:
            return entry["document_id"], None, None  # moved out of the synced folder
        if not entry.get("sha256") or not entry.get("version"):
            return None
        return entry["document_id"], rel, RemoteFile(entry["document_id"], int(entry["version"]), entry["sha256"])

    # --- one sync ------------------------------------------------------------------------
    def plan(self, *, folders: bool = False) -> tuple[Plan, Report]:
        """The plan of one sync. With `folders`, folders renamed or deleted here are first done on
        the server (`_folder_change`): a real run only, never a dry run or `status`."""
        report = Report()
        rules = load_rules(self.root)
        # The remote side first: a folder the server renamed is renamed here (`_folder_step`)
        # before the scan, which then finds its files where the state already has them.
        remote = {p: r for p, r in self.refresh_remote().items() if not rules.ignored(p)}
        fresh: list[tuple[str, int, int, str]] = []
        local = scan(self.root, rules, self.state.hash_cache(), lambda *row: fresh.append(row))
        if fresh:
            self.state.cache_hashes(fresh)
        report.warnings += local.warnings
        report.hashed = local.hashed
        self.local = local
        base = {p: b for p, b in self.state.base().items() if not rules.ignored(p)}
        if folders:
            # A folder renamed or deleted here is one request on the server (`domain.folders`);
            # the file plan then sees its files where the server has them now.
            known = {f for f in self.state.folders() if not (rules.ignored(f) or rules.ignored(f + "/"))}
            changes = plan_folders(known, local.files, local.empty_folders, base, remote)
            if changes:
                report.outcomes += [self._folder_change(c) for c in changes]
                remote = {p: r for p, r in self.state.remote().items() if not rules.ignored(p)}
                base = {p: b for p, b in self.state.base().items() if not rules.ignored(p)}
        plan = plan_sync(local.shas(), remote, base, self.now(), self.device, set(local.empty_folders))
        report.planned = plan.counts()
        report.warnings += plan.warnings
        report.outcomes += self.folder_outcomes
        self.folder_outcomes = []
        return plan, report

    def run(self, *, dry_run: bool = False, concurrency: int = 4) -> Report:
        started = time.monotonic()
        self.dry_run = dry_run
        plan, report = self.plan(folders=not dry_run)
        report.dry_run = dry_run
        if dry_run:
            report.outcomes = [Outcome(a.path, a.kind.value, True) for a in plan.actions if a.transfers]
            report.seconds = time.monotonic() - started
            return report
        for path in plan.forget:
            self.state.forget(path)
        *before, last = plan.phases() or [[]]
        for phase in before:  # renames aside, deletes, moves: each phase done before the next starts
            side_by_side = all(a.kind in (Kind.DELETE_LOCAL, Kind.TRASH_REMOTE) for a in phase)
            with ThreadPoolExecutor(max_workers=max(1, concurrency) if side_by_side else 1) as pool:
                for outcome in pool.map(self.carry_out, phase):  # (deletes are independent of one another)
                    if outcome is not None:
                        report.outcomes.append(outcome)
        small = [a for a in last if self._batchable(a)]
        rest = [a for a in last if not self._batchable(a)]
        self._awaiting = []
        for start in range(0, len(small), BATCH):
            report.outcomes += self._upload_batch(small[start : start + BATCH], concurrency)
        beaten = self._confirm_recorded(self._awaiting)
        if beaten:  # stored as conflict copies: counted as conflicts, not as uploads
            paths = {o.path for o in beaten}
            report.outcomes = [o for o in report.outcomes if not (o.path in paths and o.kind in UPLOADS)] + beaten
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(self.carry_out, a) for a in rest]
            for future in as_completed(futures):
                outcome = future.result()
                if outcome is not None:
                    report.outcomes.append(outcome)
        report.outcomes += self._make_remote_folders(self.local.empty_folders)
        report.outcomes.sort(key=lambda o: o.path)
        # The cursor moves on only after the plan ran: entries after it are replayed next time,
        # which is harmless (each one sets the snapshot to what the server says).
        self.state.put("cursor", self.pending_cursor)
        report.seconds = time.monotonic() - started
        self.state.mark_synced(report.summary())
        return report

    def carry_out(self, action: Action) -> Outcome | None:
        try:
            match action.kind:
                case Kind.RECORD:
                    self._record_local(action, action.remote)
                    return None
                case Kind.UPLOAD_NEW | Kind.UPLOAD_VERSION:
                    return self._upload(action)
                case Kind.DOWNLOAD:
                    return self._download(action)
                case Kind.DELETE_LOCAL:
                    return self._delete_local(action)
                case Kind.TRASH_REMOTE:
                    assert action.remote is not None
                    self.gateway.trash(action.remote.document_id)
                    self.state.drop_remote(action.remote.document_id)
                    self.state.forget(action.path)
                    return Outcome(action.path, action.kind.value, True)
                case Kind.RENAME_LOCAL | Kind.MOVE_LOCAL:
                    return self._rename_local(action)
                case Kind.MOVE_REMOTE:
                    return self._move_remote(action)
                case Kind.CONFLICT:
                    return self._conflict(action)
        except (ApiError, NetworkError, ChangedWhileReading, OSError) as error:
            return Outcome(action.path, action.kind.value, False, error=_one_line(error))
        raise AssertionError(action.kind)

    def _grant_as_sent(self, body: dict[str, Any]) -> dict[str, Any]:
        """A grant for `body`; when the server refuses the file's type, a grant for it as plain bytes."""
        try:
            return self.gateway.grant(body)
        except ApiError as error:
            if body["content_type"] == FALLBACK_TYPE or not refuses_type(error.body):
                raise
            return self.gateway.grant(body | {"content_type": FALLBACK_TYPE})

    # --- small files, a hundred at a time ------------------------------------------------------
    def _batchable(self, action: Action) -> bool:
        """A small upload with nothing under way: granted and completed with the batch routes."""
        if action.kind not in (Kind.UPLOAD_NEW, Kind.UPLOAD_VERSION):
            return False
        file = self.local.files.get(action.on_disk)
        return file is not None and file.size < MULTIPART_FROM and self.state.pending_upload(action.path) is None

    def _grant_body(self, action: Action, size: int) -> dict[str, Any]:
        folder, name = _folder_of(self.remote_folder, action.path)
        body: dict[str, Any] = {"filename": name, "size": size, "content_type": content_type(name), "path": folder}
        if action.local_sha256:  # bytes the account already stores are not sent again (dedupe)
            body["sha256"] = action.local_sha256
        if action.kind is Kind.UPLOAD_VERSION and action.remote is not None:
            body |= {"document_id": action.remote.document_id, "base_version": action.remote.version}
        return body

    def _upload_batch(self, actions: list[Action], concurrency: int) -> list[Outcome]:
        """One grant request and one completion request for up to a hundred small files (the
        forms are posted side by side in between); each file still succeeds or fails on its own."""
        sizes = {a.path: self.local.files[a.on_disk].size for a in actions}
        try:
            # With its sha256, an item is granted a presigned PUT pinned to those bytes (no form,
            # no staging copy: completion is one HEAD on the server).
            results = self.gateway.grant_batch(
                [self._grant_body(a, sizes[a.path]) | ({"put": True} if a.local_sha256 else {}) for a in actions]
            )
        except (ApiError, NetworkError) as error:
            return [Outcome(a.path, a.kind.value, False, error=_one_line(error)) for a in actions]
        outcomes: list[Outcome] = []
        granted: list[tuple[Action, dict[str, Any]]] = []
        single: list[Action] = []
        for action, result in zip(actions, results, strict=True):
            problem = result.get("problem")
            if refuses_type(problem):
                single.append(action)  # the single path asks again as plain bytes
            elif (result.get("grant") or {}).get("deduplicated"):
                file = self.local.files[action.on_disk]
                self._awaiting.append(
                    Uploaded(
                        action.path,
                        result["grant"]["document_id"],
                        file.sha256,
                        file.size,
                        file.mtime_ns,
                        action.local_path or "",
                    )
                )
                outcomes.append(Outcome(action.path, action.kind.value, True, bytes=file.size, deduplicated=file.size))
            elif result.get("grant"):
                granted.append((action, result["grant"]))
            elif problem and (problem["status"] == 409 or problem["type"].endswith("not-for-batch")):
                single.append(action)  # a conflict, or a file the server wants alone: the single path
            else:
                outcomes.append(Outcome(action.path, action.kind.value, False, error=_problem_line(problem)))

        def post(action: Action, grant: dict[str, Any]) -> Outcome | None:
            full = self.root / action.on_disk
            name = _folder_of(self.remote_folder, action.path)[1]
            hook = self.hooks(action.path, "upload", sizes[action.path]) if self.hooks else None
            try:
                if sha256_of(full) != action.local_sha256:
                    raise ChangedWhileReading("changed while it was being read; next time")
                if grant.get("put"):
                    self.gateway.send_put(grant["put"], full, sizes[action.path], name, hook)
                else:
                    self.gateway.send_form(grant["form"], full, sizes[action.path], name, hook)
            except (ApiError, NetworkError, ChangedWhileReading, OSError) as error:
                if isinstance(error, ChangedWhileReading):  # give its reserved room back at once
                    self.gateway.abort(grant["upload_id"])
                return Outcome(action.path, action.kind.value, False, error=_one_line(error))
            return None

        sent: list[tuple[Action, dict[str, Any]]] = []
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = {pool.submit(post, a, g): (a, g) for a, g in granted}
            for future in as_completed(futures):
                failed = future.result()
                if failed:
                    outcomes.append(failed)
                else:
                    sent.append(futures[future])
        if sent:
            try:
                done = self.gateway.complete_batch([g["upload_id"] for _, g in sent])
            except (ApiError, NetworkError) as error:
                return outcomes + [Outcome(a.path, a.kind.value, False, error=_one_line(error)) for a, _ in sent]
            for action, grant in sent:
                result = done.get(grant["upload_id"], {})
                if result.get("problem") or not result.get("upload"):
                    outcomes.append(
                        Outcome(action.path, action.kind.value, False, error=_problem_line(result.get("problem")))
                    )
                    continue
                file = self.local.files[action.on_disk]
                self._awaiting.append(
                    Uploaded(
                        action.path,
                        grant["document_id"],
                        file.sha256,
                        file.size,
                        file.mtime_ns,
                        action.local_path or "",
                    )
                )
                outcomes.append(Outcome(action.path, action.kind.value, True, bytes=file.size))
        for action in single:
            outcome = self.carry_out(action)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _confirm_recorded(self, uploaded: list[Uploaded], timeout: float = RECORDED_WITHIN) -> list[Outcome]:
        """Wait until metadata has recorded the batch uploads' versions (so another folder's next
        sync sees them) and keep each one's version in the state. Read from the change feed,
        from where this sync's plan read it: a page of a thousand entries per request, where
        asking for each document was one request per file. One not seen in time is recorded
        without its version (the feed brings it next time). The entries read are applied to the
        snapshot and the cursor moves past them (`pending_cursor`), so the next sync starts there.

        An upload another write beat to the same document is stored by the server as a conflict
        copy, a new document: its feed entry (`conflict`, `conflict_of` our document, our sha256)
        is the answer, not a wait for our own id. The local file takes the copy's name and the
        winner's bytes are downloaded to the path, in this sync; the outcome is a conflict."""
        if not uploaded:
            return []
        wanted = {u.document_id: u for u in uploaded}
        versions: dict[str, int] = {}
        copies: dict[str, dict[str, Any]] = {}  # our document id -> the conflict entry
        cursor: str | None = self.pending_cursor or None
        deadline = time.monotonic() + timeout
        try:
            while len(versions) + len(copies) < len(wanted) and (left := deadline - time.monotonic()) > 0:
                items, cursor = self.gateway.changes(cursor, wait=max(1, min(FEED_WAIT, int(left))))
                # Every entry read moves the snapshot on, and the cursor past it: the next sync
                # does not read these pages again (a re-sync after thousands of uploads read them all).
                self.apply_changes(items)
                self.pending_cursor = cursor or self.pending_cursor
                seen = len(versions) + len(copies)
                for entry in items:
                    if entry.get("kind") == "conflict":
                        beaten = wanted.get(entry.get("conflict_of") or "")
                        if beaten is not None and entry.get("sha256") == beaten.sha256:
                            copies[beaten.document_id] = entry
                        continue
                    one = wanted.get(entry.get("document_id", ""))
                    if one is not None and entry.get("sha256") == one.sha256 and entry.get("version"):
                        versions[one.document_id] = int(entry["version"])
                if len(versions) + len(copies) > seen:  # metadata is catching up (thousands take a while)
                    deadline = time.monotonic() + timeout
        except (ApiError, NetworkError):
            pass  # uploaded all the same: the versions come with the next sync's feed
        mine = [u for u in uploaded if u.document_id not in copies]
        self.state.record_many(
            [(u.path, u.sha256, u.size, u.mtime_ns, u.document_id, versions.get(u.document_id)) for u in mine]
        )
        self.state.set_remote_many(
            [
                (u.path, RemoteFile(u.document_id, versions[u.document_id], u.sha256))
                for u in mine
                if u.document_id in versions
            ]
        )
        return [self._beaten(wanted[d], entry) for d, entry in sorted(copies.items())]

    def _beaten(self, upload: Uploaded, entry: dict[str, Any]) -> Outcome:
        """Our upload became the server's conflict copy `entry`: the local file takes its name
        (its bytes are that document's), then the winner is downloaded to the path."""
        copy = _relative(self.remote_folder, entry["path"], entry["name"])
        if copy is None:
            return Outcome(upload.path, Kind.CONFLICT.value, False, error="the server's conflict copy is elsewhere")
        try:
            target = self.root / copy
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.root / (upload.local_path or upload.path), target)
            st = target.stat()
            self.state.record(copy, upload.sha256, st.st_size, st.st_mtime_ns, entry["document_id"], 1)
            self.local.files.pop(upload.local_path or upload.path, None)
            doc = self.gateway.document(upload.document_id)
            if doc and doc.get("sha256") and not doc.get("trashed"):
                winner = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"])
                self._download(
                    Action(Kind.DOWNLOAD, upload.path, None, winner, None, local_path=upload.local_path or None),
                    replace_changed=True,
                )
        except (ApiError, NetworkError, ChangedWhileReading, OSError) as error:
            return Outcome(upload.path, Kind.CONFLICT.value, False, error=_one_line(error))
        return Outcome(upload.path, Kind.CONFLICT.value, True, bytes=upload.size, conflict_copy=copy)

    def _deduplicated(self, action: Action, rel: str, grant: dict[str, Any], source: Path | None = None) -> Outcome:
        """The server made the version from bytes the account already stores: nothing was sent."""
        full = source or self.root / action.on_disk
        st = full.stat()
        sha = action.local_sha256 or sha256_of(full)
        recorded = self.gateway.recorded(grant["document_id"], sha)
        self.state.record(
            rel, sha, st.st_size, st.st_mtime_ns, grant["document_id"], recorded.version if recorded else None
        )
        if recorded:
            self.state.set_remote(rel, recorded)
        return Outcome(rel, action.kind.value, True, bytes=st.st_size, deduplicated=st.st_size)

    # --- the steps -----------------------------------------------------------------------
    def _record_local(self, action: Action, remote: RemoteFile | None) -> None:
        file = self.local.files.get(action.on_disk)
        if file is None:
            return
        self.state.record(
            action.path,
            file.sha256,
            file.size,
            file.mtime_ns,
            remote.document_id if remote else None,
            remote.version if remote else None,
        )

    def _still_as_scanned(self, path: str) -> bool:
        """The local file is what the scan saw (or still absent): safe to replace or delete."""
        full = self.root / path
        file = self.local.files.get(path)
        try:
            st = full.lstat()
        except FileNotFoundError:
            return file is None
        return file is not None and st.st_size == file.size and st.st_mtime_ns == file.mtime_ns

    def _upload(
        self,
        action: Action,
        *,
        as_path: str | None = None,
        source: Path | None = None,
        delta: bool = True,
        dedupe: bool = True,
    ) -> Outcome:
        """Upload `action.path` (or `source` under the name `as_path`): a new document, or a new
        version on top of the remote one the plan saw (409 when it moved on: a conflict)."""
        rel = as_path or action.path
        full = source or self.root / action.on_disk
        size = full.stat().st_size
        sha = action.local_sha256 or sha256_of(full)
        folder, name = _folder_of(self.remote_folder, rel)
        hook = self.hooks(rel, "upload", size) if self.hooks else None
        versioned = action.kind is Kind.UPLOAD_VERSION and as_path is None and action.remote is not None
        resumed = 0
        saved = 0
        pending = self.state.pending_upload(rel)
        upload_id = None
        if pending and pending.sha256 == sha and pending.size == size:
            upload_id, document_id = pending.upload_id, pending.document_id
            try:
                parts = self.gateway.parts(upload_id)
            except ApiError:
                upload_id = None  # expired, aborted or finished: start again
                self.state.end_upload(rel)
            else:
                resumed = len(parts["stored"])
                saved = pending.copied_bytes  # a delta upload's parts the server copied (among the stored)
                if hook:
                    hook(sum(p["size"] for p in parts["stored"]))
                urls = {p["part_number"]: p["url"] for p in parts["missing"]}
                self.gateway.send_parts(full, parts["part_size"], size, urls, hook, _layout(parts["missing"]))
        if upload_id is None:
            body: dict[str, Any] = {
                "filename": name,
                "size": size,
                "content_type": content_type(name),
                "path": folder,
            }
            if dedupe:  # bytes the account already stores are copied by the server, not sent
                body["sha256"] = sha
            if versioned:
                assert action.remote is not None
                body |= {"document_id": action.remote.document_id, "base_version": action.remote.version}
            if size >= MULTIPART_FROM:
                body["multipart"] = True
            if size >= DELTA_FROM and delta:
                # Sent for every large file: the server keeps the map (once checked against the bytes)
                # for the next version, and plans this one as a delta when the previous has a map.
                scanned = self.local.files.get(action.on_disk) if source is None else None
                if scanned is not None and scanned.chunks is not None and scanned.sha256 == sha:
                    body["chunks"] = scanned.chunks  # read with its sha256 by the scan
                else:
                    body["chunks"] = chunk_map(full)
            try:
                grant = self._grant_as_sent(body)
            except ApiError as error:
                if error.status == 409 and versioned:  # the remote moved on since the plan: first write wins
                    return self._conflict(action)
                raise
            upload_id, document_id = grant["upload_id"], grant["document_id"]
            if grant.get("deduplicated"):
                # A large copy finishes after the answer: follow the upload until it is completed.
                copied = self.gateway.upload_state(upload_id) or {"status": "aborted"}
                if self._verified(upload_id, copied, DEDUPE_WITHIN).get("status") != "completed":
                    # The bytes went away before the copy (or it failed): sent after all, once.
                    return self._upload(action, as_path=as_path, source=source, delta=delta, dedupe=False)
                if hook:
                    hook(size)
                return self._deduplicated(action, rel, grant, source)
            if grant.get("multipart"):
                mp = grant["multipart"]
                saved = int(mp.get("copied_bytes") or 0)
                self.state.start_upload(rel, upload_id, sha, size, document_id, saved)
                urls = {p["part_number"]: p["url"] for p in mp["parts"]}
                if hook and saved:
                    hook(saved)  # copied by the server: shown as done
                self.gateway.send_parts(full, mp["part_size"], size, urls, hook, _layout(mp["parts"]))
            else:
                self.gateway.send_form(grant["form"], full, size, name, hook)
        done = self.gateway.complete(upload_id)
        if done.get("status") == "verifying":
            # S3 joined the parts; the server reads the object back for its sha256 (and, for a
            # delta, checks it is the declared one). Its verdict comes before metadata records it.
            done = self._verified(upload_id, done)
            if done.get("status") == "rejected":
                self.state.end_upload(rel)
                if delta:  # a delta (or a file that changed meanwhile) is sent again whole, once
                    return self._upload(action, as_path=as_path, source=source, delta=False, dedupe=dedupe)
                raise ChangedWhileReading("the server did not accept the assembled file; next time")
        if done.get("status") == "completed" and done.get("sha256") not in (None, sha):
            raise ChangedWhileReading("changed while it was being sent; it will be sent again next time")
        self.state.end_upload(rel)
        if versioned:
            # Read from the feed, as for the batches: a version another write beat is a
            # `conflict` entry under another id, which asking for our own id waits for in vain.
            st = full.stat()
            mine = Uploaded(rel, document_id, sha, size, st.st_mtime_ns, action.local_path or "")
            for lost in self._confirm_recorded([mine]):
                return lost
            return Outcome(rel, action.kind.value, True, bytes=size, resumed_parts=resumed, delta_saved=saved)
        recorded = self.gateway.recorded(document_id, sha)
        st = full.stat()
        self.state.record(rel, sha, size, st.st_mtime_ns, document_id, recorded.version if recorded else None)
        if recorded:
            self.state.set_remote(rel, recorded)
        return Outcome(rel, action.kind.value, True, bytes=size, resumed_parts=resumed, delta_saved=saved)

    def _verified(self, upload_id: str, done: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
        """The upload's state once the server has read it back (completed or rejected)."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while done.get("status") in ("pending", "verifying") and time.monotonic() < deadline:
            time.sleep(delay)
            # At most half a second late: the verdict on a large file was up to 2 s late before.
            delay = min(delay * 1.5, 0.5)
            done = self.gateway.upload_state(upload_id) or {"status": "rejected"}
        return done

    def _download(self, action: Action, *, replace_changed: bool = False) -> Outcome:
        remote = action.remote
        assert remote is not None
        full = self.root / action.on_disk
        if not replace_changed and not self._still_as_scanned(action.on_disk):
            return Outcome(action.path, action.kind.value, False, error="changed locally during the sync; next time")
        hook = self.hooks(action.path, "download", 0) if self.hooks else None
        part = self.tmp / f"{remote.document_id}.docstore-part"
        sha = self.gateway.download(remote.document_id, remote.version, part, hook)
        if sha != remote.sha256:
            part.unlink(missing_ok=True)
            raise ChangedWhileReading("the downloaded bytes do not match the server's sha256; next time")
        full.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, full)
        st = full.stat()
        self.state.record(action.path, sha, st.st_size, st.st_mtime_ns, remote.document_id, remote.version)
        return Outcome(action.path, action.kind.value, True, bytes=st.st_size)

    def _delete_local(self, action: Action) -> Outcome:
        if not self._still_as_scanned(action.on_disk):
            return Outcome(action.path, action.kind.value, False, error="changed locally during the sync; kept")
        if self._still_on_the_server(action):
            return Outcome(action.path, KEPT, True)
        (self.root / action.on_disk).unlink(missing_ok=True)
        self.state.forget(action.path)
        self._drop_empty_folders((self.root / action.on_disk).parent)
        return Outcome(action.path, action.kind.value, True)

    def _still_on_the_server(self, action: Action) -> bool:
        """Nothing local is deleted without the server's word: the snapshot lacking a document is
        not enough, so the document the path was last synced with is asked for.

        - Live at this path: the snapshot missed it (metadata records uploads from events, and a
          loaded one can be thousands behind); the snapshot is corrected and the file stays.
        - Not found, and this client never saw it recorded (no version in the state: uploaded,
          then metadata had not caught up): not yet recorded, not deleted; the file stays.
        - In the trash, moved or renamed away, or not found after it was recorded (purged): gone,
          the delete goes ahead."""
        was = action.base
        if was is None or was.document_id is None:
            return False
        doc = self.gateway.document(was.document_id)  # errors: the file stays (see carry_out)
        if doc is None:
            return was.version is None
        if doc.get("trashed"):
            return False
        if key_of(_relative(self.remote_folder, doc["path"], doc["name"]) or "") != action.path:
            return False
        if doc.get("sha256") and doc.get("version"):
            remote = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"])
            self.state.set_remote(action.path, remote)
            if remote.sha256 == was.sha256:
                self._record_local(action, remote)
        return True

    def _rename_local(self, action: Action) -> Outcome:
        """A local file renamed on disk (a conflict name, or where the server moved its document);
        the last synced state moves with it."""
        assert action.local_path is not None
        if not self._still_as_scanned(action.local_path):
            return Outcome(action.path, action.kind.value, False, error="changed locally during the sync; next time")
        target = self.root / action.path
        if target.exists():
            return Outcome(action.path, action.kind.value, False, error="the name is taken here; next time")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.root / action.local_path, target)
        file = self.local.files.pop(action.local_path, None)
        if file is not None:
            self.local.files[action.path] = file
        if action.source is not None:
            self.state.rename(action.source, action.path)
        if action.kind is Kind.MOVE_LOCAL and action.remote is not None:
            self.state.set_remote(action.path, action.remote)
        self._drop_empty_folders((self.root / action.local_path).parent)
        return Outcome(action.path, action.kind.value, True)

    def _move_remote(self, action: Action) -> Outcome:
        """The document moved (renamed) on the server to `path`: no bytes travel."""
        assert action.remote is not None
        folder, name = _folder_of(self.remote_folder, action.path)
        doc = self.gateway.move(action.remote.document_id, folder, name)
        remote = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"]) if doc else action.remote
        self.state.set_remote(action.path, remote)
        if action.source is not None:
            self.state.rename(action.source, action.path)
        return Outcome(action.path, action.kind.value, True)

    def _drop_empty_folders(self, folder: Path) -> None:
        """Folders a remote delete or rename emptied go too, up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): stop here
                return
            folder = folder.parent

    def _conflict(self, action: Action) -> Outcome:
        """First write wins: the remote keeps the path. The local bytes move to the conflict
        copy's name (uploaded as a new document), then the remote bytes are downloaded."""
        copy = action.conflict_path
        if copy is None:
            from docstore_sync.domain.plan import conflict_copy_path

            copy = conflict_copy_path(action.path, self.now(), set(self.local.files), self.device)
        full = self.root / action.on_disk
        if not self._still_as_scanned(action.on_disk):
            return Outcome(action.path, Kind.CONFLICT.value, False, error="changed locally during the sync; next time")
        target = self.root / copy
        os.replace(full, target)
        self.local.files.pop(action.on_disk, None)
        uploaded = self._upload(
            Action(Kind.UPLOAD_NEW, copy, action.local_sha256, None, None), as_path=copy, source=target
        )
        remote = action.remote
        if remote is None or remote.version == (action.base.version if action.base else None):
            doc = self.gateway.document(action.remote.document_id) if action.remote else None
            if doc:
                remote = RemoteFile(doc["document_id"], int(doc["version"]), doc["sha256"])
        if remote is not None:
            self._download(
                Action(Kind.DOWNLOAD, action.path, None, remote, None, local_path=action.local_path),
                replace_changed=True,
            )
        return Outcome(action.path, Kind.CONFLICT.value, True, bytes=uploaded.bytes, conflict_copy=copy)


def _layout(parts: list[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    """Each listed part's (offset, size) when the server gave them (a delta upload's parts differ)."""
    return {
        p["part_number"]: (int(p["offset"]), int(p["size"]))
        for p in parts
        if p.get("offset") is not None and p.get("size")
    }


def _problem_line(problem: dict[str, Any] | None) -> str:
    """A batch item's problem as one line: status and detail."""
    if not problem:
        return "no answer for this file"
    detail = problem.get("detail")
    if isinstance(detail, dict):
        detail = detail.get("message") or detail
    return f"{problem.get('status')} {detail}".splitlines()[0]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__
