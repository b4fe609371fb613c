"""Folders map one to one (issue 37): a folder renamed on the server is one rename here (the same
directory, its files untouched: no delete, no download), and empty folders sync both ways."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, sign_up
from docstore_sync import cli
from docstore_sync.adapters.gateway import log_in
from docstore_sync.cli import save_session

pytestmark = [pytest.mark.e2e]

FILES = 40


async def login(system, user) -> None:
    """A saved session for `user` (the login command itself is tested in test_sync_client.py)."""
    session = await asyncio.to_thread(log_in, system.gateway, user.username, PASSWORD)
    save_session(session, user.username)


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".docstore" not in p.relative_to(root).parts
    }


async def remote_tree(api: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:
    page = (await api.get("/v1/documents", params={"limit": 200}, headers=auth)).json()
    return {(d["path"].rstrip("/") + "/" + d["name"]).lstrip("/"): d["sha256"] for d in page["items"]}


async def sync(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["sync", str(folder), "--json"])
    summary: dict = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    return summary


async def test_a_folder_renamed_on_the_server_is_one_rename_here_and_empty_folders_sync_both_ways(
    system, api, tmp_path, config, capsys
):
    user = await sign_up(api)
    await login(system, user)
    root = tmp_path / "synced"
    for i in range(FILES):
        write(root, f"photos/p{i:03}.txt", f"photo {i}".encode())
    write(root, "photos/deep/inner.txt", b"inner")
    (root / "empty-here").mkdir()

    first = await sync(root, capsys)
    assert first["uploaded"] == FILES + 1 and first["folders_made_there"] == 1, first
    top = (await api.get("/v1/folders", headers=user.auth, params={"path": "/"})).json()["items"]
    assert sorted(f["name"] for f in top) == ["empty-here", "photos"], top

    photos = next(f for f in top if f["name"] == "photos")
    renamed = await api.patch(f"/v1/folders/{photos['folder_id']}", headers=user.auth, json={"name": "pictures"})
    assert renamed.status_code == 200 and not renamed.json()["moving"], renamed.text
    made = await api.post("/v1/folders", headers=user.auth, json={"parent": "/", "name": "from-server"})
    assert made.status_code == 201, made.text
    directory = (root / "photos").stat().st_ino
    files_before = {p.name: p.stat().st_ino for p in (root / "photos").iterdir() if p.is_file()}

    second = await sync(root, capsys)

    assert second["downloaded"] == 0 and second["bytes_down"] == 0 and second["deleted_local"] == 0, second
    assert second["uploaded"] == 0 and second["trashed_remote"] == 0 and second["moved"] == 1, second
    assert not (root / "photos").exists() and (root / "pictures").stat().st_ino == directory
    assert {p.name: p.stat().st_ino for p in (root / "pictures").iterdir() if p.is_file()} == files_before
    assert (root / "from-server").is_dir() and second["folders_made_here"] == 1, second
    assert tree(root) == await remote_tree(api, user.auth)
    assert len([k for k in tree(root) if k.startswith("pictures/")]) == FILES + 1

    third = await sync(root, capsys)  # nothing left to do
    assert third["moved"] == third["downloaded"] == third["uploaded"] == third["folders_made_here"] == 0, third
