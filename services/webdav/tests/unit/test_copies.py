"""A collection's COPY (issue 38): a folder copied to a new place copies its documents through
upload's batch grant, 100 at a time, not one grant and one wait per document; each member's own
call then only reports how its copy went. Fakes for metadata, upload and the facts store."""

from __future__ import annotations

from typing import Any

import pytest
from wsgidav.dav_error import HTTP_INSUFFICIENT_STORAGE, DAVError

from docstore_webdav.adapters.backend import BackendError
from docstore_webdav.service_layer.provider import ACCOUNT, COPIED, DocStoreProvider, Document, Folder

ACC = "acc"


class Services:
    """Metadata's folders and documents, and upload's batch grant (dedupe answers at once)."""

    def __init__(self) -> None:
        self.made: set[str] = {"/src", "/src/sub"}
        self.docs: dict[str, dict[str, Any]] = {}
        self.batches: list[list[dict[str, Any]]] = []
        self.listed: dict[str, int] = {}
        self.reads = 0
        self.refuse: dict[str, BackendError] = {}
        """Names whose batch item upload refuses, with the item's problem."""

    def add(self, folder: str, name: str, size: int = 5) -> None:
        doc_id = f"d{len(self.docs)}"
        self.docs[doc_id] = {"document_id": doc_id, "name": name, "path": folder, "size": size,
                             "content_type": "text/plain", "sha256": f"sha-{name}", "version": 1}  # fmt: skip

    def folder_at(self, account_id: str, path: str) -> dict[str, Any] | None:
        return {"folder_id": path, "name": path.rsplit("/", 1)[-1]} if path in self.made else None

    def create_folder(self, account_id: str, parent: str, name: str) -> dict[str, Any]:
        path = f"{parent.rstrip('/')}/{name}"
        assert parent in self.made or parent == "/", f"{path} made before its parent"
        self.made.add(path)
        return {"folder_id": path, "name": name}

    def folders_in(self, path: str) -> list[str]:
        return sorted(f for f in self.made if f.rpartition("/")[0] == path)

    def folders(self, account_id: str, path: str, ahead: Any = None) -> Any:
        return iter([{"folder_id": f, "name": f.rsplit("/", 1)[-1]} for f in self.folders_in(path)])

    def documents(self, account_id: str, path: str, ahead: Any = None) -> Any:
        self.listed[path] = self.listed.get(path, 0) + 1
        return iter([d for d in self.docs.values() if d["path"] == path])

    def grant_many(self, account_id: str, grants: list[dict[str, Any]]) -> list[Any]:
        self.batches.append(grants)
        answers: list[Any] = []
        for grant in grants:
            if refused := self.refuse.get(grant["filename"]):
                answers.append(refused)
                continue
            before = len(self.docs)
            self.add(grant["path"], grant["filename"], grant["size"])
            answers.append({"deduplicated": True, "document_id": f"d{before}"})
        return answers

    def document(self, account_id: str, document_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.docs.get(document_id)


class Facts:
    """webdav's own store of the checksums and mtimes clients gave (every source document has some)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.calls: list[str] = []
        self.recorded: dict[str, tuple[str, dict[str, Any]]] = {}

    def many(self, account_id: str, ids: list[str]) -> dict[str, Any]:
        return {i: {"sha256": self.services.docs[i]["sha256"], "sha1": "1", "md5": "5"} for i in ids}

    def get(self, account_id: str, document_id: str, sha256: str) -> dict[str, Any]:
        self.calls.append("get")
        return {"sha256": sha256, "sha1": "1", "md5": "5"}

    def record(self, account_id: str, document_id: str, sha256: str, facts: dict[str, Any]) -> None:
        self.calls.append("record")
        self.recorded[document_id] = (sha256, facts)

    def record_many(self, account_id: str, facts: dict[str, tuple[str, dict[str, Any]]]) -> None:
        self.calls.append("record_many")
        self.recorded |= facts


@pytest.fixture
def services() -> Services:
    services = Services()
    for n in range(130):
        services.add("/src", f"f{n:03d}.txt")
    services.add("/src/sub", "deep.txt")
    return services


def copy(services: Services, **headers: str) -> tuple[Folder, dict[str, Any]]:
    provider = DocStoreProvider(services, Facts(services), complete_wait_seconds=1.0)  # type: ignore[arg-type]
    environ = {ACCOUNT: ACC, "REQUEST_METHOD": "COPY", "HTTP_DEPTH": "infinity", "wsgidav.provider": provider}
    environ |= headers
    root = Folder(provider, ACC, ("src",), {"folder_id": "/src"}, environ)
    root.copy_move_single(f"/{ACC}/dest/", is_move=False)
    return root, environ


def test_a_folder_copied_to_a_new_place_grants_its_documents_in_batches(services: Services) -> None:
    root, environ = copy(services)
    assert {"/dest", "/dest/sub"} <= services.made
    assert [len(batch) for batch in services.batches] == [100, 31]  # 131 documents, upload's limit 100
    copies = [d for d in services.docs.values() if d["path"].startswith("/dest")]
    assert len(copies) == 131 and {d["sha256"] for d in copies} == {f"sha-{d['name']}" for d in copies}
    assert all(grant["sha256"] == f"sha-{grant['filename']}" for batch in services.batches for grant in batch)
    # The copies keep the sources' checksums, written at once; each folder listed, not each document read.
    facts = root.provider.facts
    assert facts.calls == ["record_many"] and set(facts.recorded) == {d["document_id"] for d in copies}
    assert services.reads == 0 and services.listed == {"/src": 1, "/src/sub": 1, "/dest": 1, "/dest/sub": 1}
    # WsgiDAV then calls each member, top down: nothing more is asked of upload.
    for member in root.get_descendants(depth_first=False):
        member.copy_move_single(f"/{ACC}/dest/" + "/".join(member.parts[1:]), is_move=False)
    assert len(services.batches) == 2 and len(environ[COPIED]) == 132


def test_a_refused_document_fails_alone_and_one_too_large_for_a_batch_is_left_to_its_own_call(
    services: Services,
) -> None:
    services.refuse["f001.txt"] = BackendError(413, "no room", {"type": "urn:docstore:problem:no-room"})
    services.refuse["f002.txt"] = BackendError(422, "send it alone", {"type": "urn:docstore:problem:not-for-batch"})
    root, environ = copy(services)
    by_name = {m.parts[-1]: m for m in root.get_descendants(depth_first=False) if isinstance(m, Document)}
    with pytest.raises(DAVError) as refused:
        by_name["f001.txt"].copy_move_single(f"/{ACC}/dest/f001.txt", is_move=False)
    assert refused.value.value == HTTP_INSUFFICIENT_STORAGE
    assert by_name["f002.txt"].path not in environ[COPIED]  # its own call grants it alone
    assert environ[COPIED][by_name["f003.txt"].path] is None


def test_a_copy_with_an_if_header_is_left_to_webdav_one_member_at_a_time(services: Services) -> None:
    _, environ = copy(services, HTTP_IF="(<opaquelocktoken:x>)")
    assert services.batches == [] and COPIED not in environ
    assert "/dest" in services.made


def test_a_copy_onto_an_existing_folder_is_left_to_webdav_one_member_at_a_time(services: Services) -> None:
    services.made.add("/dest")
    _, environ = copy(services)
    assert services.batches == [] and COPIED not in environ
