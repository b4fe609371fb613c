"""Sending only what changed, with the real `docstore` client against the real system (region A of
docstore_devplatform.e2e): a second copy of a file sends nothing (dedupe), a large file with 1 MiB
changed in the middle sends about one part (delta), and an account's hash never finds another
account's bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.e2e import sign_up, upload
from docstore_devplatform.testing import eventually
from docstore_sync import cli
from docstore_sync.adapters.gateway import log_in
from docstore_sync.cli import save_session

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MIB = 1024 * 1024


async def login(system, user) -> None:
    """A saved session for `user` (the login command itself is tested in test_sync_client.py)."""
    from docstore_devplatform.e2e import PASSWORD

    session = await asyncio.to_thread(log_in, system.gateway, user.username, PASSWORD)
    save_session(session, user.username)


async def sync(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["sync", str(folder), "--json"])
    printed = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(printed[-1]) if printed else {}


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def remote_tree(api: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:
    page = (await api.get("/v1/documents", params={"limit": 200}, headers=auth)).json()
    return {(d["path"].rstrip("/") + "/" + d["name"]).lstrip("/"): d["sha256"] for d in page["items"]}


async def downloaded(api: httpx.AsyncClient, auth: dict[str, str], document_id: str) -> bytes:
    """The document's current bytes, through its signed download URL."""
    answer = await api.get(f"/v1/documents/{document_id}/download", headers=auth)
    assert answer.status_code == 200, answer.text
    async with httpx.AsyncClient(timeout=120) as s3:
        got = await s3.get(answer.json()["url"])
    assert got.status_code == 200
    return got.content


async def document_of(api: httpx.AsyncClient, auth: dict[str, str], name: str) -> dict:
    page = (await api.get("/v1/documents", params={"limit": 200}, headers=auth)).json()
    return next(d for d in page["items"] if d["name"] == name)


async def test_a_second_copy_of_a_file_sends_no_bytes(system, api, tmp_path, config, capsys):
    rng = random.Random(1901)
    user = await sign_up(api, plan="premium")
    await login(system, user)
    root = tmp_path / "a"
    small, large = rng.randbytes(300_000), rng.randbytes(9 * MIB)  # a batch upload and a multipart one
    write(root, "small.bin", small)
    write(root, "large.bin", large)
    code, first = await sync(root, capsys)
    assert code == 0, (first["errors"], first["warnings"])
    assert first["uploaded_bytes"] == len(small) + len(large) and first["deduplicated_bytes"] == 0

    (root / "copies").mkdir()
    shutil.copyfile(root / "small.bin", root / "copies" / "small copy.bin")
    shutil.copyfile(root / "large.bin", root / "copies" / "large copy.bin")
    code, second = await sync(root, capsys)
    assert code == 0, (second["errors"], second["warnings"])
    assert second["uploaded"] == 2
    assert second["uploaded_bytes"] == 0, second  # nothing travelled
    assert second["deduplicated_bytes"] == len(small) + len(large)

    remote = await remote_tree(api, user.auth)
    assert remote["copies/small copy.bin"] == hashlib.sha256(small).hexdigest()
    assert remote["copies/large copy.bin"] == hashlib.sha256(large).hexdigest()
    # The new document has bytes of its own in S3 (a server-side copy), exactly the file's.
    doc = await document_of(api, user.auth, "large copy.bin")
    assert await downloaded(api, user.auth, doc["document_id"]) == large
    # Quota counts what the versions reference: the copy counts like any upload.
    usage = (await api.get("/v1/usage", headers=user.auth)).json()
    assert usage["used_bytes"] >= 2 * (len(small) + len(large)), usage


async def test_a_large_file_with_one_mib_changed_sends_about_one_part(system, api, tmp_path, config, capsys):
    rng = random.Random(1902)
    user = await sign_up(api, plan="premium")
    await login(system, user)
    root = tmp_path / "a"
    size = 40 * MIB
    data = bytearray(rng.randbytes(size))
    write(root, "video.bin", bytes(data))
    code, first = await sync(root, capsys)
    assert code == 0, (first["errors"], first["warnings"])
    assert first["delta_bytes_saved"] == 0  # no previous version: a whole upload (with its chunk map)

    data[20 * MIB : 21 * MIB] = rng.randbytes(MIB)  # 1 MiB changed in the middle
    write(root, "video.bin", bytes(data))
    code, second = await sync(root, capsys)
    assert code == 0, (second["errors"], second["warnings"])
    sent = second["uploaded_bytes"]
    assert sent <= 0.03 * size + 5 * MIB, second  # the changed chunks, widened to S3's 5 MiB part at most
    assert second["delta_bytes_saved"] == size - sent > 30 * MIB

    doc = await document_of(api, user.auth, "video.bin")
    assert doc["version"] == 2 and doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert await downloaded(api, user.auth, doc["document_id"]) == bytes(data)


async def test_a_killed_delta_upload_resumes_and_still_reports_what_the_server_copied(
    system, api, tmp_path, config, capsys, kill_mid_upload
):
    """A delta upload killed after its grant (the server has copied the unchanged parts, the
    changed part is on its way) is resumed by the next run, which reports the copied bytes as
    saved: the server's list of stored parts cannot tell copied parts from sent ones."""
    rng = random.Random(1905)
    user = await sign_up(api, plan="premium")
    await login(system, user)
    root = tmp_path / "a"
    size = 20 * MIB
    data = bytearray(rng.randbytes(size))
    write(root, "film.bin", bytes(data))
    code, first = await sync(root, capsys)
    assert code == 0, (first["errors"], first["warnings"])

    data[10 * MIB : 11 * MIB] = rng.randbytes(MIB)
    write(root, "film.bin", bytes(data))
    # The changed part (5 MiB at least) takes 20 s or more at 256K: killed after the grant.
    upload_id = await kill_mid_upload(root, user.auth, "256K", parts_stored=False)
    parts = (await api.get(f"/v1/uploads/{upload_id}/parts", headers=user.auth)).json()
    assert parts["stored"] and parts["missing"], parts  # copied parts there, the changed one not

    code, resumed = await sync(root, capsys)
    assert code == 0, (resumed["errors"], resumed["warnings"])
    assert resumed["uploaded"] == 1 and resumed["resumed_parts"] == len(parts["stored"])
    assert resumed["delta_bytes_saved"] >= 10 * MIB, resumed
    assert resumed["uploaded_bytes"] == size - resumed["delta_bytes_saved"]
    state = (await api.get(f"/v1/uploads/{upload_id}", headers=user.auth)).json()
    assert state["status"] == "completed"  # the same upload, not a new one
    doc = await document_of(api, user.auth, "film.bin")
    assert doc["version"] == 2 and doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert await downloaded(api, user.auth, doc["document_id"]) == bytes(data)


async def test_an_accounts_hash_never_finds_another_accounts_bytes(system, api):
    """Security: dedupe looks only at the caller's own versions. Another account naming the
    sha256 of someone's file gets an ordinary upload to fill, learns nothing, and what it then
    sends is recorded with the sha256 of its own bytes, not the one it claimed."""
    owner, other = await sign_up(api), await sign_up(api)
    secret = random.Random(1903).randbytes(50_000)
    stored = await upload(api, owner, "secret.bin", secret, "application/octet-stream")
    sha = hashlib.sha256(secret).hexdigest()

    async def recorded() -> bool:  # metadata records the version from upload.completed
        answer = await api.get(f"/v1/documents/{stored['document_id']}", headers=owner.auth)
        return answer.status_code == 200 and answer.json()["sha256"] == sha

    await eventually(recorded, timeout=120)
    mine = await api.post(  # the owner's own hash is found
        "/v1/uploads",
        headers=owner.auth,
        json={"filename": "again.bin", "size": len(secret), "content_type": "application/octet-stream", "sha256": sha},
    )
    assert mine.status_code == 201 and mine.json()["deduplicated"] is True, mine.text

    grant = await api.post(
        "/v1/uploads",
        headers=other.auth,
        json={"filename": "probe.bin", "size": len(secret), "content_type": "application/octet-stream", "sha256": sha},
    )
    assert grant.status_code == 201, grant.text
    body = grant.json()
    assert body["deduplicated"] is False and body["form"] is not None  # asked for the bytes
    own = random.Random(1904).randbytes(len(secret))
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(body["form"]["url"], data=body["form"]["fields"], files={"file": ("probe.bin", own)})
    assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{body['upload_id']}/complete", headers=other.auth)
    assert done.status_code == 200 and done.json()["sha256"] == hashlib.sha256(own).hexdigest() != sha
    # The lookup route is internal: not reachable through the gateway.
    probe = await api.get(f"/internal/accounts/{owner.account_id}/bytes/{sha}", headers=other.auth)
    assert probe.status_code == 404
