"""The client's adapters without a server: retries, rate limit parsing, the folder scan, the state."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from docstore_sync.adapters import gateway
from docstore_sync.adapters.scan import load_rules, scan
from docstore_sync.adapters.state import State
from docstore_sync.cli import parse_rate
from docstore_sync.domain.plan import RemoteFile


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(gateway.time, "sleep", slept.append)
    return slept


def test_5xx_and_network_errors_are_retried_with_growing_backoff(no_sleep):
    answers = iter([httpx.ConnectError("down"), httpx.Response(503), httpx.Response(502), httpx.Response(200)])

    def call() -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert gateway.with_retries(call, "GET /x").status_code == 200
    assert len(no_sleep) == 3
    assert no_sleep[2] > no_sleep[0]  # 0.5 s, 1 s, 2 s (each with jitter of ±50 %)


def test_4xx_is_not_retried(no_sleep):
    calls = []

    def call() -> httpx.Response:
        calls.append(1)
        return httpx.Response(409)

    assert gateway.with_retries(call, "POST /x").status_code == 409
    assert len(calls) == 1 and no_sleep == []


def test_a_server_that_stays_unreachable_is_one_clear_error():
    def call() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(gateway.NetworkError, match="GET /v1/documents: ConnectError"):
        gateway.with_retries(call, "GET /v1/documents")


def test_problem_details_become_one_line():
    response = httpx.Response(422, json={"detail": [{"msg": "filename: must not contain control characters"}]})
    assert gateway._detail(response) == "filename: must not contain control characters"
    assert gateway._detail(httpx.Response(403, json={"detail": "over quota", "status": 403})) == "over quota"


@pytest.mark.parametrize(("text", "rate"), [("500K", 500e3), ("2M", 2e6), ("1.5MB/s", 1.5e6), ("1000", 1000)])
def test_rates(text, rate):
    assert parse_rate(text) == rate


def test_scan_skips_links_and_special_files_keeps_empty_ones_and_reuses_the_hash_cache(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log").write_bytes(b"b")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "sub")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / ".docstoreignore").write_text("*.log\n")
    cache: dict[str, tuple[int, int, str]] = {}

    def remember(path: str, size: int, mtime: int, sha: str) -> None:
        cache[path] = (size, mtime, sha)

    first = scan(tmp_path, load_rules(tmp_path), cache, remember)
    assert set(first.files) == {"a.txt", "empty.txt", ".docstoreignore"}  # finding 4: empty files are content
    assert first.files["empty.txt"].sha256 == hashlib.sha256(b"").hexdigest()
    assert first.hashed == 3
    warned = " | ".join(first.warnings)
    for name in (
        "link.txt: a symbolic link",
        "linked-dir: a symbolic link",
        "pipe: not a regular file",
    ):
        assert name in warned
    again = scan(tmp_path, load_rules(tmp_path), cache, remember)
    assert again.hashed == 0 and again.shas() == first.shas()


def test_state_keeps_base_remote_cursor_and_uploads_under_way(tmp_path: Path):
    state = State(tmp_path)
    state.record("a.txt", "s" * 64, 1, 2, "d1", 3)
    state.set_remote("a.txt", RemoteFile("d1", 3, "s" * 64))
    state.set_remote("a.txt", RemoteFile("d2", 1, "t" * 64))  # another document took the path
    state.start_upload("big.bin", "u1", "x" * 64, 10, "d9")
    state.start_upload("delta.bin", "u2", "y" * 64, 20, "d8", copied_bytes=15)
    state.put("cursor", "c1")
    state.close()
    again = State(tmp_path)
    assert again.base()["a.txt"].version == 3
    assert again.remote() == {"a.txt": RemoteFile("d2", 1, "t" * 64)}
    assert again.pending_upload("big.bin") == ("u1", "x" * 64, 10, "d9", 0)
    assert again.pending_upload("delta.bin") == ("u2", "y" * 64, 20, "d8", 15)
    assert again.get("cursor") == "c1" and again.initialised


@pytest.mark.parametrize(
    ("remote_folder", "path", "name", "rel"),
    [
        ("/", "/", "a.txt", "a.txt"),
        ("/", "/docs/deep", "b.md", "docs/deep/b.md"),
        ("/Work", "/Work", "a.txt", "a.txt"),
        ("/Work", "/Work/sub", "a.txt", "sub/a.txt"),
        ("/Work", "/Workshop", "a.txt", None),  # a sibling folder whose name starts alike
        ("/Work", "/", "a.txt", None),
    ],
)
def test_remote_paths_map_to_the_folder_and_back(remote_folder, path, name, rel):
    from docstore_sync.engine import _folder_of, _relative

    assert _relative(remote_folder, path, name) == rel
    if rel is not None:
        assert _folder_of(remote_folder, rel) == (path, name)


def test_a_state_from_before_delta_resumes_gains_the_copied_bytes_column(tmp_path: Path):
    folder = tmp_path / ".docstore"
    folder.mkdir()
    with sqlite3.connect(folder / "state.db") as old:  # the uploads table as earlier clients made it
        old.execute(
            "CREATE TABLE uploads (path TEXT PRIMARY KEY, upload_id TEXT NOT NULL, sha256 TEXT NOT NULL,"
            " size INTEGER NOT NULL, document_id TEXT NOT NULL)"
        )
        old.execute("INSERT INTO uploads VALUES ('big.bin', 'u1', ?, 10, 'd9')", ("x" * 64,))
    old.close()
    state = State(tmp_path)
    assert state.pending_upload("big.bin") == ("u1", "x" * 64, 10, "d9", 0)
    state.start_upload("other.bin", "u2", "y" * 64, 20, "d8", copied_bytes=7)
    assert state.pending_upload("other.bin") == ("u2", "y" * 64, 20, "d8", 7)


def test_scan_lists_empty_folders_which_do_not_sync_yet(tmp_path: Path):
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f.txt").write_bytes(b"f")
    found = scan(tmp_path, load_rules(tmp_path), {})
    assert sorted(found.empty_folders) == ["empty", "empty/deeper"]


def test_a_file_spelled_in_nfd_is_found_in_the_hash_cache_under_its_nfc_key(tmp_path: Path):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "résumé.txt")
    (tmp_path / nfd).write_bytes(b"cv")
    st = (tmp_path / nfd).stat()
    cache = {unicodedata.normalize("NFC", nfd): (st.st_size, st.st_mtime_ns, "0" * 64)}
    found = scan(tmp_path, load_rules(tmp_path), cache)
    assert found.hashed == 0 and found.files[nfd].sha256 == "0" * 64
