"""The real `docstore` client against the real system (region A of docstore_devplatform.e2e, whose
`system` and `api` fixtures the repository's root conftest registers for every folder).

Two folders of one account converge; a killed upload resumes from the parts S3 holds; ignore rules
keep files home. The CLI runs in-process (`cli.main`) except where it must be killed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import unicodedata
import uuid
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import PASSWORD, REGION_A, User, sign_up, upload
from docstore_devplatform.testing import eventually
from docstore_sync import cli
from docstore_sync.adapters.gateway import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def tree(root: Path) -> dict[str, str]:
    """path (NFC: a name's one identity, whatever the device's spelling) -> sha256 of every file
    under root but the client's own folder."""
    return {
        unicodedata.normalize("NFC", p.relative_to(root).as_posix()): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".docstore" not in p.relative_to(root).parts
    }


async def remote_tree(api: httpx.AsyncClient, user: User) -> dict[str, str]:
    out: dict[str, str] = {}
    cursor = None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/documents", params=params, headers=user.auth)).json()
        for doc in page["items"]:
            full = (doc["path"].rstrip("/") + "/" + doc["name"]).lstrip("/")
            out[full] = doc["sha256"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


async def login(system, user: User, config: Path) -> None:
    """`docstore login` in a subprocess, the password on standard input; the session file keeps
    the token and never the password."""
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "docstore_sync",
            "login",
            "--gateway",
            system.gateway,
            "--username",
            user.username,
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=os.environ | {"DOCSTORE_CONFIG_DIR": str(config)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    saved = (config / "session.json").read_text()
    assert PASSWORD not in saved and json.loads(saved)["account_id"] == user.account_id


async def sync(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["sync", str(folder), "--json", *extra])
    printed = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(printed[-1]) if printed else {}


async def upload_sessions(endpoints, account_id: str) -> list[dict]:
    """The upload service's sessions (region A) of an account's uploads."""
    client: AsyncMongoClient[dict] = AsyncMongoClient(endpoints.mongo_url)
    try:
        found = client[f"docstore_upload_{REGION_A.replace('-', '_')}"].upload_sessions.find({"account_id": account_id})
        return [row async for row in found]
    finally:
        await client.close()


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def test_two_folders_of_one_account_converge(system, api, endpoints, tmp_path, config, capsys, monkeypatch):
    rng = random.Random(19)
    user = await sign_up(api)
    await login(system, user, config)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()

    def blob() -> bytes:
        return rng.randbytes(rng.randint(10, 3000))

    names = [f"f{i}.txt" for i in range(8)] + ["docs/one.md", "docs/deep/two.csv"]
    for name in names:
        write(a, name, blob())

    sent: list[str] = []
    for how in ("send_put", "send_form"):
        real = getattr(Gateway, how)
        monkeypatch.setattr(
            Gateway, how, lambda self, *args, _real=real, _how=how: sent.append(_how) or _real(self, *args)
        )
    code, first = await sync(a, capsys)
    assert code == 0, first
    assert first["uploaded"] == len(names)
    # Small new files go as batch items with their sha256 and `put: true`: presigned PUTs pinned
    # to those bytes, which write the version's own key (no staging key, no copy at completion).
    assert sent == ["send_put"] * len(names)
    sessions = await upload_sessions(endpoints, user.account_id)
    assert len(sessions) == len(names) and all(
        s["status"] == "completed" and s["pinned_sha256"] and s["staging_key"] is None for s in sessions
    ), sessions
    code, second = await sync(b, capsys)
    assert code == 0, second
    assert second["downloaded"] == len(names)
    assert tree(a) == tree(b)

    # Changes on both sides: edits, deletes, renames (a delete plus an add), new files, and one
    # file edited on both sides (a conflict: A syncs first, so A's write wins).
    ops_a = {"edit": "f0.txt", "delete": "f1.txt", "rename": ("f2.txt", "renamed/f2.txt"), "new": "new-a.txt"}
    ops_b = {"edit": "docs/one.md", "delete": "f3.txt", "rename": ("f4.txt", "f4-moved.txt"), "new": "docs/new-b.txt"}
    for root, ops in ((a, ops_a), (b, ops_b)):
        write(root, ops["edit"], blob())
        (root / ops["delete"]).unlink()
        old, new = ops["rename"]
        write(root, new, (root / old).read_bytes())
        (root / old).unlink()
        write(root, ops["new"], blob())
    (b / "docs" / "deep" / "two.csv").rename(b / "two.csv")  # a move out of a folder that is left empty
    (b / "docs" / "deep").rmdir()
    winner, loser = blob(), blob()
    write(a, "f5.txt", winner)
    write(b, "f5.txt", loser)

    code, from_a = await sync(a, capsys)
    assert code == 0, from_a
    code, from_b = await sync(b, capsys)
    assert code == 2, from_b  # the conflict is reported
    assert from_b["conflicts"] == 1
    (copy,) = from_b["conflict_copies"]
    assert copy.startswith("f5 (conflict copy ") and copy.endswith(").txt")
    code, again_a = await sync(a, capsys)
    assert code == 0, again_a

    assert tree(a) == tree(b)
    final = tree(a)
    assert (a / "f5.txt").read_bytes() == winner and (a / copy).read_bytes() == loser
    assert not (a / "docs" / "deep").exists()  # the folder B emptied is gone here too
    for gone in ("f1.txt", "f2.txt", "f3.txt", "f4.txt"):
        assert gone not in final
    for there in ("renamed/f2.txt", "f4-moved.txt", "new-a.txt", "docs/new-b.txt", "two.csv"):
        assert there in final
    assert await remote_tree(api, user) == final
    trash = (await api.get("/v1/documents", params={"trashed": "true"}, headers=user.auth)).json()["items"]
    assert {"f1.txt", "f3.txt"} <= {d["name"] for d in trash}  # remote deletes went to the trash

    # Nothing changed: nothing moves, nothing is hashed again.
    code, idle = await sync(a, capsys)
    assert code == 0 and idle["planned"] == {} and idle["hashed"] == 0, idle


def random_edits(root: Path, rng: random.Random, blob, count: int) -> None:
    """`count` random edits, new files, deletes, renames (into other folders too), truncations,
    files replaced by folders and folders by files, and names in NFD (as macOS writes them) in `root`."""
    folders = ["", "docs/", "docs/deep/", "other/"]
    for _ in range(count):
        try:
            one_edit(root, rng, blob, folders)
        except OSError:  # a folder is a file now, or the other way round: not this one
            pass


def one_edit(root: Path, rng: random.Random, blob, folders: list[str]) -> None:
    if True:
        existing = sorted(p for p in tree(root) if (root / p).exists())  # (the NFC spelling of an NFD name is absent)
        ops = ["edit", "new", "delete", "rename", "truncate", "to-folder", "to-file", "nfd"]
        op = rng.choice(ops) if existing else "new"
        if op == "new":  # a small pool of names: both sides sometimes create the same one
            write(root, f"{rng.choice(folders)}n{rng.randint(0, 9)}.txt", blob())
        elif op == "nfd":  # the same pool of names as another device spells them
            name = unicodedata.normalize("NFD", f"{rng.choice(folders)}r\u00e9sum\u00e9{rng.randint(0, 2)}.txt")
            if not any(unicodedata.normalize("NFC", p) == unicodedata.normalize("NFC", name) for p in tree(root)):
                write(root, name, blob())
        elif op == "truncate":
            write(root, rng.choice(existing), b"")
        elif op == "to-folder":  # a file replaced by a folder of its name
            old = rng.choice(existing)
            (root / old).unlink()
            write(root, f"{old}/inside.txt", blob())
        elif op == "to-file":  # a folder replaced by a file of its name
            folder = rng.choice(["docs", "other"])
            if (root / folder).is_dir():
                shutil.rmtree(root / folder)
                write(root, folder, blob())
        elif op == "edit":
            write(root, rng.choice(existing), blob())
        elif op == "delete":
            (root / rng.choice(existing)).unlink()
        else:
            old = rng.choice(existing)
            new = f"{rng.choice(folders)}r{rng.randint(0, 99)}.txt"
            if new not in existing:
                write(root, new, (root / old).read_bytes())
                (root / old).unlink()


async def test_two_folders_converge_after_random_rounds_of_edits_on_both_sides(system, api, tmp_path, config, capsys):
    """Dropbox-style: rounds of random edits, new files, deletes and renames on both sides (fixed
    seed), with a file edited on both sides in every round, truncations, file <-> folder changes
    and NFD names (issue 34); after A, B, A sync, both folders and the account hold the same files
    (by NFC name), and every byte string written in the round and still in a folder when the
    round's edits ended is somewhere in the result (nothing written is lost)."""
    rng = random.Random(1919)
    user = await sign_up(api)
    await login(system, user, config)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()

    def blob() -> bytes:
        return rng.randbytes(rng.randint(10, 2000))

    for n in range(10):
        write(a, f"{['', 'docs/', 'other/'][n % 3]}f{n}.txt", blob())
    assert (await sync(a, capsys))[0] == 0
    assert (await sync(b, capsys))[0] == 0
    assert tree(a) == tree(b)

    conflicts = 0
    for round_ in range(4):
        before = set(tree(a).values())
        random_edits(a, rng, blob, rng.randint(2, 5))
        random_edits(b, rng, blob, rng.randint(2, 5))
        shared = sorted(p for p in set(tree(a)) & set(tree(b)) if (a / p).is_file() and (b / p).is_file())
        if shared:  # the same file edited on both sides: a conflict
            both = rng.choice(shared)
            write(a, both, blob())
            write(b, both, blob())
        kept = (set(tree(a).values()) | set(tree(b).values())) - before
        for folder in (a, b, a):
            code, report = await sync(folder, capsys)
            assert code in (0, 2) and not report["errors"], (round_, folder.name, report)
            conflicts += report["conflicts"]
        final = tree(a)
        assert tree(b) == final, round_
        assert await remote_tree(api, user) == final, round_
        assert kept <= set(final.values()), f"round {round_}: written bytes were lost"
    assert conflicts >= 4  # one per round at least, each kept as a copy
    assert any("(conflict copy " in path for path in tree(a))
    for folder in (a, b):  # nothing left to do on either side
        code, idle = await sync(folder, capsys)
        assert code == 0 and not (idle["uploaded"] or idle["downloaded"] or idle["deleted_local"]), idle


async def test_a_killed_multipart_upload_resumes_from_the_stored_parts(
    system, api, tmp_path, config, capsys, kill_mid_upload
):
    user = await sign_up(api, plan="premium")
    await login(system, user, config)
    folder = tmp_path / "big"
    folder.mkdir()
    data = random.Random(7).randbytes(20 * 1024 * 1024)  # four 5 MiB parts
    write(folder, "big.bin", data)

    upload_id = await kill_mid_upload(folder, user.auth, "1M", parts_stored=True)
    stored = len((await api.get(f"/v1/uploads/{upload_id}/parts", headers=user.auth)).json()["stored"])
    assert 1 <= stored < 4

    code, resumed = await sync(folder, capsys)
    assert code == 0, resumed
    assert resumed["uploaded"] == 1 and resumed["resumed_parts"] == stored
    assert await remote_tree(api, user) == {"big.bin": hashlib.sha256(data).hexdigest()}
    state = (await api.get(f"/v1/uploads/{upload_id}", headers=user.auth)).json()
    assert state["status"] == "completed"  # the same upload, not a new one


async def test_ignored_files_stay_home(system, api, tmp_path, config, capsys):
    user = await sign_up(api)
    await login(system, user, config)
    folder = tmp_path / "ignoring"
    write(folder, ".docstoreignore", b"*.log\nbuild/\n!keep.log\n")
    write(folder, "notes.txt", b"notes")
    write(folder, "debug.log", b"noise")
    write(folder, "keep.log", b"kept")
    write(folder, "build/out.bin", b"artefact")
    (folder / "link.txt").symlink_to(folder / "notes.txt")

    code, summary = await sync(folder, capsys)
    assert code == 0, summary
    assert any("link.txt" in w and "symbolic link" in w for w in summary["warnings"])
    assert set(await remote_tree(api, user)) == {".docstoreignore", "notes.txt", "keep.log"}

    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["status", str(folder), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["username"] == user.username and status["pending"] == {}
    assert status["last_sync"]["summary"]["uploaded"] == 3

    # A dry run on a second folder says what would come down and changes nothing.
    other = tmp_path / "other"
    other.mkdir()
    code, dry = await sync(other, capsys, "--dry-run")
    assert code == 0 and dry["planned"] == {"download": 3} and tree(other) == {}

    # The server cannot be reached: the sync stops with one line and nothing local is touched.
    session_file = config / "session.json"
    saved = json.loads(session_file.read_text())
    session_file.write_text(json.dumps(saved | {"gateway": "http://127.0.0.1:9"}))
    before = tree(folder)
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["sync", str(folder)]) == 1
    assert "nothing local was deleted" in capsys.readouterr().err
    assert tree(folder) == before
    session_file.write_text(json.dumps(saved))

    # Logging out ends the session on the server and forgets it here; then sync says "log in" (3).
    assert await asyncio.to_thread(cli.main, ["logout"]) == 0
    assert not session_file.exists()
    refused = await api.get("/v1/account", headers={"Authorization": f"Bearer {saved['token']}"})
    assert refused.status_code == 401, refused.text
    assert await asyncio.to_thread(cli.main, ["sync", str(folder), "--json"]) == 3
    assert tree(folder) == before


async def test_a_document_missing_from_the_snapshot_is_asked_for_before_a_local_delete(
    system, api, tmp_path, config, capsys
):
    """The remote snapshot can lack a document the server has (metadata recorded an upload after
    the sync that made it looked: seen in a loaded bench run, where a re-sync deleted 6,816 files).
    A local delete needs the server's word: the document is asked for, and a live one keeps the
    file; one really trashed on the server is still deleted here."""
    user = await sign_up(api)
    await login(system, user, config)
    folder = tmp_path / "kept"
    write(folder, "stays.txt", b"the server has me")
    write(folder, "goes.txt", b"the server trashes me")
    write(folder, "purged.txt", b"the server deletes me for good")
    write(folder, "unrecorded.txt", b"metadata has not recorded me yet")
    code, first = await sync(folder, capsys)
    assert code == 0 and first["uploaded"] == 4, first
    with sqlite3.connect(folder / ".docstore" / "state.db") as con:
        ids = dict(con.execute("SELECT path, document_id FROM files").fetchall())
        # An upload this client never saw recorded: a document id metadata does not know (404).
        con.execute(
            "UPDATE files SET document_id = ?, version = NULL WHERE path = 'unrecorded.txt'", (str(uuid.uuid4()),)
        )
    con.close()
    trashed = await api.delete(f"/v1/documents/{ids['goes.txt']}", headers=user.auth)
    assert trashed.status_code == 204, trashed.text
    purged = await api.delete(f"/v1/documents/{ids['purged.txt']}", params={"permanent": "true"}, headers=user.auth)
    assert purged.status_code == 204, purged.text
    end = None  # the feed's end, after the uploads and the trash
    while True:
        page = (
            await api.get("/v1/changes", params={"limit": 1000, **({"cursor": end} if end else {})}, headers=user.auth)
        ).json()
        end = page["next_cursor"] or end
        if len(page["items"]) < 1000:
            break
    with sqlite3.connect(folder / ".docstore" / "state.db") as con:
        con.execute("DELETE FROM remote")  # the snapshot misses both documents, and the feed
        con.execute("UPDATE meta SET value = ? WHERE key = 'cursor'", (end,))  # will not bring them
    con.close()

    code, again = await sync(folder, capsys)
    assert code == 0, again
    # The trashed and the purged ones went; the live one and the one not yet recorded stayed.
    assert set(tree(folder)) == {"stays.txt", "unrecorded.txt"}, again
    assert again["deleted_local"] == 2
    code, idle = await sync(folder, capsys)  # the live one's snapshot was corrected
    assert code == 0 and idle["planned"] == {"delete-local": 1}, idle  # asked again, kept again
    assert set(tree(folder)) == {"stays.txt", "unrecorded.txt"}, idle


async def test_watch_follows_both_sides_and_stops_cleanly_on_ctrl_c(system, api, tmp_path, config):
    user = await sign_up(api)
    await login(system, user, config)
    folder = tmp_path / "watched"
    folder.mkdir()
    log = (tmp_path / "watch.log").open("wb")
    # -X faulthandler: if it does not stop, SIGABRT makes it print every thread's stack to the log.
    child = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "docstore_sync",
            "watch",
            str(folder),
            "--json",
            "--debounce",
            "200",
        ],
        env=os.environ | {"DOCSTORE_CONFIG_DIR": str(config)},
        stdout=log,
        stderr=log,
    )
    try:
        write(folder, "local.txt", b"written here")

        async def uploaded() -> bool:
            return "local.txt" in await remote_tree(api, user)

        await eventually(uploaded, timeout=120)
        await upload(api, user, "remote.txt", b"written there")

        async def downloaded() -> bool:
            path = folder / "remote.txt"
            return path.exists() and path.read_bytes() == b"written there"

        await eventually(downloaded, timeout=120)
        child.send_signal(signal.SIGINT)
        try:
            assert await asyncio.wait_for(child.wait(), timeout=60) == 0
        except TimeoutError:
            child.send_signal(signal.SIGABRT)
            await child.wait()
            log.flush()
            pytest.fail(
                "watch did not stop within 60 s of Ctrl-C; its log and stacks:\n"
                + (tmp_path / "watch.log").read_text()[-6000:]
            )
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        log.close()


async def test_login_at_another_region_follows_the_307_home(system, region_b, api, tmp_path, config, capsys):
    user = await sign_up(api)  # home: region A

    async def logged_in_via_b():
        from docstore_sync.adapters.gateway import ApiError, log_in

        try:  # 401 until region B holds the account's replica, then 307 to region A
            return await asyncio.to_thread(log_in, region_b.gateway, user.username, PASSWORD)
        except ApiError:
            return None

    session = await eventually(logged_in_via_b, timeout=120)
    assert session.gateway == system.gateway and session.account_id == user.account_id
    await login(region_b, user, config)  # the CLI does the same and remembers the home gateway
    assert json.loads((config / "session.json").read_text())["gateway"] == system.gateway
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["username"] == user.username


async def test_refused_files_are_one_line_each_and_the_rest_syncs(system, api, tmp_path, config, capsys):
    user = await sign_up(api)  # Free: the e2e system's cap is 1 MB
    await login(system, user, config)
    folder = tmp_path / "refused"
    write(folder, "fine.txt", b"fine")
    write(folder, "too-big.bin", random.Random(3).randbytes(1_200_000))
    write(folder, "bell\x07.txt", b"a name with a control character")

    code, summary = await sync(folder, capsys)

    assert code == 1, summary  # a partial failure
    errors = summary["errors"]
    assert len(errors) == 2 and all("\n" not in e for e in errors)
    assert any(e.startswith("too-big.bin: 413") for e in errors), errors
    assert any(e.startswith("bell\x07.txt: 422") for e in errors), errors
    assert set(await remote_tree(api, user)) == {"fine.txt"}
    assert set(tree(folder)) == {"fine.txt", "too-big.bin", "bell\x07.txt"}  # nothing local was touched


async def test_a_file_changed_while_it_is_read_is_one_line_and_goes_next_time(
    system, api, tmp_path, config, capsys, monkeypatch
):
    """A file written between the scan and its upload: its hash no longer matches, so it is not
    sent (one line, exit 1), the rest syncs, and the next run sends what it holds by then."""
    from docstore_sync import engine

    user = await sign_up(api)
    await login(system, user, config)
    folder = tmp_path / "busy"
    write(folder, "steady.txt", b"left alone")
    write(folder, "busy.txt", b"first words")
    planned = engine.Syncer.plan

    def plan_then_write(self, **options):  # type: ignore[no-untyped-def]
        result = planned(self, **options)
        write(folder, "busy.txt", b"written while the sync ran")
        return result

    monkeypatch.setattr(engine.Syncer, "plan", plan_then_write)
    code, report = await sync(folder, capsys)
    assert code == 1, report
    assert report["errors"] == ["busy.txt: changed while it was being read; next time"], report
    assert set(await remote_tree(api, user)) == {"steady.txt"}
    assert (folder / "busy.txt").read_bytes() == b"written while the sync ran"  # untouched

    monkeypatch.setattr(engine.Syncer, "plan", planned)
    code, report = await sync(folder, capsys)
    assert code == 0 and report["uploaded"] == 1, report
    assert (await remote_tree(api, user))["busy.txt"] == hashlib.sha256(b"written while the sync ran").hexdigest()


async def test_an_expired_access_token_is_refreshed_and_the_new_tokens_saved(system, api, tmp_path, config, capsys):
    """Access tokens last minutes: the client spends its refresh token for a new pair when the
    gateway refuses the old one, saves both, and carries on; the spent refresh token is dead."""
    user = await sign_up(api)
    await login(system, user, config)
    session_file = config / "session.json"
    saved = json.loads(session_file.read_text())
    assert saved["refresh_token"], "the login kept no refresh token"
    old_refresh = saved["refresh_token"]
    # An access token the gateway no longer honours (logged out on the server, not here).
    gone = await api.delete("/v1/sessions/current", headers={"Authorization": f"Bearer {saved['token']}"})
    assert gone.status_code == 204, gone.text
    session_file.write_text(json.dumps(saved | {"token": "expired-" + saved["token"]}))

    folder = tmp_path / "docs"
    write(folder, "note.txt", b"still synced after the token expired")
    code, report = await sync(folder, capsys)
    # Logging out ended the whole login, refresh token included: the client must ask to sign in.
    assert code != 0
    assert json.loads(session_file.read_text())["token"].startswith("expired-")

    await login(system, user, config)
    saved = json.loads(session_file.read_text())
    session_file.write_text(json.dumps(saved | {"token": "expired-" + saved["token"]}))
    code, report = await sync(folder, capsys)
    assert code == 0, report
    assert report["uploaded"] == 1
    renewed = json.loads(session_file.read_text())
    assert not renewed["token"].startswith("expired-") and renewed["refresh_token"] not in (None, old_refresh)
    reused = await api.post("/v1/sessions/refresh", json={"refresh_token": saved["refresh_token"]})
    assert reused.status_code == 401, "a spent refresh token still worked"


async def test_a_type_the_server_refuses_is_sent_as_plain_bytes_and_a_known_one_keeps_its_type(
    system, api, tmp_path, config, capsys
):
    user = await sign_up(api, plan="premium")  # the multipart file is over the e2e system's Free cap
    await login(system, user, config)
    folder = tmp_path / "types"
    write(folder, "bundle.tar", b"not really a tarball")  # application/x-tar: upload refuses the type
    write(folder, "minutes.odt", b"an OpenDocument text")  # a type upload stores as such
    write(folder, "big/bundle.tar", random.Random(5).randbytes(9 * 1024 * 1024))  # multipart: the single path

    code, summary = await sync(folder, capsys)

    assert code == 0, summary
    documents = (await api.get("/v1/documents", params={"limit": 200}, headers=user.auth)).json()["items"]
    types = {(d["path"].rstrip("/") + "/" + d["name"]).lstrip("/"): d["content_type"] for d in documents}
    assert types == {
        "bundle.tar": "application/octet-stream",
        "big/bundle.tar": "application/octet-stream",
        "minutes.odt": "application/vnd.oasis.opendocument.text",
    }


async def test_the_same_name_in_nfc_and_nfd_is_one_file_and_a_conflict_never_an_overwrite(
    system, api, tmp_path, config, capsys
):
    """Issue 34, finding 1: the laptop writes résumé.txt (NFC), the desktop résumé.txt in NFD (as
    macOS does). Both texts survive on both devices; the server holds one document by that name."""
    user = await sign_up(api)
    await login(system, user, config)
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    nfc, nfd = unicodedata.normalize("NFC", "résumé.txt"), unicodedata.normalize("NFD", "résumé.txt")
    write(laptop, nfc, b"laptop version")
    write(desktop, nfd, b"desktop version")
    write(laptop, "empty.txt", b"")  # finding 4: an empty file is a document
    write(laptop, "cut.txt", b"to be truncated")
    assert (await sync(laptop, capsys))[0] == 0
    code, report = await sync(desktop, capsys)
    assert code == 2 and report["conflicts"] == 1, report  # a conflict, not a silent overwrite
    assert (
        desktop / nfd
    ).read_bytes() == b"laptop version"  # the first write keeps the name, in the desktop's spelling
    (laptop / "cut.txt").write_bytes(b"")  # truncation is an edit
    assert (await sync(laptop, capsys))[0] == 0
    assert (await sync(desktop, capsys))[0] == 0
    assert tree(laptop) == tree(desktop) == await remote_tree(api, user)
    texts = {(laptop / p).read_bytes() for p in tree(laptop)}
    assert {b"laptop version", b"desktop version", b""} <= texts
    assert (desktop / "cut.txt").read_bytes() == b"" and (desktop / "empty.txt").read_bytes() == b""
    names = [n for n in await remote_tree(api, user) if n.startswith("r")]
    assert len(names) == 2 and nfc in names  # one document per name: résumé.txt and its conflict copy


async def test_a_second_sync_of_a_folder_under_way_exits_4_and_nothing_is_doubled(
    system, api, tmp_path, config, capsys
):
    """Issue 34, finding 6: a sync runs (slowed down) while a second starts: the second does
    nothing and says so (exit 4); the files become one document each."""
    user = await sign_up(api)
    await login(system, user, config)
    folder = tmp_path / "one"
    for n in range(5):
        write(folder, f"f{n}.txt", f"file {n}".encode())
    write(folder, "slow.bin", random.Random(5).randbytes(400_000))
    child = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "docstore_sync", "sync", str(folder), "--json", "--max-rate", "50K"],
        env=os.environ | {"DOCSTORE_CONFIG_DIR": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def holding() -> bool:
            return (folder / ".docstore" / "state.db").exists()

        await eventually(holding, timeout=60)
        code, report = await sync(folder, capsys)
        assert code == cli.BUSY == 4 and report == {}
        assert await asyncio.wait_for(child.wait(), timeout=120) == 0
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert (await sync(folder, capsys))[0] == 0
    assert sorted(await remote_tree(api, user)) == sorted(tree(folder))  # one document each, not two
