"""Documents, versions, trash and sync through the gateway, on the real servers.

Needs the e2e system started with `METADATA_FREE_VERSION_CAP=3` (retention after a few versions).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config

from docstore_metadata.adapters.storage import ObjectStore

from .conftest import eventually, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FREE_VERSION_CAP = 3


async def put(
    api: httpx.AsyncClient,
    user,
    name: str,
    data: bytes,
    *,
    content_type: str = "text/plain",
    complete: bool = True,
    **grant: object,
) -> dict:
    """Grant (with tags, path, document_id, base_version as given), POST to S3, complete."""
    granted = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={"filename": name, "size": len(data), "content_type": content_type, **grant},
    )
    assert granted.status_code == 201, granted.text
    form = granted.json()["form"]
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)})
    assert posted.status_code == 201, posted.text
    if not complete:
        return granted.json()
    done = await api.post(f"/v1/uploads/{granted.json()['upload_id']}/complete", headers=user.auth)
    assert done.status_code == 200, done.text
    return done.json()


async def listed(api, user, expected: int, **params: object) -> list[dict]:
    async def check():
        items = (await api.get("/v1/documents", params={"limit": 200, **params}, headers=user.auth)).json()["items"]
        return [items] if len(items) == expected else None  # truthy even when empty

    return (await eventually(check))[0]


async def document(api, user, document_id: str, version: int) -> dict:
    async def check():
        response = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
        return response.json() if response.status_code == 200 and response.json()["version"] == version else None

    return await eventually(check)


async def test_listing_search_details_and_trash(api) -> None:
    user = await sign_up(api)
    files = [
        ("beta.txt", b"b" * 30, "text/plain", ["work"], "/docs"),
        ("Alpha.pdf", b"a" * 10, "application/pdf", ["work", "tax"], "/docs"),
        ("gamma notes.txt", b"g" * 20, "text/plain", ["home"], "/"),
        ("delta.csv", b"d" * 40, "text/csv", [], "/"),
    ]
    ids = {}
    for name, data, content_type, tags, path in files:
        ids[name] = (await put(api, user, name, data, content_type=content_type, tags=tags, path=path))["document_id"]
    await listed(api, user, 4)

    # Sorting and cursor pagination.
    names, cursor = [], None
    while True:
        params = {"sort": "name", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await api.get("/v1/documents", params=params, headers=user.auth)).json()
        names += [d["name"] for d in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert names == ["Alpha.pdf", "beta.txt", "delta.csv", "gamma notes.txt"]
    by_size = (await api.get("/v1/documents", params={"sort": "size", "order": "asc"}, headers=user.auth)).json()
    assert [d["size"] for d in by_size["items"]] == [10, 20, 30, 40]
    newest = (await api.get("/v1/documents", params={"limit": 1}, headers=user.auth)).json()
    assert newest["items"][0]["name"] == "delta.csv"
    wrong = await api.get("/v1/documents", params={"sort": "size", "cursor": newest["next_cursor"]}, headers=user.auth)
    assert wrong.status_code == 422 and wrong.json()["type"] == "urn:docstore:problem:invalid-cursor"
    folder = (await api.get("/v1/documents", params={"path": "/docs", "sort": "name"}, headers=user.auth)).json()
    assert [d["name"] for d in folder["items"]] == ["Alpha.pdf", "beta.txt"]

    # Metadata search.
    async def search(**params: object) -> list[str]:
        response = await api.get("/v1/documents/search", params=params, headers=user.auth)
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json()["items"])

    assert await search(name="al") == ["Alpha.pdf"]
    assert await search(name="a no", name_match="substring") == ["gamma notes.txt"]
    assert await search(tags="work") == ["Alpha.pdf", "beta.txt"]
    assert await search(tags="work,tax") == ["Alpha.pdf"]
    assert await search(content_type="text/csv") == ["delta.csv"]
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(await search(created_from=hour_ago)) == 4
    assert await search(modified_to=hour_ago) == []

    # Rename, re-tag, move.
    beta = ids["beta.txt"]
    changed = await api.patch(
        f"/v1/documents/{beta}",
        headers=user.auth,
        json={"name": "Beta final.txt", "tags": ["done"], "path": "/archive"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["tags"], changed.json()["path"]) == (
        "Beta final.txt",
        ["done"],
        "/archive",
    )
    assert (await api.patch(f"/v1/documents/{beta}", headers=user.auth, json={"name": "../x"})).status_code == 422
    assert await search(name="beta f") == ["Beta final.txt"]

    # Trash, restore, purge now; strangers see nothing.
    stranger = await sign_up(api)
    assert (await api.delete(f"/v1/documents/{beta}", headers=stranger.auth)).status_code == 404
    assert (await api.delete(f"/v1/documents/{beta}", headers=user.auth)).status_code == 204
    await listed(api, user, 3)
    trash = await listed(api, user, 1, trashed="true")
    assert trash[0]["document_id"] == beta and trash[0]["trashed"]
    assert (await api.post(f"/v1/documents/{beta}/restore", headers=user.auth)).status_code == 200
    await listed(api, user, 4)
    assert (await api.delete(f"/v1/documents/{beta}", headers=user.auth)).status_code == 204
    assert (
        await api.delete(f"/v1/documents/{beta}", params={"permanent": "true"}, headers=user.auth)
    ).status_code == 204
    assert (await api.get(f"/v1/documents/{beta}", headers=user.auth)).status_code == 404
    await listed(api, user, 0, trashed="true")


async def test_download_url_works_and_expires(api, endpoints) -> None:
    user = await sign_up(api)
    data = b"the bytes of a small report\n"
    done = await put(api, user, "Q1 report.txt", data)
    await document(api, user, done["document_id"], 1)
    link = (await api.get(f"/v1/documents/{done['document_id']}/download", headers=user.auth)).json()
    assert link["expires_in"] == 300
    async with httpx.AsyncClient() as client:
        fetched = await client.get(link["url"])
        assert fetched.status_code == 200 and fetched.content == data
        assert "Q1%20report.txt" in fetched.headers["content-disposition"]

        # The same signing helper (SigV4, path style, as the services build it), for one second:
        # accepted first, refused once it has passed.
        bucket, key = unquote(urlsplit(link["url"]).path).lstrip("/").split("/", 1)
        signer = boto3.client(
            "s3",
            endpoint_url=endpoints.s3_endpoint,
            region_name="us-west-2",
            aws_access_key_id=endpoints.s3_access_key,
            aws_secret_access_key=endpoints.s3_secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        store = ObjectStore(client=None, signer=signer)
        same = await store.download_url(bucket=bucket, key=key, filename="Q1 report.txt", expires_in=300)
        assert (await client.get(same)).status_code == 200
        short = await store.download_url(bucket=bucket, key=key, filename="Q1 report.txt", expires_in=1)

        async def refused() -> bool:
            return (await client.get(short)).status_code == 403

        await eventually(refused, timeout=60)


async def test_versions_restore_conflict_copy_and_retention(api) -> None:
    user = await sign_up(api)
    v1 = await put(api, user, "plan.txt", b"version one\n", path="/p")
    doc_id = v1["document_id"]
    await document(api, user, doc_id, 1)
    await put(api, user, "plan.txt", b"version two!\n", document_id=doc_id, base_version=1)
    await document(api, user, doc_id, 2)

    history = (await api.get(f"/v1/documents/{doc_id}/versions", headers=user.auth)).json()
    assert [v["version"] for v in history["items"]] == [2, 1] and history["next_cursor"] is None
    async with httpx.AsyncClient() as client:
        for number, body in ((1, b"version one\n"), (2, b"version two!\n")):
            link = (
                await api.get(f"/v1/documents/{doc_id}/download", params={"version": number}, headers=user.auth)
            ).json()
            assert (await client.get(link["url"])).content == body

    restored = await api.post(f"/v1/documents/{doc_id}/versions/1/restore", headers=user.auth)
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert restored.json()["sha256"] == hashlib.sha256(b"version one\n").hexdigest()

    # A stale base at grant time: 409 with the current version.
    stale = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={
            "filename": "plan.txt",
            "size": 5,
            "content_type": "text/plain",
            "document_id": doc_id,
            "base_version": 1,
        },
    )
    assert stale.status_code == 409, stale.text

    # Two grants from the same base both pass; the second to complete becomes a conflict copy.
    first = await put(api, user, "plan.txt", b"first wins\n", document_id=doc_id, base_version=3, complete=False)
    second = await put(api, user, "plan.txt", b"second is a copy\n", document_id=doc_id, base_version=3, complete=False)
    assert (await api.post(f"/v1/uploads/{first['upload_id']}/complete", headers=user.auth)).status_code == 200
    await document(api, user, doc_id, 4)
    assert (await api.post(f"/v1/uploads/{second['upload_id']}/complete", headers=user.auth)).status_code == 200
    copies = await listed(api, user, 2)
    copy = next(d for d in copies if d["document_id"] != doc_id)
    assert copy["name"].startswith("plan (conflict copy ") and copy["name"].endswith(").txt") and copy["path"] == "/p"
    feed = (await api.get("/v1/changes", headers=user.auth)).json()["items"]
    assert any(c["kind"] == "conflict" and c["document_id"] == copy["document_id"] for c in feed)

    # Retention: past the Free cap the oldest versions go, and their bytes leave the quota.
    await put(api, user, "plan.txt", b"five\n", document_id=doc_id, base_version=4)
    await document(api, user, doc_id, 5)
    versions = [
        v["version"] for v in (await api.get(f"/v1/documents/{doc_id}/versions", headers=user.auth)).json()["items"]
    ]
    assert versions == [5, 4, 3][:FREE_VERSION_CAP]

    async def usage_is(expected: int):
        usage = (await api.get("/v1/usage", headers=user.auth)).json()
        return usage if usage["used_bytes"] == expected else None

    # Left: v1's object (v3 points at it), v4, v5 and the conflict copy; v2's bytes were freed.
    await eventually(
        lambda: usage_is(len(b"version one\n") + len(b"first wins\n") + len(b"five\n") + len(b"second is a copy\n"))
    )


async def test_change_feed_long_poll_and_compare(api) -> None:
    user = await sign_up(api)
    done = await put(api, user, "sync.txt", b"synced\n", path="/s")

    async def created():
        body = (await api.get("/v1/changes", headers=user.auth)).json()
        return body if body["items"] else None

    body = await eventually(created)
    entry = body["items"][0]
    assert (entry["kind"], entry["path"], entry["name"], entry["version"], entry["sha256"]) == (
        "created",
        "/s",
        "sync.txt",
        1,
        done["sha256"],
    )

    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(
        api.get("/v1/changes", params={"cursor": body["next_cursor"], "wait": 20}, headers=user.auth)
    )
    await asyncio.sleep(1)
    assert not waiting.done()
    await api.patch(f"/v1/documents/{done['document_id']}", headers=user.auth, json={"name": "renamed.txt"})
    answer = (await waiting).json()
    assert loop.time() - started < 10
    assert [(c["kind"], c["name"]) for c in answer["items"]] == [("renamed", "renamed.txt")]
    assert answer["next_cursor"] != body["next_cursor"]
    # Through the gateway, `next` (a query-only link) resolves against /v1/changes and reads on from
    # there: it keeps `wait`, so it is held until the next change, which is all it answers (an empty
    # answer here took the whole 20 s wait).
    assert answer["next"].startswith("?") and "wait=" in answer["next"]
    started = loop.time()
    following = asyncio.create_task(api.get("/v1/changes" + answer["next"], headers=user.auth))
    await api.patch(f"/v1/documents/{done['document_id']}", headers=user.auth, json={"name": "final.txt"})
    after = (await following).json()
    assert loop.time() - started < 10
    assert [(c["kind"], c["name"]) for c in after["items"]] == [("renamed", "final.txt")]
    assert after["next_cursor"] not in (body["next_cursor"], answer["next_cursor"])

    compared = await api.post(
        "/v1/sync/compare",
        headers=user.auth,
        json={
            "files": [
                {"path": "/s/final.txt", "sha256": done["sha256"]},
                {"path": "/elsewhere.txt", "sha256": "0" * 64},
            ]
        },
    )
    assert compared.status_code == 200, compared.text
    assert [f["status"] for f in compared.json()["files"]] == ["same", "unknown_on_server"]
    await put(api, user, "server-only.txt", b"x")
    await listed(api, user, 2)
    again = (await api.post("/v1/sync/compare", headers=user.auth, json={"files": []})).json()
    assert sorted(d["path"] for d in again["only_on_server"]) == ["/s/final.txt", "/server-only.txt"]
