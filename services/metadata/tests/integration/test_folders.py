"""Folders over HTTP against the real servers (issue 37): create, list (empty ones too), move a
folder of more documents than one batch, clashes with their choices, another account's ids,
moving into itself, trash and restore as a whole."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from docstore_events import FileDetailsChanged, FileRestored, FileTrashed
from docstore_events.folders import FolderMoved

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

MANY = 130
BATCH = 50  # so a move takes three batches (METADATA_FOLDER_BATCH is 200)


async def _record_many(metadata: Harness, path: str, count: int) -> list[str]:
    events = [await metadata.stored(b"x", filename=f"f{i:04}.txt", path=path, put=False) for i in range(count)]
    await metadata.services.documents.record_uploads_once([(uuid.uuid4().hex, e) for e in events])
    return [e.document_id for e in events]


async def _folders(metadata: Harness, path: str = "/", **params: Any) -> list[dict[str, Any]]:
    answer = await metadata.get("/folders", path=path, **params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_folder_of_many_documents_moves_in_one_request_and_comes_back_from_the_trash_as_a_whole(
    metadata: Harness,
) -> None:
    folders = metadata.services.folders
    folders.limits = dataclasses.replace(folders.limits, batch=BATCH)
    ids = await _record_many(metadata, "/big/inner", MANY)
    http, headers = metadata.http, metadata.headers()
    made = await http.post("/folders", json={"parent": "/", "name": "dst"}, headers=headers)
    assert made.status_code == 201, made.text
    empty = await http.post("/folders", json={"parent": "/dst", "name": "empty"}, headers=headers)
    assert empty.status_code == 201, empty.text
    assert [f["path"] for f in await _folders(metadata)] == ["/big", "/dst"]
    big = (await metadata.get("/folders/at", path="/big")).json()

    moved = await http.patch(f"/folders/{big['folder_id']}", json={"parent": "/dst", "name": "big2"}, headers=headers)

    assert moved.status_code == 200, moved.text
    assert (moved.json()["path"], moved.json()["moving"]) == ("/dst/big2", False)
    assert [f["path"] for f in await _folders(metadata, "/dst")] == ["/dst/big2", "/dst/empty"]
    page = (await metadata.get("/documents", path="/dst/big2/inner", limit=100)).json()
    assert len(page["items"]) == 100 and page["next_cursor"]
    assert (await metadata.get("/documents", path="/big/inner")).json()["items"] == []
    details = [e for e in await metadata.emitted(FileDetailsChanged) if e.folder_id == big["folder_id"]]
    assert sorted(e.document_id for e in details) == sorted(ids) and {e.path for e in details} == {"/dst/big2/inner"}
    [event] = await metadata.emitted(FolderMoved)
    assert (event.from_path, event.path, event.documents) == ("/big", "/dst/big2", MANY)
    feed = (await metadata.get("/changes", limit=1000)).json()["items"]
    folder_entries = [c for c in feed if c["kind"].startswith("folder-")]
    assert [(c["kind"], c.get("from_path"), c["path"]) for c in folder_entries][-1] == (
        "folder-moved",
        "/big",
        "/dst/big2",
    )
    assert not [c for c in feed if c["kind"] == "moved"]  # one entry for the folder, none per document

    trashed = await http.delete(f"/folders/{big['folder_id']}", headers=headers)
    assert trashed.status_code == 204, trashed.text
    assert [f["path"] for f in await _folders(metadata, trashed="true")] == ["/dst/big2"]
    assert (await metadata.get("/documents", path="/dst/big2/inner")).json()["items"] == []
    assert len([e for e in await metadata.emitted(FileTrashed) if e.folder_id == big["folder_id"]]) == MANY

    restored = await http.post(f"/folders/{big['folder_id']}/restore", headers=headers)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["path"], restored.json()["trashed"]) == ("/dst/big2", False)
    assert len((await metadata.get("/documents", path="/dst/big2/inner", limit=100)).json()["items"]) == 100
    assert len([e for e in await metadata.emitted(FileRestored) if e.folder_id == big["folder_id"]]) == MANY


async def test_clashes_answer_409_with_the_choices_and_another_accounts_folder_is_404(metadata: Harness) -> None:
    http, headers = metadata.http, metadata.headers()
    [doc] = await _record_many(metadata, "/", 1)  # "f0000.txt" in the top folder
    one = (await http.post("/folders", json={"parent": "/", "name": "one"}, headers=headers)).json()
    clash = await http.post("/folders", json={"parent": "/", "name": "f0000.txt"}, headers=headers)
    assert clash.status_code == 409, clash.text
    body = clash.json()
    assert body["type"] == "urn:docstore:problem:name-taken"
    assert body["clash"] == {"path": "/", "name": "f0000.txt", "kind": "document", "id": doc}
    assert body["choices"] == ["keep_both", "skip"] and body["keep_both_name"] == "f0000 2.txt"
    onto = await http.patch(f"/documents/{doc}", json={"name": "one"}, headers=headers)
    assert onto.status_code == 409 and onto.json()["clash"]["kind"] == "folder", onto.text
    kept = await http.patch(f"/documents/{doc}", json={"name": "one", "on_clash": "keep_both"}, headers=headers)
    assert kept.status_code == 200 and kept.json()["name"] == "one 2", kept.text
    into_itself = await http.patch(f"/folders/{one['folder_id']}", json={"parent": "/one/deeper"}, headers=headers)
    assert into_itself.status_code == 422, into_itself.text

    stranger = metadata.headers(f"acc-{uuid.uuid4().hex[:12]}")
    for method, url, body_json in (
        ("GET", f"/folders/{one['folder_id']}", None),
        ("PATCH", f"/folders/{one['folder_id']}", {"name": "mine"}),
        ("DELETE", f"/folders/{one['folder_id']}", None),
        ("POST", f"/folders/{one['folder_id']}/restore", None),
    ):
        answer = await http.request(method, url, json=body_json, headers=stranger)
        assert answer.status_code == 404, (method, url, answer.text)
    assert (await http.get("/folders", params={"path": "/"}, headers=stranger)).json()["items"] == []
    assert (await metadata.get(f"/folders/{one['folder_id']}")).json()["path"] == "/one"


async def test_a_path_resolves_to_its_folder_or_its_live_document_in_one_request(metadata: Harness) -> None:
    [document_id] = await _record_many(metadata, "/a/b", 1)

    folder = await metadata.get("/paths/at", path="/a/b")
    document = await metadata.get("/paths/at", path="/a/b/f0000.txt")

    assert folder.status_code == 200 and document.status_code == 200, (folder.text, document.text)
    assert (folder.json()["folder"]["path"], folder.json()["document"]) == ("/a/b", None)
    found = document.json()["document"]
    assert (found["document_id"], found["path"], found["name"], document.json()["folder"]) == (
        document_id,
        "/a/b",
        "f0000.txt",
        None,
    )
    assert found == (await metadata.get(f"/documents/{document_id}")).json()  # the same answer as by id
    for nothing in ("/a/b/F0000.TXT", "/a/b/other.txt", "/a/c", "/"):  # names are exact; the root is no row
        missing = await metadata.get("/paths/at", path=nothing)
        assert missing.status_code == 404 and missing.json()["detail"], (nothing, missing.text)
    trashed = await metadata.http.delete(f"/documents/{document_id}", headers=metadata.headers())
    assert trashed.status_code in (200, 202, 204), trashed.text
    assert (await metadata.get("/paths/at", path="/a/b/f0000.txt")).status_code == 404  # trashed: not live
