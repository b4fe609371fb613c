"""The planner's promise, checked by a randomized model (issue 34): two devices and a server,
driven by Hypothesis's `RuleBasedStateMachine` through every family of change a person makes
(create, modify, append, truncate to 0, delete, rename, move, file <-> folder, folder rename and
delete, empty folders, NFC/NFD and case-only names, edits on both devices before either syncs),
synced in random interleavings. After every step: no content a person wrote is missing from both
devices and the server unless a person removed it; no sync fails. After both devices have synced
twice: both devices and the server hold the same files (compared by key: NFC, case kept) and
everything still wanted is on both devices.

The devices carry plans out the way `engine.Syncer` does, one action after another in the plan's
order, on a model file system that refuses what a real one refuses (a file under a file, a file
where a folder is). The server refuses a second live document of the same key (409), and stores
a version uploaded on a stale base as a conflict copy, as metadata does.

Derandomized (a fixed seed: CI always runs the same cases) and bounded; Hypothesis prints the
failing steps, shrunk. `DOCSTORE_MODEL_EXAMPLES` runs more cases locally.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from docstore_sync.domain.plan import Action, BaseFile, Kind, RemoteFile, plan_sync

NOW = datetime(2026, 11, 22, 14, 32, tzinfo=UTC)
NFC_E = unicodedata.normalize("NFC", "é")
NFD_E = unicodedata.normalize("NFD", "é")
NAMES = ["a.txt", "A.txt", f"r{NFC_E}sum{NFC_E}.txt", f"r{NFD_E}sum{NFD_E}.txt", "d", "e"]
FOLDERS = ["", "d/", "e/", f"{NFD_E}/", "d/e/"]


def key_of(path: str) -> str:
    """The server's identity of a name (the model's own, not the planner's)."""
    return unicodedata.normalize("NFC", path)


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class Refused(Exception):
    """What a real file system or the server would refuse."""


@dataclass
class Doc:
    path: str
    content: str
    version: int = 1
    trashed: bool = False


@dataclass
class Server:
    docs: dict[str, Doc] = field(default_factory=dict)
    feed: list[tuple[str, str | None, int, str]] = field(default_factory=list)
    """(document id, key or None when trashed, version, sha256)."""
    ids: itertools.count[int] = field(default_factory=itertools.count)
    copies: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def live(self) -> dict[str, Doc]:
        return {d.path: d for d in self.docs.values() if not d.trashed}

    def _note(self, doc_id: str) -> None:
        doc = self.docs[doc_id]
        self.feed.append((doc_id, None if doc.trashed else doc.path, doc.version, sha(doc.content)))

    def _free(self, path: str) -> None:
        if key_of(path) in self.live():
            raise Refused(f"409: {path} is taken")

    def create(self, path: str, content: str) -> str:
        self._free(path)
        doc_id = f"doc{next(self.ids)}"
        self.docs[doc_id] = Doc(key_of(path), content)
        self._note(doc_id)
        return doc_id

    def upload_version(self, doc_id: str, base_version: int, content: str) -> tuple[str, Doc]:
        """First write wins: a stale base makes a conflict copy (a new document, a name that
        cannot collide), as metadata's `_record` does."""
        doc = self.docs[doc_id]
        if doc.trashed or doc.version != base_version:
            stem, dot, ext = doc.path.rpartition(".")
            name = f"{stem} (conflict copy srv {next(self.copies)}).{ext}" if dot else f"{doc.path} (copy)"
            copy_id = f"doc{next(self.ids)}"
            self.docs[copy_id] = Doc(name, content)
            self._note(copy_id)
            return copy_id, self.docs[copy_id]
        doc.version += 1
        doc.content = content
        self._note(doc_id)
        return doc_id, doc

    def move(self, doc_id: str, path: str) -> Doc:
        self._free(path)
        doc = self.docs[doc_id]
        if doc.trashed:
            raise Refused("410: in the trash")
        doc.path = key_of(path)
        self._note(doc_id)
        return doc

    def trash(self, doc_id: str) -> None:
        self.docs[doc_id].trashed = True
        self._note(doc_id)


@dataclass
class Device:
    name: str
    files: dict[str, str] = field(default_factory=dict)
    """Path as this device spells it -> content."""
    folders: set[str] = field(default_factory=set)
    """Folders made on their own (empty ones stay: they do not sync yet)."""
    base: dict[str, BaseFile] = field(default_factory=dict)
    snapshot: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    """Document id -> (key, version, sha256), moved on by the feed."""
    cursor: int = 0

    # --- the file system -----------------------------------------------------------------
    def can_hold(self, path: str) -> bool:
        """A file may be written at `path`: no file where a folder of it goes, no folder where it goes."""
        if any(p in self.files for p in parents(path)):
            return False
        inside = path + "/"
        return not any(f.startswith(inside) for f in itertools.chain(self.files, self.folders)) and (
            path not in self.folders
        )

    def write(self, path: str, content: str) -> None:
        if path not in self.files and not self.can_hold(path):
            raise Refused(f"{self.name}: {path}: not a directory / is a directory")
        self.files[path] = content

    def rename(self, old: str, new: str) -> None:
        if new in self.files or not self.can_hold(new):
            raise Refused(f"{self.name}: {old} -> {new}: taken")
        self.files[new] = self.files.pop(old)

    # --- one sync, as engine.Syncer carries a plan out ---------------------------------------
    def sync(self, server: Server) -> list[str]:
        for doc_id, path, version, digest in server.feed[self.cursor :]:
            if path is None:
                self.snapshot.pop(doc_id, None)
            else:
                self.snapshot[doc_id] = (path, version, digest)
        self.cursor = len(server.feed)
        remote = {p: RemoteFile(d, v, s) for d, (p, v, s) in self.snapshot.items()}
        local = {p: sha(c) for p, c in self.files.items()}
        plan = plan_sync(local, remote, self.base, NOW, self.name, self.folders)
        for path in plan.forget:
            self.base.pop(path, None)
        errors = []
        for action in plan.actions:
            try:
                self.carry_out(action, server)
            except Refused as error:
                errors.append(f"{action.kind} {action.path}: {error}")
        return errors

    def carry_out(self, a: Action, server: Server) -> None:  # noqa: C901 (one branch per kind)
        match a.kind:
            case Kind.RENAME_LOCAL | Kind.MOVE_LOCAL:
                assert a.local_path is not None
                self.rename(a.local_path, a.path)
                if a.source is not None and a.source in self.base:
                    self.base[a.path] = self.base.pop(a.source)
            case Kind.MOVE_REMOTE:
                assert a.remote is not None
                doc = server.move(a.remote.document_id, a.path)
                self.snapshot[a.remote.document_id] = (doc.path, doc.version, sha(doc.content))
                if a.source is not None and a.source in self.base:
                    self.base[a.path] = self.base.pop(a.source)
            case Kind.DELETE_LOCAL:
                self.files.pop(a.on_disk)
                self.base.pop(a.path, None)
            case Kind.TRASH_REMOTE:
                assert a.remote is not None
                server.trash(a.remote.document_id)
                self.snapshot.pop(a.remote.document_id, None)
                self.base.pop(a.path, None)
            case Kind.UPLOAD_NEW:
                content = self.files[a.on_disk]
                doc_id = server.create(a.path, content)
                self.snapshot[doc_id] = (a.path, 1, sha(content))
                self.base[a.path] = BaseFile(sha(content), doc_id, 1)
            case Kind.UPLOAD_VERSION:
                assert a.remote is not None
                content = self.files[a.on_disk]
                doc_id, doc = server.upload_version(a.remote.document_id, a.remote.version, content)
                if doc_id == a.remote.document_id:
                    self.snapshot[doc_id] = (doc.path, doc.version, sha(content))
                    self.base[a.path] = BaseFile(sha(content), doc_id, doc.version)
                else:  # beaten: the local file takes the copy's name, the winner comes down (engine._beaten)
                    self.rename(a.on_disk, doc.path)
                    self.snapshot[doc_id] = (doc.path, 1, sha(content))
                    self.base[doc.path] = BaseFile(sha(content), doc_id, 1)
                    self._download(server, a.path, a.on_disk, a.remote.document_id)
            case Kind.DOWNLOAD:
                assert a.remote is not None
                self._download(server, a.path, a.on_disk, a.remote.document_id)
            case Kind.CONFLICT:
                assert a.conflict_path is not None and a.remote is not None
                content = self.files[a.on_disk]
                self.rename(a.on_disk, a.conflict_path)
                doc_id = server.create(a.conflict_path, content)
                self.snapshot[doc_id] = (a.conflict_path, 1, sha(content))
                self.base[a.conflict_path] = BaseFile(sha(content), doc_id, 1)
                self._download(server, a.path, a.on_disk, a.remote.document_id)
            case Kind.RECORD:
                assert a.remote is not None
                self.base[a.path] = BaseFile(sha(self.files[a.on_disk]), a.remote.document_id, a.remote.version)

    def _download(self, server: Server, key: str, on_disk: str, doc_id: str) -> None:
        doc = server.docs[doc_id]
        if doc.trashed:
            return
        self.write(on_disk, doc.content)
        self.base[key] = BaseFile(sha(doc.content), doc_id, doc.version)


class TwoDevices(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = Server()
        self.devices = [Device("laptop"), Device("desktop")]
        self.counter = itertools.count(1)
        self.wanted: set[str] = set()
        """Contents a person wrote and has not removed since."""
        self.since_change: list[int] = []
        """The devices that synced since a person last changed something, in order."""

    def _content(self, device: int) -> str:
        return f"{self.devices[device].name}-{next(self.counter)}"

    def _changed(self) -> None:
        self.since_change = []

    def _removed(self, content: str) -> None:
        self.wanted.discard(content)

    # --- what people do --------------------------------------------------------------------
    @rule(device=st.integers(0, 1), folder=st.sampled_from(FOLDERS), name=st.sampled_from(NAMES))
    def create(self, device: int, folder: str, name: str) -> None:
        dev = self.devices[device]
        path = folder + name
        if path in dev.files or not dev.can_hold(path):
            return
        content = self._content(device)
        dev.write(path, content)
        self.wanted.add(content)
        self._changed()

    @rule(folder=st.sampled_from(FOLDERS), name=st.sampled_from(NAMES), nfd=st.booleans())
    def create_on_both(self, folder: str, name: str, nfd: bool) -> None:
        """The same name written on both devices before either syncs, spelled NFC on one and,
        with `nfd`, NFD on the other (macOS against Windows or Linux)."""
        spellings = [folder + name, unicodedata.normalize("NFD" if nfd else "NFC", folder + name)]
        for device, path in enumerate(spellings):
            dev = self.devices[device]
            if any(key_of(p) == key_of(path) for p in dev.files) or not dev.can_hold(path):
                continue
            content = self._content(device)
            dev.write(path, content)
            self.wanted.add(content)
        self._changed()

    def _pick(self, device: int, data: st.DataObject) -> str | None:
        files = sorted(self.devices[device].files)
        return data.draw(st.sampled_from(files)) if files else None

    @rule(device=st.integers(0, 1), data=st.data(), how=st.sampled_from(["modify", "append", "truncate"]))
    def edit(self, device: int, data: st.DataObject, how: str) -> None:
        dev = self.devices[device]
        path = self._pick(device, data)
        if path is None:
            return
        old = dev.files[path]
        new = {"modify": self._content(device), "append": f"{old}+{next(self.counter)}", "truncate": ""}[how]
        self._removed(old)
        dev.files[path] = new
        if new:
            self.wanted.add(new)
        self._changed()

    @rule(device=st.integers(0, 1), data=st.data())
    def delete(self, device: int, data: st.DataObject) -> None:
        dev = self.devices[device]
        path = self._pick(device, data)
        if path is None:
            return
        self._removed(dev.files.pop(path))
        self._changed()

    @rule(device=st.integers(0, 1), data=st.data(), folder=st.sampled_from(FOLDERS), name=st.sampled_from(NAMES))
    def rename_or_move(self, device: int, data: st.DataObject, folder: str, name: str) -> None:
        dev = self.devices[device]
        path = self._pick(device, data)
        if path is None or folder + name in dev.files or not dev.can_hold(folder + name):
            return
        dev.rename(path, folder + name)
        self._changed()

    @rule(device=st.integers(0, 1), data=st.data())
    def file_becomes_folder(self, device: int, data: st.DataObject) -> None:
        """`x` is replaced by a folder `x/` holding `inside.txt`."""
        dev = self.devices[device]
        path = self._pick(device, data)
        if path is None:
            return
        self._removed(dev.files.pop(path))
        content = self._content(device)
        dev.files[f"{path}/inside.txt"] = content
        self.wanted.add(content)
        self._changed()

    @rule(
        device=st.integers(0, 1),
        folder=st.sampled_from(["d", "e", "d/e", NFD_E]),
        how=st.sampled_from(["file", "delete", "rename"]),
    )
    def change_folder(self, device: int, folder: str, how: str) -> None:
        """A folder deleted, renamed (to `moved/...`), or replaced by a file of its name."""
        dev = self.devices[device]
        inside = [p for p in dev.files if p.startswith(folder + "/")]
        if not inside:
            return
        moved = {p: "moved/" + p for p in inside}
        if how == "rename" and any(not dev.can_hold(m) or m in dev.files for m in moved.values()):
            return
        for p in inside:
            content = dev.files.pop(p)
            if how == "rename":
                dev.files[moved[p]] = content
            else:
                self._removed(content)
        if how == "file" and dev.can_hold(folder):
            content = self._content(device)
            dev.files[folder] = content
            self.wanted.add(content)
        self._changed()

    @rule(device=st.integers(0, 1), folder=st.sampled_from(["empty", "d/empty"]))
    def empty_folder(self, device: int, folder: str) -> None:
        dev = self.devices[device]
        if dev.can_hold(folder):
            dev.folders.add(folder)

    # --- syncs -------------------------------------------------------------------------------
    @rule(device=st.integers(0, 1))
    def sync(self, device: int) -> None:
        errors = self.devices[device].sync(self.server)
        assert errors == [], errors
        self.since_change.append(device)

    @rule()
    def settle(self) -> None:
        """Both devices sync twice, one after the other: they must then agree."""
        for _ in range(2):
            for device in (0, 1):
                self.sync(device)
        self.check_converged()

    # --- what must hold ----------------------------------------------------------------------
    def contents(self, device: Device) -> set[str]:
        return set(device.files.values())

    @invariant()
    def nothing_wanted_is_lost(self) -> None:
        everywhere = self.contents(self.devices[0]) | self.contents(self.devices[1])
        everywhere |= {d.content for d in self.server.live().values()}
        assert self.wanted <= everywhere, f"lost: {sorted(self.wanted - everywhere)}"

    @invariant()
    def converged_once_both_have_synced_twice(self) -> None:
        """One device, then the other, then the first again (x, y, x in that order, with any
        other syncs between): every change has gone both ways."""
        h = self.since_change
        if 0 in h and 1 in h:
            first = h[0]
            other = h.index(1 - first)
            if first in h[other:]:
                self.check_converged()

    def check_converged(self) -> None:
        laptop, desktop = ({key_of(p): c for p, c in d.files.items()} for d in self.devices)
        server = {p: d.content for p, d in self.server.live().items()}
        assert laptop == desktop == server, (laptop, desktop, server)
        assert self.wanted <= self.contents(self.devices[0]) & self.contents(self.devices[1])


TwoDevices.TestCase.settings = settings(
    max_examples=int(os.environ.get("DOCSTORE_MODEL_EXAMPLES", "300")),
    stateful_step_count=30,
    derandomize=True,  # the same cases on every run (CI); the failing steps are printed, shrunk
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_two_devices_converge = TwoDevices.TestCase
