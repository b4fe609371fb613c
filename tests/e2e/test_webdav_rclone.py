"""rclone (Debian's 1.60, `vendor=owncloud`) against the WebDAV endpoint (issue 38): a tree synced
up and down keeps every byte (sha256) and modification time; a change on the server shows in the
next sync; a PUT over the quota fails cleanly with nothing stored. The full sizes of the issue
(1,000 small files and 3 x 50 MiB) are bench/webdav.py's; this test proves the same with fewer."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import System, sign_up
from .test_webdav_litmus import app_password

pytestmark = pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed (scripts/bootstrap)")


def rclone(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["rclone", *args, "--config", "/dev/null", "--transfers", "8", "--checkers", "8", "--low-level-retries", "1",
         "--retries", "1"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    return done


def remote_env(url: str, user: str, password: str) -> dict[str, str]:
    obscured = subprocess.run(["rclone", "obscure", password], capture_output=True, text=True, check=True).stdout
    return {
        "RCLONE_CONFIG_DAV_TYPE": "webdav",
        "RCLONE_CONFIG_DAV_URL": url,
        "RCLONE_CONFIG_DAV_VENDOR": "owncloud",
        "RCLONE_CONFIG_DAV_USER": user,
        "RCLONE_CONFIG_DAV_PASS": obscured.strip(),
    }


def tree_facts(root: Path) -> dict[str, tuple[str, int]]:
    """Every file below `root`: its sha256 and modification time (whole seconds)."""
    return {
        str(path.relative_to(root)): (hashlib.sha256(path.read_bytes()).hexdigest(), int(path.stat().st_mtime))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def make_tree(root: Path, small: int, large_bytes: int) -> None:
    for i in range(small):
        folder = root / f"dir{i % 3}" / ("sub" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file {i:04d}.txt"
        path.write_bytes(f"small file {i}\n".encode() * (1 + i % 7))
        os.utime(path, (1_600_000_000 + i * 61, 1_600_000_000 + i * 61))
    big = root / "big.bin"
    big.write_bytes(os.urandom(large_bytes))
    os.utime(big, (1_650_000_000, 1_650_000_000))


async def test_rclone_sync_up_and_down_keeps_bytes_and_times(
    system: System, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    user = await sign_up(api, plan="premium")
    env = remote_env(
        f"{system.gateway}/remote.php/dav/files/{user.username}/", user.username, await app_password(api, user.token)
    )
    up, down = tmp_path / "up", tmp_path / "down"
    make_tree(up, small=60, large_bytes=6 * 1024 * 1024)

    done = rclone(env, "sync", str(up), "dav:tree")
    assert done.returncode == 0, done.stderr
    done = rclone(env, "sync", "dav:tree", str(down))
    assert done.returncode == 0, done.stderr
    assert tree_facts(down) == tree_facts(up)

    # The server's checksums and times are what rclone compares: a second sync moves nothing.
    done = rclone(env, "check", str(up), "dav:tree")
    assert done.returncode == 0, done.stderr

    # A change on the server (through the API: a new version of one document) shows in the next sync.
    changed = b"changed on the server\n"
    put = await api.request(
        "PUT", f"/remote.php/dav/files/{user.username}/tree/dir0/file 0000.txt", content=changed, headers=user.auth
    )
    assert put.status_code == 204, put.text
    done = rclone(env, "sync", "dav:tree", str(down))
    assert done.returncode == 0, done.stderr
    assert (down / "dir0" / "file 0000.txt").read_bytes() == changed


async def test_over_quota_put_fails_cleanly(system: System, api: httpx.AsyncClient, tmp_path: Path) -> None:
    user = await sign_up(api)  # Free: the test system's cap is 1,000,000 bytes
    env = remote_env(
        f"{system.gateway}/remote.php/dav/files/{user.username}/", user.username, await app_password(api, user.token)
    )
    (tmp_path / "big.bin").write_bytes(os.urandom(1_200_000))
    done = rclone(env, "copy", str(tmp_path), "dav:full")
    assert done.returncode != 0
    assert "507" in done.stderr or "Insufficient Storage" in done.stderr, done.stderr
    listing = await api.get("/v1/documents", headers=user.auth)
    assert listing.json()["items"] == []
    usage = await api.get("/v1/usage", headers=user.auth)
    assert usage.json()["used_bytes"] == 0 and usage.json()["reserved_bytes"] == 0
