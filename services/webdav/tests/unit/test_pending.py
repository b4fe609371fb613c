"""A PUT answered before metadata shows it (domain/pending.py): which methods see the pending write,
which wait for metadata's own record, and when it is forgotten. Fakes for metadata and the store."""

from __future__ import annotations

from typing import Any

import pytest
from wsgidav.dav_error import DAVError

from docstore_webdav.domain.pending import recorded, shown
from docstore_webdav.service_layer.provider import ACCOUNT, DocStoreProvider, Document

ACC = "acc"


def test_recorded_means_that_document_at_a_newer_version() -> None:
    new = {"document_id": "d1", "base_version": None}
    assert not recorded(new, None)
    assert not recorded(new, {"document_id": "d2", "version": 1})
    assert recorded(new, {"document_id": "d1", "version": 1})
    overwrite = {"document_id": "d1", "base_version": 3}
    assert not recorded(overwrite, {"document_id": "d1", "version": 3})
    assert recorded(overwrite, {"document_id": "d1", "version": 4})


def test_shown_is_the_written_bytes_at_the_next_version() -> None:
    doc = shown(
        {"document_id": "d1", "sha256": "ab", "size": 7, "base_version": 2, "written_at": "2026-01-01T00:00:00+00:00"},
        "a.txt",
    )
    assert (doc["document_id"], doc["sha256"], doc["size"], doc["version"], doc["name"]) == ("d1", "ab", 7, 3, "a.txt")
    assert doc["modified_at"] == "2026-01-01T00:00:00+00:00"
    assert doc["pending"] is True


class Metadata:
    """What metadata shows: documents by id, and which id a (folder, name) holds."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.names: dict[tuple[str, str], str] = {}
        self.reads = 0
        self.record_after: int | None = None
        """Record `later` once this many reads of documents have been made."""
        self.later: tuple[str, str, dict[str, Any]] | None = None
        self.folders: set[str] = set()
        self.asked: list[str] = []
        """The calls made, in order: `folder <path>`, `at <path>`, `document <id>`."""

    def folder_at(self, account_id: str, path: str) -> dict[str, Any] | None:
        self.asked.append(f"folder {path}")
        return {"folder_id": path, "name": path.rsplit("/", 1)[-1]} if path in self.folders else None

    def what_is_at(self, account_id: str, path: str) -> dict[str, Any] | None:
        self.asked.append(f"at {path}")
        if path in self.folders:
            return {"folder": {"folder_id": path, "name": path.rsplit("/", 1)[-1]}, "document": None}
        folder, _, name = path.rpartition("/")
        document_id = self.names.get((folder or "/", name))
        return {"folder": None, "document": self.docs[document_id]} if document_id else None

    def document(self, account_id: str, document_id: str) -> dict[str, Any] | None:
        self.asked.append(f"document {document_id}")
        self.reads += 1
        if self.later and self.record_after is not None and self.reads >= self.record_after:
            self.record(*self.later)
        return self.docs.get(document_id)

    def record(self, folder: str, name: str, doc: dict[str, Any]) -> None:
        self.docs[doc["document_id"]] = {**doc, "path": folder, "name": name, "trashed": False}
        self.names = {place: i for place, i in self.names.items() if i != doc["document_id"]}
        self.names[(folder, name)] = doc["document_id"]


class Store:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def put(self, account_id: str, folder: str, name: str, write: dict[str, Any]) -> dict[str, Any]:
        row = {**write, "_id": f"{account_id}:{folder}/{name}", "account_id": account_id, "folder": folder}
        self.rows[row["_id"]] = row
        return row

    def get(self, account_id: str, folder: str, name: str) -> dict[str, Any] | None:
        return self.rows.get(f"{account_id}:{folder}/{name}")

    def under(self, account_id: str, folder: str, *, deep: bool) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if r["folder"] == folder or (deep and r["folder"].startswith(folder))]

    def drop(self, row: dict[str, Any]) -> None:
        self.rows.pop(row["_id"], None)


@pytest.fixture
def world() -> tuple[DocStoreProvider, Metadata, Store]:
    metadata, store = Metadata(), Store()
    provider = DocStoreProvider(metadata, None, complete_wait_seconds=1.0, pending=store)  # type: ignore[arg-type]
    store.put(ACC, "/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "base_version": None})
    return provider, metadata, store


def lookup(provider: DocStoreProvider, method: str, *parts: str) -> Any:
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": method, "wsgidav.provider": provider}
    return provider._lookup(ACC, parts, environ)


def test_a_propfind_or_head_sees_the_pending_write(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, _, store = world
    for method in ("PROPFIND", "HEAD"):
        found = lookup(provider, method, "f", "a.txt")
        assert isinstance(found, Document) and found.doc is not None
        assert (found.get_content_length(), found.doc["sha256"]) == (5, "new")
    assert store.rows  # still pending: metadata does not show it


def test_once_metadata_shows_it_the_pending_write_is_forgotten(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, metadata, store = world
    metadata.record("/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 1})
    found = lookup(provider, "PROPFIND", "f", "a.txt")
    assert found.doc.get("pending") is None and found.doc["version"] == 1
    assert not store.rows


def test_a_get_waits_for_metadatas_record(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, metadata, store = world
    metadata.later = ("/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 1})
    metadata.record_after = 3  # recorded while the GET waits
    found = lookup(provider, "GET", "f", "a.txt")
    assert found.doc.get("pending") is None and found.doc["version"] == 1
    assert metadata.reads >= 3 and not store.rows


def test_a_get_is_503_when_the_record_does_not_come(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, _, store = world
    provider.complete_wait_seconds = 0.05
    with pytest.raises(DAVError) as raised:
        lookup(provider, "DELETE", "f", "a.txt")
    assert raised.value.value == 503
    assert store.rows  # still pending: the write is durable, its record late


def test_an_overwrite_is_shown_until_its_version_is_recorded(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, metadata, store = world
    metadata.record("/f", "a.txt", {"document_id": "d1", "sha256": "old", "size": 3, "version": 2})
    store.put(ACC, "/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "base_version": 2})
    assert lookup(provider, "PROPFIND", "f", "a.txt").doc["sha256"] == "new"
    metadata.record("/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 3})
    assert lookup(provider, "PROPFIND", "f", "a.txt").doc["version"] == 3
    assert not store.rows


def test_a_listing_waits_for_the_folders_pending_writes(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, metadata, store = world
    metadata.later = ("/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 1})
    metadata.record_after = 2
    provider.settle_pending(ACC, "/other", deep=False)
    assert store.rows and metadata.reads == 0  # another folder's listing does not wait
    provider.settle_pending(ACC, "/f", deep=False)
    assert not store.rows and metadata.reads >= 2


def test_a_propfind_of_a_pending_write_reads_only_that_document(
    world: tuple[DocStoreProvider, Metadata, Store],
) -> None:
    """rclone's PROPFIND right after its PUT: one read of the document by its id, no lookup of the
    path, while metadata does not show it, and once it does (that read is the answer)."""
    provider, metadata, store = world
    assert lookup(provider, "PROPFIND", "f", "a.txt").doc["pending"] is True
    assert metadata.asked == ["document d1"]
    metadata.asked.clear()
    metadata.record("/f", "a.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 1})
    assert lookup(provider, "PROPFIND", "f", "a.txt").doc["version"] == 1
    assert metadata.asked == ["document d1"] and not store.rows


@pytest.mark.parametrize("method", ["PROPFIND", "GET"])
def test_a_recorded_write_moved_away_meanwhile_is_looked_up_at_its_path(
    world: tuple[DocStoreProvider, Metadata, Store], method: str
) -> None:
    """Another client renamed the document before this read: the path is looked up as any other,
    and what holds it now (here nothing) is the answer, not the document read by its id."""
    provider, metadata, store = world
    metadata.record("/f", "b.txt", {"document_id": "d1", "sha256": "new", "size": 5, "version": 1})
    assert lookup(provider, method, "f", "a.txt") is None
    assert metadata.asked == ["document d1", "at /f/a.txt"] and not store.rows


def test_a_put_asks_for_its_parent_and_its_name_while_the_folder_lookup_runs(
    world: tuple[DocStoreProvider, Metadata, Store],
) -> None:
    """A PUT (WsgiDAV looks up the target, then its parent) finds its parent in the request's cache,
    asked for at the same time as the target; the parent is not asked twice."""
    provider, metadata, _ = world
    metadata.folders.add("/g")
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": "PUT", "wsgidav.provider": provider}
    assert provider.get_resource_inst(f"/{ACC}/g/new.txt", environ) is None
    parent = provider.get_resource_inst(f"/{ACC}/g", environ)
    assert parent.is_collection and parent.folder["folder_id"] == "/g"
    assert sorted(metadata.asked) == ["at /g/new.txt", "folder /g"]


def test_a_missing_parent_is_looked_up_again_as_usual(world: tuple[DocStoreProvider, Metadata, Store]) -> None:
    provider, metadata, _ = world
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": "PUT", "wsgidav.provider": provider}
    assert provider.get_resource_inst(f"/{ACC}/nowhere/new.txt", environ) is None
    assert provider.get_resource_inst(f"/{ACC}/nowhere", environ) is None  # 409 in WsgiDAV
    assert [asked for asked in metadata.asked if asked.endswith(" /nowhere")] == ["folder /nowhere", "at /nowhere"]


def test_a_large_put_answers_once_its_parts_are_joined_not_after_the_read_back() -> None:
    """A multipart upload is durable once upload answers `verifying` (S3 joined the parts; upload's
    watcher finishes the read-back whatever dies): the PUT answers then, its pending write showing
    the sha256 of the bytes sent, and does not poll upload while the object is read back."""
    import hashlib
    import time
    from types import SimpleNamespace

    class Joined(Metadata):
        def complete_now(self, account_id: str, upload_id: str, *, sent: Any = None) -> dict[str, Any]:
            return {"upload_id": upload_id, "status": "verifying"}

        def upload_state(self, account_id: str, upload_id: str) -> dict[str, Any]:
            raise AssertionError("the PUT waited for upload's read-back")

    store = Store()
    provider = DocStoreProvider(Joined(), None, complete_wait_seconds=1.0, pending=store)  # type: ignore[arg-type]
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": "PUT", "wsgidav.provider": provider}
    document = Document(provider, ACC, ("f", "big.bin"), None, environ)
    sent = hashlib.sha256(b"the bytes sent")
    writer = SimpleNamespace(
        upload_id="up1", document_id="d9", deduplicated=False, size=14, sha256=sent, sent=lambda: None
    )
    assert document._complete_pending(writer, time.perf_counter()) == "d9"  # type: ignore[arg-type]
    assert store.get(ACC, "/f", "big.bin")["sha256"] == sent.hexdigest()  # type: ignore[index]
    assert document.doc is not None and document.doc["pending"] is True
