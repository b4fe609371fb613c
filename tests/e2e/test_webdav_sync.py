"""The sync client and WebDAV see the same folders and versions (issue 38): edits through the
`docstore` client (a new version, a new folder, a folder renamed, a file deleted) read through
WebDAV (PROPFIND, GET), then edits through WebDAV (PUT over a file, a new file, MKCOL, MOVE,
DELETE) seen by the client's next sync: the same documents with new versions, no duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD
from docstore_devplatform.testing import eventually
from docstore_sync import cli
from docstore_sync.adapters.gateway import log_in
from docstore_sync.cli import save_session

from .conftest import System, sign_up
from .test_webdav_litmus import app_password

pytestmark = [pytest.mark.e2e]
OC = "{http://owncloud.org/ns}"
ASK = b"""<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>
<d:getetag/><d:getcontentlength/><d:resourcetype/><oc:fileid/></d:prop></d:propfind>"""


async def sync(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["sync", str(folder), "--json"])
    summary: dict = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    return summary


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".docstore" not in p.relative_to(root).parts
    }


class Dav:
    def __init__(self, api: httpx.AsyncClient, username: str, password: str) -> None:
        self.api = api
        self.base = f"/remote.php/dav/files/{quote(username)}"
        self.auth = (username, password)

    async def __call__(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return await self.api.request(method, self.base + quote(path), auth=self.auth, **kwargs)  # type: ignore[arg-type]

    async def listing(self, folder: str) -> dict[str, dict[str, str | None]]:
        """PROPFIND Depth 1: each member's name -> etag, length, file id, 'dir' or 'file'."""
        answer = await self("PROPFIND", folder, content=ASK, headers={"Depth": "1"})
        assert answer.status_code == 207, answer.text
        found = {}
        for response in ElementTree.fromstring(answer.content).iter("{DAV:}response"):
            href = unquote(response.findtext("{DAV:}href") or "")
            name = href[len(self.base + folder) :].strip("/")
            if not name:
                continue
            prop = next(  # the properties found (those a folder lacks are in a 404 propstat)
                p.find("{DAV:}prop")
                for p in response.iter("{DAV:}propstat")
                if " 200 " in (p.findtext("{DAV:}status") or "")
            )
            assert prop is not None
            found[name] = {
                "etag": prop.findtext("{DAV:}getetag"),
                "length": prop.findtext("{DAV:}getcontentlength"),
                "id": prop.findtext(f"{OC}fileid"),
                "kind": "dir" if prop.find("{DAV:}resourcetype/{DAV:}collection") is not None else "file",
            }
        return found


async def documents(api: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, dict]:
    page = (await api.get("/v1/documents", params={"limit": 200}, headers=auth)).json()
    return {(d["path"].rstrip("/") + "/" + d["name"]).lstrip("/"): d for d in page["items"]}


async def shown(api: httpx.AsyncClient, auth: dict[str, str], path: str, content: bytes) -> dict:
    """Wait until the JSON API (which the sync client reads) shows `content` at `path`. A WebDAV PUT
    answers once upload has committed its `upload.completed`; metadata records the version when
    the event arrives, so another interface sees it after that (WebDAV itself at once: its pending
    write, services/webdav/README.md)."""
    sha = hashlib.sha256(content).hexdigest()

    async def check() -> dict | None:
        found = (await documents(api, auth)).get(path)
        return found if found and found["sha256"] == sha else None

    found: dict = await eventually(check, what=f"{path} recorded")
    return found


async def test_the_sync_client_and_webdav_see_the_same_folders_and_versions(
    system: System, api: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    user = await sign_up(api, plan="premium")
    monkeypatch.setenv("DOCSTORE_CONFIG_DIR", str(tmp_path / "config"))
    session = await asyncio.to_thread(log_in, system.gateway, user.username, PASSWORD)
    save_session(session, user.username)
    dav = Dav(api, user.username, await app_password(api, user.token))
    root = tmp_path / "synced"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.txt").write_bytes(b"a, first\n")
    (root / "notes" / "b.txt").write_bytes(b"b\n")
    (root / "gone.txt").write_bytes(b"to be deleted\n")
    assert (await sync(root, capsys))["uploaded"] == 3
    first = await documents(api, user.auth)

    # --- through the sync client, read through WebDAV ---
    (root / "notes" / "a.txt").write_bytes(b"a, second, longer\n")
    (root / "notes").rename(root / "papers")
    (root / "fresh").mkdir()
    (root / "gone.txt").unlink()
    done = await sync(root, capsys)
    assert done["uploaded"] == 1 and done["trashed_remote"] == 1 and done["folders_made_there"] == 1, done

    top = await dav.listing("/")
    assert {name: v["kind"] for name, v in top.items()} == {"papers": "dir", "fresh": "dir"}, top
    papers = await dav.listing("/papers/")
    assert set(papers) == {"a.txt", "b.txt"}, papers
    a_before = first["notes/a.txt"]
    assert papers["a.txt"]["id"] == a_before["document_id"]  # the same document: a new version, not a copy
    assert papers["a.txt"]["length"] == str(len(b"a, second, longer\n"))
    assert (await dav("GET", "/papers/a.txt")).content == b"a, second, longer\n"
    assert (await dav("GET", "/gone.txt")).status_code == 404

    # --- through WebDAV, read through the sync client ---
    put = await dav("PUT", "/papers/a.txt", content=b"a, third, from webdav\n")
    assert put.status_code == 204, put.text
    assert (await dav.listing("/papers/"))["a.txt"]["etag"] != papers["a.txt"]["etag"]
    assert (await dav("PUT", "/fresh/new.txt", content=b"new from webdav\n")).status_code == 201
    assert (await dav("MKCOL", "/made/")).status_code == 201
    moved = await dav("MOVE", "/papers/b.txt", headers={"Destination": dav.base + "/made/b.txt"})
    assert moved.status_code == 201, moved.text
    assert (await dav("DELETE", "/papers/")).status_code == 204
    await shown(api, user.auth, "fresh/new.txt", b"new from webdav\n")

    done = await sync(root, capsys)
    assert done["conflicts"] == 0 and done["uploaded"] == 0, done
    assert tree(root) == {
        "fresh/new.txt": b"new from webdav\n",
        "made/b.txt": b"b\n",
    }, done
    assert sorted(p.name for p in root.iterdir() if p.name != ".docstore") == ["fresh", "made"]
    now = await documents(api, user.auth)
    assert set(now) == {"fresh/new.txt", "made/b.txt"}
    assert now["made/b.txt"]["document_id"] == first["notes/b.txt"]["document_id"]  # moved, not copied

    # a PUT over a file the client holds is a new version of that document, and the client gets it
    (root / "made" / "c.txt").write_bytes(b"c, from the client\n")
    assert (await sync(root, capsys))["uploaded"] == 1
    c_id = (await documents(api, user.auth))["made/c.txt"]["document_id"]
    assert (await dav("PUT", "/made/c.txt", content=b"c, from webdav\n")).status_code == 204
    await shown(api, user.auth, "made/c.txt", b"c, from webdav\n")
    done = await sync(root, capsys)
    assert done["downloaded"] == 1 and done["uploaded"] == 0, done
    assert (root / "made" / "c.txt").read_bytes() == b"c, from webdav\n"
    c = (await documents(api, user.auth))["made/c.txt"]
    assert c["document_id"] == c_id and c["version"] == 2, c
    assert hashlib.sha256(b"c, from webdav\n").hexdigest() == c["sha256"]
