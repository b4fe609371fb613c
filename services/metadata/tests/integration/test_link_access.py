"""What the links service asks at each public link's creation and use (`POST /internal/links/access`,
issue 36), against the real servers: the account's access now (the owner; a grantee's permission;
nothing once the share ends or the document is trashed), the accounts' state, the version, and a
signed URL that gives the right bytes as an attachment and expires. Services only."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


async def _document(metadata: Harness, body: bytes = b"the report's bytes", *, name: str = "report.txt") -> str:
    event = await metadata.stored(body, filename=name)
    await metadata.record(event)
    return str(event.document_id)


async def _access(metadata: Harness, document_id: str, account_id: str | None = None, **body: Any) -> Any:
    payload = {"document_id": document_id, "account_id": account_id or metadata.account_id, **body}
    answer = await metadata.http.post("/internal/links/access", json=payload, headers=metadata.service_headers("links"))
    assert answer.status_code == 200, answer.text
    return answer.json()["grant"]


async def test_the_answer_follows_the_right_as_it_is_now(metadata: Harness) -> None:
    document_id = await _document(metadata)
    grantee = (await metadata.account("grantee"))["account_id"]
    owner = await _access(metadata, document_id)
    assert (owner["access"], owner["owner_id"], owner["name"], owner["trashed"]) == (
        "owner",
        metadata.account_id,
        "report.txt",
        False,
    )
    assert owner["accounts_active"] and owner["verified"] and owner["served"]["number"] == 1
    assert (await _access(metadata, document_id, grantee))["access"] is None
    await metadata.services.reads.sharing.share(document_id, metadata.account_id, grantee, "edit")
    assert (await _access(metadata, document_id, grantee))["access"] == "edit"
    assert (await _access(metadata, document_id, version=7))["served"] is None  # no such version
    assert await _access(metadata, str(uuid.uuid4())) is None  # no such document

    assert (await metadata.http.delete(f"/documents/{document_id}", headers=metadata.headers())).status_code == 204
    assert (await _access(metadata, document_id, grantee))["access"] is None  # a grantee sees no trash
    trashed = await _access(metadata, document_id, serve="download")
    assert trashed["trashed"] and trashed["served"]["download_url"] is None

    # Services only: an account's identity, or none, is refused.
    body = {"document_id": document_id, "account_id": metadata.account_id}
    for headers in (metadata.headers(), {}):
        answer = await metadata.http.post("/internal/links/access", json=body, headers=headers)
        assert answer.status_code in (401, 403), answer.text


async def test_the_signed_url_gives_the_version_s_bytes_as_an_attachment_and_expires(metadata: Harness) -> None:
    body = b"%PDF-1.4 exactly these bytes " + uuid.uuid4().bytes
    document_id = await _document(metadata, body, name="Q3 report.pdf")
    await metadata.record(await metadata.stored(b"version two", document_id=document_id))
    # The bytes through a URL that lives long enough for a loaded machine; the expiry through a
    # 1-second one (a GET more than a second after signing would get 403 before its check).
    first = (await _access(metadata, document_id, version=1, serve="download", url_seconds=60))["served"]
    assert first["number"] == 1 and first["preview_url"] is None
    short = (await _access(metadata, document_id, version=1, serve="download", url_seconds=1))["served"]
    url = short["download_url"]
    assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) == 1
    async with httpx.AsyncClient() as plain:
        got = await plain.get(first["download_url"])
        assert got.status_code == 200 and got.content == body
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "Q3%20report.pdf" in got.headers["content-disposition"]
        latest = (await _access(metadata, document_id, serve="download"))["served"]
        assert latest["number"] == 2 and (await plain.get(latest["download_url"])).content == b"version two"
        deadline = time.monotonic() + 60
        while (await plain.get(url)).status_code != 403:
            assert time.monotonic() < deadline, "the signed URL kept working"
            await asyncio.sleep(0.5)
